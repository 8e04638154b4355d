// tend / PM2 ecosystem file for the agentic-sdlc example (dev/pilot, not production).
//
//   tend start pm2/ecosystem.dev.config.js      (from the example's root folder)
//
// Six Node.js apps (the seed's process table) plus, when the binaries are
// installed, the infrastructure they need: redis on 127.0.0.1:6380 and PostgreSQL
// on 127.0.0.1:5433, with their data in .data/. TEND_INFRA=off in the environment
// leaves the infrastructure out (bring your own, e.g. docker-compose up -d redis postgres).
//
// depends_on, readiness, liveness, required_env, ports and data are tend options; PM2
// ignores them (the scripts still work under PM2: run-postgres.sh waits for the init).
//
// This file only reads the disk (fs is read-only when tend evaluates it).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const logs = (name) => ({
  out_file: path.join(root, 'scripts', 'logs', `${name}-out.log`),
  error_file: path.join(root, 'scripts', 'logs', `${name}-error.log`),
});

// ---- Environment -----------------------------------------------------------
// For DATABASE_URL, REDIS_URL and ANTHROPIC_API_KEY: your shell wins, then the
// .env file, then the dev defaults below (ANTHROPIC_API_KEY has none).
const envPath = path.join(root, '.env');
const hasEnvFile = fs.existsSync(envPath);
const dotenvKeys = hasEnvFile
  ? fs
      .readFileSync(envPath, 'utf8')
      .split('\n')
      .map((line) => line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=/))
      .filter(Boolean)
      .map((m) => m[1])
  : [];
const setting = (key, devDefault) => {
  if (process.env[key]) return { [key]: process.env[key] };
  if (dotenvKeys.includes(key) || devDefault === undefined) return {}; // from env_file, or unset
  return { [key]: devDefault };
};

// ANTHROPIC_API_KEY (and anything else) may live in .env: the apps load it when it exists.
const envFile = hasEnvFile ? { env_file: envPath } : {};

const sharedEnv = {
  NODE_ENV: 'development',
  ...setting('REDIS_URL', 'redis://localhost:6380'),
  ...setting('DATABASE_URL', 'postgresql://agentic:agentic_dev@localhost:5433/agentic_sdlc'),
  ...setting('ANTHROPIC_API_KEY'),
};

// --env production: the apps on a cluster, one per container (tend export
// kubernetes|ecs|compose|nomad --env production, see docs/production.md in the
// tend repository): they listen on every address, and the orchestrator reaches
// each agent by its service name.
const productionEnv = { NODE_ENV: 'production', HOST: '0.0.0.0' };
const agentURLs = [['scaffold', 3101], ['validation', 3102], ['e2e', 3103], ['integration', 3104], ['deployment', 3105]]
  .map(([stage, port]) => `agent-${stage}:${port}`)
  .join(',');

const restartPolicy = {
  cwd: root,
  autorestart: true,
  max_restarts: 10,
  min_uptime: '10s',
  restart_delay: 4000,
  watch: false,
};

// ---- Infrastructure: found on this machine, or off ----------------------------
const infraOn = (process.env.TEND_INFRA || '').toLowerCase() !== 'off';

function onPath(bin) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, bin))) return path.join(dir, bin);
  }
  return null;
}

// redis-server: /usr/bin/redis-server, else the first on PATH.
const redisServer = ['/usr/bin/redis-server', onPath('redis-server')].find((p) => p && fs.existsSync(p));
const redisCli = redisServer && [path.join(path.dirname(redisServer), 'redis-cli'), onPath('redis-cli')].find((p) => p && fs.existsSync(p));

// PostgreSQL: the newest /usr/lib/postgresql/<version>/bin (Debian, Ubuntu), else
// the folder of the initdb on PATH (symlinks followed).
const pgTools = ['initdb', 'pg_ctl', 'postgres', 'createdb', 'pg_isready'];
const isPgBin = (dir) => pgTools.every((t) => fs.existsSync(path.join(dir, t)));
function findPgBin() {
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const newest = fs
      .readdirSync(base)
      .filter((v) => /^\d+(\.\d+)?$/.test(v) && isPgBin(path.join(base, v, 'bin')))
      .sort((a, b) => parseFloat(b) - parseFloat(a))[0];
    if (newest) return path.join(base, newest, 'bin');
  }
  const initdb = onPath('initdb');
  const dir = initdb && path.dirname(fs.realpathSync(initdb));
  return dir && isPgBin(dir) ? dir : null;
}
const pgBin = findPgBin();

const withRedis = infraOn && Boolean(redisServer && redisCli);
const withPostgres = infraOn && Boolean(pgBin);

const redisDir = path.join(root, '.data', 'redis');
const pgEnv = { PG_BIN: pgBin, PGDATA: path.join(root, '.data', 'postgres'), PGPORT: '5433' };

const infra = [];
if (withRedis) {
  infra.push({
    name: 'redis',
    // The wrapper creates .data/redis, then execs redis-server with these args.
    script: 'scripts/run-redis.sh',
    interpreter: 'bash',
    args: ['--port', '6380', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
    env: { REDIS_SERVER: redisServer, REDIS_DIR: redisDir },
    ...restartPolicy,
    ports: [6380],
    data: [redisDir], // tend export: a persistent volume (PVC, named volume)
    readiness: { exec: `${redisCli} -p 6380 ping`, interval: '1s', timeout: '2s', failure_threshold: 3, start_period: '0s' },
    liveness: { exec: `${redisCli} -p 6380 ping`, interval: '1s', timeout: '2s', failure_threshold: 3 },
    ...logs('redis'),
  });
}
if (withPostgres) {
  infra.push(
    {
      name: 'postgres-init',
      // One-shot: initdb + createdb agentic_sdlc on the first start, then exit 0.
      script: 'scripts/pg-init.sh',
      interpreter: 'bash',
      cwd: root,
      autorestart: false,
      env: pgEnv,
      data: [pgEnv.PGDATA],
      ...logs('postgres-init'),
    },
    {
      name: 'postgres',
      script: 'scripts/run-postgres.sh',
      interpreter: 'bash',
      env: pgEnv,
      ...restartPolicy,
      kill_timeout: 10000, // SIGINT (tend's default kill_signal) is PostgreSQL's fast shutdown
      depends_on: { 'postgres-init': 'completed' },
      ports: [5433],
      data: [pgEnv.PGDATA],
      // -U/-d: a probe as a role that exists, so the server logs no "role does not exist" every second
      readiness: { exec: `${path.join(pgBin, 'pg_isready')} -h 127.0.0.1 -p 5433 -U agentic -d agentic_sdlc`, interval: '1s', timeout: '2s' },
      ...logs('postgres'),
    },
  );
}

// ---- The seed's process table ---------------------------------------------------
const agent = (stage, port) => ({
  name: `agent-${stage}`,
  script: `packages/agents/${stage}-agent/dist/run-agent.js`,
  ...restartPolicy,
  max_memory_restart: '512M',
  ...envFile,
  env: { ...sharedEnv, AGENT_PORT: String(port) },
  env_production: productionEnv,
  required_env: ['DATABASE_URL', 'REDIS_URL'],
  ports: [port],
  readiness: { tcp: `127.0.0.1:${port}` },
  ...logs(`${stage}-agent`),
});

const orchestratorDeps = {
  ...(withRedis ? { redis: 'healthy' } : {}),
  ...(withPostgres ? { postgres: 'healthy' } : {}),
};

// The seed's apps first (orchestrator is id 0 with or without infrastructure),
// then the infrastructure; under tend, depends_on orders the starts.
const apps = [
  {
    name: 'orchestrator',
    script: 'packages/orchestrator/dist/server.js',
    ...restartPolicy,
    max_memory_restart: '1G',
    ...envFile,
    env: { ...sharedEnv, PORT: '3000' },
    env_production: { ...productionEnv, AGENT_URLS: agentURLs },
    ...(Object.keys(orchestratorDeps).length ? { depends_on: orchestratorDeps } : {}),
    required_env: ['DATABASE_URL', 'REDIS_URL', 'ANTHROPIC_API_KEY'],
    ports: [3000],
    readiness: { http: 'http://127.0.0.1:3000/health', interval: '2s', timeout: '1s' },
    liveness: { http: 'http://127.0.0.1:3000/health', interval: '2s', timeout: '1s', failure_threshold: 3 },
    ...logs('orchestrator'),
  },
  agent('scaffold', 3101),
  agent('validation', 3102),
  agent('e2e', 3103),
  agent('integration', 3104),
  agent('deployment', 3105),
  ...infra,
];

module.exports = { apps };
