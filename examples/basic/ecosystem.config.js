// A small environment: a web server and a worker that writes a line every
// second. Try: tend start, tend ls, tend logs, tend restart worker, tend kill.
module.exports = {
  apps: [
    {
      name: 'web',
      script: 'python3',
      args: '-m http.server 8099 --bind 127.0.0.1',
      cwd: __dirname,
      max_memory_restart: '200M',
    },
    {
      name: 'worker',
      script: './worker.sh', // relative to cwd, as in PM2
      cwd: __dirname,
      time: true,
      max_restarts: 10,
      min_uptime: '10s',
      restart_delay: 4000,
      env: { JOB: 'tick' },
    },
  ],
};
