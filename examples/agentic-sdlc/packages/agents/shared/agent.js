// Example workload for tend's agentic-sdlc example (not a real agent): the one
// implementation behind every packages/agents/<name>-agent/dist/run-agent.js.
// An HTTP server on $HOST:$AGENT_PORT (HOST defaults to 127.0.0.1).
//   POST /run   {run, stage} -> pretends to work for a short random time, answers JSON
//   GET /health -> 200 {"status":"ok"}
// SIGINT/SIGTERM: logs "shutting down", closes the server, exits 0.
'use strict';
const http = require('http');

function send(res, code, body) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function start({ name, stage, defaultPort }) {
  const port = Number(process.env.AGENT_PORT || defaultPort);
  const log = (msg) => console.log(`[${name}] ${msg}`);
  let busy = 0;

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      return send(res, 200, { status: 'ok', agent: name, busy });
    }
    if (req.method === 'POST' && req.url === '/run') {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        let job;
        try {
          job = JSON.parse(raw || '{}');
        } catch {
          return send(res, 400, { error: 'body must be JSON: {"run": N, "stage": "..."}' });
        }
        const run = job.run ?? '?';
        const ms = 50 + Math.floor(Math.random() * 450); // the "work"
        busy++;
        log(`run ${run}: ${job.stage || stage} started`);
        setTimeout(() => {
          busy--;
          log(`run ${run}: ${job.stage || stage} done in ${ms}ms`);
          send(res, 200, { agent: name, run, stage: job.stage || stage, status: 'done', ms });
        }, ms);
      });
      return;
    }
    send(res, 404, { error: 'not found' });
  });

  server.on('error', (err) => {
    console.error(`[${name}] cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
  const host = process.env.HOST || '127.0.0.1';
  server.listen(port, host, () => log(`listening on ${host}:${port} (pid ${process.pid})`));

  const shutdown = (sig) => {
    log(`${sig}: shutting down`);
    server.close(() => process.exit(0)); // lets a /run in progress finish
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

module.exports = { start };
