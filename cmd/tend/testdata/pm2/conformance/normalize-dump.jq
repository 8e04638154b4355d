# The apps of PM2's dump.pm2 (one entry per process), reduced to the
# options TestConformance compares, one entry per app with the number of
# processes the dump brings back (dumpApps in conformance_test.go reduces
# tend's dump.json, one entry per app, the same way).
[.[] | (.pm2_env // .)] | group_by(.name) | map({
  name: .[0].name,
  namespace: (.[0].namespace // "default"),
  exec_mode: .[0].exec_mode,
  autorestart: .[0].autorestart,
  NODE_ENV: (.[0].env.NODE_ENV // .[0].NODE_ENV),
  processes: length,
})
