// Example workload for tend's agentic-sdlc example (a stand-in for a compiled
// orchestrator; node built-ins only).
// An HTTP server on $HOST:$PORT (default 127.0.0.1:3000):
//   GET /health -> 200 {"status":"ok", ...} (says whether REDIS_URL / DATABASE_URL
//                  are set, never their values)
// and a pipeline: every PIPELINE_INTERVAL_MS (default 5000) it starts run N and
// hands the stages, one at a time, to the agents over HTTP
// (POST http://127.0.0.1:<agent port>/run {run, stage}; AGENT_URLS=host:port,... in
// stage order names them elsewhere, e.g. one Service per agent in Kubernetes).
// An agent that does not answer: a warning on stderr, and the next round tries again.
// SIGINT/SIGTERM: logs "shutting down", closes the server, exits 0.
'use strict';
const http = require('http');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const INTERVAL = Number(process.env.PIPELINE_INTERVAL_MS || 5000);
// AGENT_PORTS=3101,3102,3103,3104,3105 overrides the agents' ports, in stage order.
const ports = (process.env.AGENT_PORTS || '3101,3102,3103,3104,3105').split(',').map(Number);
// AGENT_URLS=agent-scaffold:3101,... names each agent's host and port, in stage order.
const urls = (process.env.AGENT_URLS || '').split(',').filter(Boolean);
const STAGES = ['scaffold', 'validation', 'e2e', 'integration', 'deployment'].map((stage, i) => {
  const [host, port] = urls[i] ? urls[i].split(':') : ['127.0.0.1', ports[i]];
  return { stage, agent: `${stage}-agent`, host, port: Number(port) };
});

const log = (msg) => console.log(`[orchestrator] ${msg}`);
const warn = (msg) => console.error(`[orchestrator] WARN ${msg}`);

let run = 0;
let completed = 0;
let last = null; // {run, status, at}
let timer = null;
let stopping = false;

function post(host, port, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      {
        host,
        port,
        path: '/run',
        method: 'POST',
        agent: false, // no keep-alive: agents can stop at once
        timeout: 10000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let raw = '';
        res.on('data', (c) => (raw += c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          try {
            resolve(JSON.parse(raw));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(data);
  });
}

async function pipeline() {
  const n = ++run;
  const t0 = Date.now();
  log(`run ${n}: started`);
  for (const { stage, agent, host, port } of STAGES) {
    if (stopping) return;
    log(`run ${n}: ${stage} -> ${agent} (${host}:${port})`);
    const t = Date.now();
    try {
      await post(host, port, { run: n, stage });
    } catch (err) {
      warn(`run ${n}: ${agent} unreachable on ${host}:${port} (${err.code || err.message}); retrying next round`);
      last = { run: n, status: `failed at ${stage}`, at: new Date().toISOString() };
      return;
    }
    log(`run ${n}: ${stage} done in ${Date.now() - t}ms`);
  }
  completed++;
  last = { run: n, status: 'done', at: new Date().toISOString() };
  log(`run ${n}: all ${STAGES.length} stages done in ${Date.now() - t0}ms`);
}

function loop() {
  pipeline()
    .catch((err) => warn(`pipeline: ${err.stack || err}`))
    .finally(() => {
      if (!stopping) timer = setTimeout(loop, INTERVAL);
    });
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(
      JSON.stringify({
        status: 'ok',
        redis_url_set: Boolean(process.env.REDIS_URL),
        database_url_set: Boolean(process.env.DATABASE_URL),
        runs_started: run,
        runs_completed: completed,
        last_run: last,
      }),
    );
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'not found' }));
});

server.on('error', (err) => {
  console.error(`[orchestrator] cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  log(`listening on ${HOST}:${PORT} (pid ${process.pid}, NODE_ENV=${process.env.NODE_ENV || 'unset'})`);
  log(`REDIS_URL ${process.env.REDIS_URL ? 'set' : 'NOT set'}, DATABASE_URL ${process.env.DATABASE_URL ? 'set' : 'NOT set'}`);
  log(`pipeline every ${INTERVAL}ms: ${STAGES.map((s) => s.stage).join(' -> ')}`);
  loop();
});

function shutdown(sig) {
  if (stopping) return;
  stopping = true;
  log(`${sig}: shutting down`);
  clearTimeout(timer);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
