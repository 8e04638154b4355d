// PM2's own client, unmodified, against tend's daemon: require('pm2') and
// PM2's CLI with PM2_HOME=$TEND_HOME. Run by pm2api_test.go, once per pm2
// version (PM2_PKG), with a fresh daemon; the tests run in order and share it.
'use strict';
const nodeTest = require('node:test');
// Each test ends within 60 s (a hang fails the test, not the whole run).
const test = (name, fn) => nodeTest(name, { timeout: 60000 }, fn);
test.after = nodeTest.after;
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');

const HOME = process.env.PM2_HOME;
const TEND = process.env.TEND_BIN;
const PKG = process.env.PM2_PKG; // node_modules/pm2 or node_modules/pm2v5
assert.ok(HOME && TEND && PKG, 'run me from pm2api_test.go');
assert.strictEqual(process.env.TEND_HOME, HOME);
process.chdir(__dirname);

const pm2 = require(PKG);
const subs = [];
const launchBus = pm2.Client.launchBus.bind(pm2.Client);
pm2.Client.launchBus = (cb) =>
  launchBus((err, bus, sock) => {
    if (sock) subs.push(sock);
    cb(err, bus, sock);
  });
const PM2_CLI = path.join(PKG, 'bin', 'pm2');
const TICK = path.join(__dirname, 'apps', 'tick.js');

// call runs a pm2 API method with a callback as a promise.
function call(method, ...args) {
  return new Promise((resolve, reject) => {
    pm2[method](...args, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function waitFor(what, fn, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last && (last.stack || JSON.stringify(last))})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function procs(name) {
  const list = await call('list');
  return name ? list.filter((p) => p.name === name) : list;
}

async function status(name) {
  const ps = await procs(name);
  return ps.length ? ps[0].pm2_env.status : 'absent';
}

function pm2cli(...args) {
  return execFileSync(process.execPath, [PM2_CLI, ...args], {
    env: { ...process.env, PM2_PROGRAMMATIC: '' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30000,
  });
}

// The bus: every event kept, to wait on.
const events = [];
let bus;
function seen(topic, pred) {
  return events.find((e) => e.topic === topic && pred(e.data));
}

test('connect finds tend without spawning a daemon', async () => {
  const meta = await call('connect');
  assert.strictEqual(meta.new_pm2_instance, false);
  assert.ok(!fs.existsSync(path.join(HOME, 'pm2.pid')), 'PM2 wrote pm2.pid: it spawned its own daemon');
});

test('launchBus connects to pub.sock', async () => {
  bus = await new Promise((resolve, reject) => pm2.launchBus((err, b) => (err ? reject(err) : resolve(b))));
  for (const topic of ['log:out', 'log:err', 'process:event', 'process:msg', 'pm2:kill', 'axm:reply']) {
    bus.on(topic, (data) => events.push({ topic, data }));
  }
});

test('list is empty at first', async () => {
  assert.deepStrictEqual(await procs(), []);
});

test('start a script', async () => {
  const res = await call('start', TICK, { name: 'script1' });
  assert.ok(Array.isArray(res) && res.length === 1, JSON.stringify(res));
  assert.strictEqual(res[0].pm2_env.name, 'script1');
  await waitFor('script1 online', async () => (await status('script1')) === 'online');
});

test('start an options object', async () => {
  await call('start', { script: TICK, name: 'obj1', env: { GREETING: 'hi' } });
  await waitFor('obj1 online', async () => (await status('obj1')) === 'online');
  const [p] = await procs('obj1');
  assert.strictEqual(p.pm2_env.env.GREETING, 'hi');
  assert.strictEqual(p.pm2_env.pm_exec_path, TICK);
});

test('start an ecosystem file and a JSON file', async () => {
  await call('start', 'eco.config.js');
  await call('start', path.join(__dirname, 'apps.json'));
  await waitFor('eco and json1 online', async () => (await status('eco')) === 'online' && (await status('json1')) === 'online');
  const [p] = await procs('eco');
  assert.strictEqual(p.pm2_env.env.GREETING, 'from-eco');
});

test('describe', async () => {
  const d = await call('describe', 'obj1');
  assert.strictEqual(d.length, 1);
  assert.strictEqual(d[0].pm2_env.name, 'obj1');
  assert.ok(d[0].pid > 0);
  assert.ok(Array.isArray(d[0].pm2_env.axm_actions));
});

test('log:out on the bus', async () => {
  await waitFor('a log:out line of script1', () =>
    seen('log:out', (d) => d.process.name === 'script1' && /^tick \d+/.test(d.data) && typeof d.at === 'number'));
});

test('stop, restart and the process events', async () => {
  const stopped = await call('stop', 'script1');
  assert.strictEqual(stopped[0].status, 'stopped');
  assert.strictEqual(await status('script1'), 'stopped');
  await waitFor('process:event exit and stop', () =>
    seen('process:event', (d) => d.process.name === 'script1' && d.event === 'exit') &&
    seen('process:event', (d) => d.process.name === 'script1' && d.event === 'stop' && d.manually === true));
  const before = (await procs('script1'))[0].pm2_env.restart_time;
  await call('restart', 'script1');
  await waitFor('script1 online again', async () => (await status('script1')) === 'online');
  assert.ok((await procs('script1'))[0].pm2_env.restart_time > before);
  await waitFor('process:event online and restart', () =>
    seen('process:event', (d) => d.process.name === 'script1' && d.event === 'online') &&
    seen('process:event', (d) => d.process.name === 'script1' && d.event === 'restart'));
});

test('reload', async () => {
  const pid = (await procs('obj1'))[0].pid;
  await call('reload', 'obj1');
  await waitFor('obj1 reloaded', async () => {
    const [p] = await procs('obj1');
    return p.pm2_env.status === 'online' && p.pid !== pid;
  });
  await waitFor('process:event reload', () => seen('process:event', (d) => d.process.name === 'obj1' && d.event === 'reload'));
});

test('restart with updateEnv gives the app the caller\'s environment', async () => {
  process.env.TEND_UPDATE_ENV_CHECK = 'yes';
  await call('restart', 'script1', { updateEnv: true });
  delete process.env.TEND_UPDATE_ENV_CHECK;
  await waitFor('script1 online', async () => (await status('script1')) === 'online');
  assert.strictEqual((await procs('script1'))[0].pm2_env.env.TEND_UPDATE_ENV_CHECK, 'yes');
  await call('restart', 'obj1');
  assert.strictEqual((await procs('obj1'))[0].pm2_env.env.TEND_UPDATE_ENV_CHECK, undefined);
});

test('reset', async () => {
  assert.ok((await procs('script1'))[0].pm2_env.restart_time > 0);
  await call('reset', 'script1');
  assert.strictEqual((await procs('script1'))[0].pm2_env.restart_time, 0);
});

test('scale up and down', async () => {
  await call('scale', 'obj1', 3);
  await waitFor('3 instances of obj1', async () => (await procs('obj1')).filter((p) => p.pm2_env.status === 'online').length === 3);
  await call('scale', 'obj1', 1);
  await waitFor('1 instance of obj1', async () => (await procs('obj1')).length === 1);
});

// A process that did not set its SIGUSR2 handler yet would die of it: wait
// for a line of the running one first.
async function ticking(name) {
  const [p] = await procs(name);
  await waitFor(`a tick of ${name} pid ${p.pid}`, () => seen('log:out', (d) => d.process.name === name && d.data.includes(`pid ${p.pid}\n`)));
}

test('sendSignalToProcessName reaches the app (log:err)', async () => {
  await ticking('script1');
  await call('sendSignalToProcessName', 'SIGUSR2', 'script1');
  await waitFor('got SIGUSR2 on log:err', () => seen('log:err', (d) => d.process.name === 'script1' && /got SIGUSR2/.test(d.data)));
});

test("tend's sendSignal and env --pm2", async () => {
  await ticking('script1');
  execFileSync(TEND, ['sendSignal', 'USR2', 'script1'], { encoding: 'utf8' });
  await waitFor('a second got SIGUSR2', () =>
    events.filter((e) => e.topic === 'log:err' && e.data.process.name === 'script1' && /got SIGUSR2/.test(e.data.data)).length >= 2);
  assert.strictEqual(execFileSync(TEND, ['env', '--pm2'], { encoding: 'utf8' }), `export PM2_HOME=${HOME}\n`);
});

test('sendDataToProcessId reaches the app, process:msg comes back', async () => {
  await ticking('script1');
  const [p] = await procs('script1');
  const res = await call('sendDataToProcessId', p.pm_id, { topic: 'greet', data: { n: 7 } });
  assert.strictEqual(res.success, true);
  await waitFor('the echo on process:msg', () =>
    seen('process:msg', (d) => d.process.name === 'script1' && d.data && d.data.echo && d.data.echo.n === 7 && d.data.topic === 'greet'));
  await call('sendDataToProcessId', { id: p.pm_id, topic: 'raw', data: { raw: true } });
  await waitFor('a raw process:msg', () => seen('process:msg', (d) => d.process.name === 'script1' && d.raw === 'raw hello from script1'));
  await assert.rejects(call('sendDataToProcessId', p.pm_id, { data: 1 }), /TOPIC field is missing/);
});

test('sendLineToStdin reaches the app (log:err), by the API and by PM2\'s send', async () => {
  await ticking('script1');
  const [p] = await procs('script1');
  await new Promise((resolve, reject) => pm2.sendLineToStdin(p.pm_id, 'from the api', (err) => (err ? reject(err) : resolve())));
  await waitFor('the line on log:err', () => seen('log:err', (d) => d.process.name === 'script1' && /stdin: from the api/.test(d.data)));
  pm2cli('send', String(p.pm_id), 'from the cli');
  await waitFor('the cli line on log:err', () => seen('log:err', (d) => d.process.name === 'script1' && /stdin: from the cli/.test(d.data)));
});

test('@pm2/io: metrics in axm_monitor, actions in axm_actions, trigger', async () => {
  await call('start', { script: path.join(__dirname, 'apps', 'io.js'), name: 'io1' });
  const p = await waitFor('axm_monitor and axm_actions of io1', async () => {
    const [p] = await procs('io1');
    const m = p && p.pm2_env.axm_monitor['queue size'];
    return m && m.value === 42 && p.pm2_env.axm_actions.some((a) => a.action_name === 'echo') && p;
  });
  assert.ok(p.pm2_env.axm_actions.some((a) => a.action_name === 'ping'));
  const res = await call('trigger', 'io1', 'ping');
  assert.deepStrictEqual(res[0].data.return, { pong: true });
  const res2 = await call('trigger', 'io1', 'echo', 'hello');
  assert.deepStrictEqual(res2[0].data.return, { got: 'hello' });
  await assert.rejects(call('trigger', 'io1', 'nope'), /Unknown process/); // PM2's answer: no process has it
  // tend's own CLI sees the same.
  const out = execFileSync(TEND, ['trigger', 'io1', 'echo', 'from-tend'], { encoding: 'utf8', timeout: 30000 });
  assert.match(out, /\[io1:\d+\]=\{"got":"from-tend"\}/);
  const desc = execFileSync(TEND, ['describe', 'io1'], { encoding: 'utf8' });
  assert.match(desc, /queue size\s.*42/);
  const jl = JSON.parse(execFileSync(TEND, ['jlist'], { encoding: 'utf8' }));
  assert.strictEqual(jl.find((x) => x.name === 'io1').pm2_env.axm_monitor['queue size'].value, 42);
  // And Prometheus.
  const prom = await (await fetch(process.env.METRICS_URL)).text();
  assert.match(prom, /tend_process_app_metric\{metric="queue size",name="io1",namespace="default",pm_id="\d+",unit=""\} 42\n/);
});

test('dump writes PM2 dump file from tend list', async () => {
  await call('dump');
  const dump = JSON.parse(fs.readFileSync(path.join(HOME, 'dump.pm2'), 'utf8'));
  const names = dump.map((a) => a.name);
  for (const n of ['script1', 'obj1', 'eco', 'json1', 'io1']) assert.ok(names.includes(n), names.join(','));
});

test('flush empties the log files', async () => {
  await call('stop', 'json1');
  const [p] = await procs('json1');
  assert.ok(fs.statSync(p.pm2_env.pm_out_log_path).size > 0);
  await call('flush', 'json1');
  assert.strictEqual(fs.statSync(p.pm2_env.pm_out_log_path).size, 0);
});

test('reloadLogs', async () => {
  await call('reloadLogs');
});

test('delete', async () => {
  await call('delete', 'json1');
  assert.strictEqual(await status('json1'), 'absent');
  await waitFor('process:event delete', () => seen('process:event', (d) => d.process.name === 'json1' && d.event === 'delete'));
});

test('methods tend does not serve get an error that says why', async () => {
  const r = (m) => new Promise((resolve) => pm2.Client.executeRemote(m, {}, (err) => resolve(err)));
  assert.match(String(await r('getSystemData')), /tend does not/);
  assert.match(String(await r('noSuchMethod')), /does not exist/);
});

test("PM2's CLI: ls, jlist, describe, stop, restart, logs", async () => {
  const ls = pm2cli('ls');
  assert.doesNotMatch(ls, /out-of-date/); // getVersion answers the caller's own version
  for (const n of ['script1', 'obj1', 'eco', 'io1']) assert.match(ls, new RegExp(n));
  const jl = JSON.parse(pm2cli('jlist'));
  assert.ok(jl.some((p) => p.name === 'eco' && p.pm2_env.status === 'online'));
  assert.match(pm2cli('describe', 'eco').replace(/\x1b\[[0-9;]*m/g, ''), /status\s*│\s*online/);
  pm2cli('stop', 'eco');
  assert.strictEqual(await status('eco'), 'stopped');
  pm2cli('restart', 'eco');
  await waitFor('eco online', async () => (await status('eco')) === 'online');
  assert.match(pm2cli('logs', 'eco', '--nostream', '--lines', '5'), /tick \d+ from-eco/);
  // Streaming logs come over the bus.
  const child = spawn(process.execPath, [PM2_CLI, 'logs', 'eco', '--raw', '--lines', '0'], { env: { ...process.env, PM2_PROGRAMMATIC: '' } });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  try {
    await waitFor('a streamed line', () => /tick \d+ from-eco/.test(out));
  } finally {
    child.kill();
  }
});

test('disconnect, connect again', async () => {
  for (const s of subs.splice(0)) if (s !== pm2.Client.sub_sock) s.close(); // the buses pm2.trigger left
  await call('disconnect');
  const meta = await call('connect');
  assert.strictEqual(meta.new_pm2_instance, false);
  bus = await new Promise((resolve, reject) => pm2.launchBus((err, b) => (err ? reject(err) : resolve(b))));
  bus.on('pm2:kill', (data) => events.push({ topic: 'pm2:kill', data }));
});

test('killDaemon: pm2:kill on the bus, tend stops', async () => {
  await call('killDaemon');
  await waitFor('pm2:kill', () => seen('pm2:kill', (d) => d.status === 'killed'));
  await waitFor('tend.sock gone', () => !fs.existsSync(path.join(HOME, 'tend.sock')));
});


// Every bus PM2's client opened (pm2.trigger opens one per call) keeps
// reconnecting once the daemon is gone: close them all at the end.
test.after(() => {
  for (const s of subs) if (!s.closing) s.close();
  const t = setTimeout(() => {
    console.error('still open:', process.getActiveResourcesInfo());
    process.exit(1);
  }, 15000);
  t.unref();
});

test('no PM2 daemon was ever started', () => {
  assert.ok(!fs.existsSync(path.join(HOME, 'pm2.pid')));
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    assert.ok(!(cmd.startsWith('PM2 v') && cmd.includes(HOME)), `a PM2 daemon runs: ${cmd}`);
    assert.ok(!(cmd.includes('/lib/Daemon.js') && cmd.includes(PKG)), `a PM2 daemon runs: ${cmd}`);
  }
});
