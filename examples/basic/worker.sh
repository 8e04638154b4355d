#!/bin/sh
# A stand-in for a queue worker: one line of work a second.
n=0
while true; do
  n=$((n + 1))
  echo "worker: $JOB $n"
  sleep 1
done
