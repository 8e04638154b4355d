#!/usr/bin/env node
// Writes cases.gen.txt: conformance cases generated from PM2 7.0.4's own
// command-line definitions (the commander program of lib/binaries/CLI.js),
// so that every command, alias and option PM2 declares is run against PM2
// (record.sh) and tend (TestConformance). Run by record.sh; PM2 must be
// installed in /tmp/pm2ref (record.sh installs it).
//
// CLI.js connects to a daemon and parses process.argv when it is loaded: the
// generator loads it with a stand-in for lib/API.js whose methods do nothing,
// so no daemon starts and no command runs, then reads the definitions.
'use strict';
const Module = require('module');
const path = require('path');
const fs = require('fs');

const root = process.env.PM2_ROOT || '/tmp/pm2ref/node_modules/pm2';
const cli = path.join(root, 'lib/binaries/CLI.js');
const load = Module._load;
Module._load = function (req, parent) {
  if (parent && parent.filename === cli && req === '../API.js') {
    return function () { return new Proxy({}, { get: () => function () {} }); };
  }
  return load.apply(this, arguments);
};
process.argv = ['node', 'pm2', 'generate-cases'];
require(cli);
const program = require(require.resolve('commander', { paths: [root] }));

// Commands and options not run, and why: they need a network, PM2 Plus,
// docker or a terminal, write system files, or never return.
const skipCommands = {
  'deploy': 'needs ssh hosts; deploy is tested end to end against a local sshd (deploy_*.txtar)',
  'attach': 'reads the terminal until interrupted',
  'install': 'downloads the module from npm',
  'module:update': 'downloads the module from npm',
  'module:generate': 'clones a sample module from GitHub',
  'package': 'packs a module folder with npm',
  'publish': 'publishes to npm',
  'updatePM2': 'installs PM2 itself with npm',
  'deepUpdate': 'installs PM2 itself with npm',
  'install-otel': 'downloads OpenTelemetry packages from npm',
  'link': 'connects to PM2 Plus (app.pm2.io)',
  'plus': 'connects to PM2 Plus (app.pm2.io)',
  'login': 'connects to PM2 Plus (app.pm2.io)',
  'logout': 'connects to PM2 Plus (app.pm2.io)',
  'open': 'opens a browser on PM2 Plus',
  'monit': 'a full-screen terminal interface',
  'imonit': 'a full-screen terminal interface',
  'dashboard': 'a full-screen terminal interface',
  'startup': 'writes system init files',
  'unstartup': 'removes system init files',
  'logrotate': 'writes /etc/logrotate.d',
  'create': 'asks on the terminal which sample app to copy',
  'profile:mem': 'runs for the whole profiling time',
  'profile:cpu': 'runs for the whole profiling time',
  '*': 'the catch-all, checked with unknown verbs below',
};
const skipOptions = {
  '--no-daemon': 'runs the daemon in the foreground: the command never returns',
  '--attach': 'streams the logs until interrupted',
  '--container': 'runs docker',
};

// A sensible value for each option that takes one.
const values = {
  '--ext': 'js', '--name': 'web', '--interpreter': 'node',
  '--interpreter-args': '=--max-old-space-size=100', '--node-args': '=--max-old-space-size=100',
  '--output': 'out.log', '--error': 'err.log', '--log': 'all.log', '--filter-env': 'HOME',
  '--log-type': 'json', '--log-date-format': '"YYYY-MM-DD HH:mm"', '--env': 'production',
  '--instances': '2', '--parallel': '2', '--pid': 'o.pid', '--kill-timeout': '3000',
  '--listen-timeout': '500', '--max-memory-restart': '300M', '--restart-delay': '100',
  '--exp-backoff-restart-delay': '100', '--max-restarts': '4', '--user': 'root', '--uid': '0',
  '--gid': '0', '--namespace': 'backend', '--cwd': 'src', '--hp': '/tmp', '--service-name': 'svc',
  '--cron': '"0 3 * * *"', '--cron-restart': '"0 3 * * *"', '--only': 'api', '--watch': 'src',
  '--ignore-watch': 'node_modules', '--watch-delay': '2', '--stop-exit-codes': '0',
  '--sort': 'name:desc', '--image-name': 'img', '--node-version': '20', '--lines': '5',
  '--timestamp': '"HH:mm"', '--highlight': 'x', '--port': '@PORT', '--basic-auth-username': 'u',
  '--basic-auth-password': 'p', '--monitor': 'front', '--safe': '1', '--info-node': 'http://127.0.0.1:1',
};

const out = [];
const seen = new Set();
// serve's port: one per case (cases run side by side), from its name, so
// that it stays the same when cases are added or left out
const ports = new Set();
function portOf(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  let p = 20000 + (h % 20000);
  while (ports.has(p)) p++;
  ports.add(p);
  return p;
}
function emit(name, lines) {
  name = 'g_' + name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');
  while (seen.has(name)) name += '_';
  seen.add(name);
  const p = lines.some(l => l.includes('@PORT')) ? String(portOf(name)) : '';
  out.push('== ' + name, ...lines.map(l => l.replace(/@PORT/g, p)));
}

// The forms an option takes: the long and the short flag, with a value when
// it needs one, bare when the value is optional, and --no-x as declared.
function forms(o) {
  const v = values[o.long];
  const f = [];
  for (const flag of [o.long, o.short].filter(Boolean)) {
    if (o.required) f.push(v && v.startsWith('=') ? flag + v : flag + ' ' + (v || 'x').replace(/^=/, ''));
    else if (o.optional) {
      f.push(flag);
      if (v) f.push(flag + ' ' + v.replace(/^=/, ''));
    } else f.push(flag);
  }
  return f;
}

const commands = program.commands.filter(c => !skipCommands[c._name]);
const names = c => [c._name, c._alias].filter(Boolean);
const eco = 'start ecosystem.config.js';

// 1. start with every option PM2 declares (the program's and start's own):
// on a script, and with an ecosystem file.
const start = program.commands.find(c => c._name === 'start');
for (const o of [...program.options, ...start.options]) {
  if (skipOptions[o.long]) continue;
  for (const f of forms(o)) {
    const name = o.long === '--name' ? '' : ' --name o';
    emit('start_' + f, ['start app.js' + name + ' ' + f]);
    emit('start_eco_' + f, [eco + ' ' + f]);
  }
}

// 2. every command (and alias) that takes a target, on every form of target,
// with the apps of ecosystem.config.js running (api: id 0; worker: ids 1 and
// 2 in namespace jobs). stop/restart/reload/delete/reset/flush are in
// cases.txt (t_*).
const targets = { name: 'api', id: '0', all: 'all', ns: 'jobs', regex: '/^w/', file: 'ecosystem.config.js', missing: 'nothing' };
const byHand = new Set(['stop', 'restart', 'reload', 'delete', 'reset', 'flush']);
const invocation = {
  scale: t => `scale ${t} 3`,
  sendSignal: t => `sendSignal SIGWINCH ${t}`,
  trigger: t => `trigger ${t} km:nothing`,
  logs: t => `logs ${t} --nostream --lines 1`,
  send: t => `send ${t} hello`,
  pull: t => `pull ${t}`,
};
const takesTarget = c => c._name !== 'serve' && c._args.some(a => /id|name/.test(a.name));
for (const c of commands.filter(takesTarget)) {
  for (const n of names(c)) {
    if (byHand.has(n)) continue;
    for (const [form, t] of Object.entries(targets)) {
      const inv = invocation[c._name] ? invocation[c._name](t) : `${n} ${t}`;
      emit(`${n}_${form}`, [eco, inv.replace(/^\S+/, n)]);
    }
  }
}
// start on each form of target, of apps that run and of stopped apps
for (const [form, t] of Object.entries(targets)) {
  emit('start_target_' + form, [eco, 'stop all', 'start ' + t]);
}

// 3. every command and alias without a target: in an empty home and with the
// apps running; and each of their options.
const noTarget = {
  set: ['mymod:key value'], multiset: ['"mymod:a 1 mymod:b 2"'], get: ['', 'mymod:key'],
  conf: ['', 'mymod:key', 'mymod:key value'], config: ['mymod:key', 'mymod:key value'],
  unset: ['mymod:key'], uninstall: ['pm2-logrotate', 'no-such-module'], ecosystem: ['', 'simple'],
  serve: ['', '. @PORT', '--port @PORT'], pid: [''], flush: [''], logs: ['--nostream'],
  startOrRestart: ['ecosystem.config.js', 'eco.json', 'missing.config.js'],
  startOrReload: ['ecosystem.config.js', 'eco.json', 'missing.config.js'],
  startOrGracefulReload: ['ecosystem.config.js', 'eco.json', 'missing.config.js'],
  'uninstall-otel': [''], unmonitor: [''], // a bare monitor asks to log in to PM2 Plus: not run
};
for (const c of commands) {
  const bare = !c._args.length || !c._args[0].required;
  if (noTarget[c._name] || (bare && !takesTarget(c))) {
    for (const n of names(c)) {
      for (const arg of noTarget[c._name] || ['']) {
        const inv = (n + ' ' + arg).trim();
        const extra = c._name === 'serve' && !arg.includes('@PORT') ? ' --port @PORT' : '';
        emit(inv, [inv + extra]);
        emit('eco_' + inv, [eco, inv + extra]);
      }
    }
  }
  if (c._name === 'start') continue;
  for (const n of names(c)) {
    for (const o of c.options) {
      if (skipOptions[o.long]) continue;
      for (const f of forms(o)) {
        let inv = `${n} ${f}`;
        if (c._name === 'logs' && o.long !== '--nostream') inv += ' --nostream';
        if (c._name === 'serve' && o.long !== '--port') inv += ' --port @PORT';
        if (c._name === 'stop' || c._name === 'restart') inv = `${n} all ${f}`;
        emit(`opt_${n}_${f}`, [eco, inv]);
      }
    }
  }
}

// 4. save and resurrect, the dump's round trip; and what PM2 does not know
emit('save_kill_resurrect', [eco, 'save', 'kill', 'resurrect']);
emit('save_delete_resurrect', [eco, 'save', 'delete all', 'resurrect']);
emit('unknown_verb', ['nosuchverb']);
emit('unknown_verb_apps', [eco, 'nosuchverb']);

const header = [
  '# Generated by gen-cases.js from PM2 7.0.4\'s command definitions: do not edit.',
  '# Commands not run, and why:',
  ...Object.entries(skipCommands).map(([k, v]) => `#   ${k}: ${v}`),
  '# Options not run: ' + Object.entries(skipOptions).map(([k, v]) => `${k} (${v})`).join('; '),
];
fs.writeFileSync(path.join(__dirname, 'cases.gen.txt'), [...header, ...out, ''].join('\n'));
console.log(`cases.gen.txt: ${seen.size} cases`);
process.exit(0);
