// tend's dashboard: plain JavaScript, no library, no build step. State comes
// from /api/processes and /api/history once, then from the server-sent
// event stream (/api/events): process events, log lines of the selected
// processes, and "stats" samples while the page is open. Nothing polls.
'use strict';

const CSRF = document.querySelector('meta[name=csrf]').content;
const $ = (id) => document.getElementById(id);
const COLORS = ['#0969da', '#1a7f37', '#cf222e', '#8250df', '#bf8700', '#0a7480', '#bc4c00', '#6e7781'];
const MAX_LOG_LINES = 2000;

const state = {
  procs: new Map(),   // pm_id → process (the API's brief shape)
  selected: new Set(),
  hist: new Map(),    // pm_id → [{t, cpu, mem}]
  interval: 2000,
  historyLen: 180,
  deps: {},
  es: null,
  paused: false,
  lines: [],          // {id, name, stream, data}
  pending: 0,         // lines kept while paused
  changed: new Map(), // pm_id → time of its last process event
};

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}

async function api(path, body) {
  const opts = { credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-Tend-CSRF'] = CSRF;
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!r.ok) throw new Error((data && data.message) || r.status + ' ' + r.statusText);
  return data;
}

function toast(msg, bad) {
  const t = $('toast');
  t.textContent = msg;
  t.className = 'toast' + (bad ? ' bad' : '');
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 6000 : 2500);
}

// ---- formatting
function fmtBytes(b) {
  if (!b) return '0b';
  const u = ['b', 'kb', 'mb', 'gb', 'tb'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1) : b) + u[i];
}
function fmtUptime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'D';
}
const statusClass = (s) => 'st-' + String(s || '').replace(/\s+/g, '-');
const running = (s) => s === 'online' || s === 'launching' || s === 'waiting' || s === 'waiting restart';

// ---- process table
function renderTable() {
  const tbody = document.querySelector('#procs tbody');
  const rows = [];
  const now = Date.now();
  for (const p of [...state.procs.values()].sort((a, b) => a.pm_id - b.pm_id)) {
    const e = p.pm2_env;
    const id = p.pm_id;
    const sel = state.selected.has(id);
    const act = (a, label, cls) => el('button', { type: 'button', 'data-action': a, class: cls, onclick: (ev) => { ev.stopPropagation(); ask(a, p); } }, label);
    const up = e.status === 'online' && e.pm_uptime ? fmtUptime(now - e.pm_uptime) : '0';
    rows.push(el('tr', { 'data-id': id, 'data-name': p.name, class: sel ? 'selected' : '', onclick: () => select(id, false) },
      el('td', {}, el('input', { type: 'checkbox', checked: sel, 'aria-label': 'follow ' + p.name, onclick: (ev) => { ev.stopPropagation(); select(id, true); } })),
      el('td', { class: 'num' }, id),
      el('td', { class: 'name' }, p.name),
      el('td', {}, e.namespace || 'default'),
      el('td', { class: 'status ' + statusClass(e.status), title: e.waiting_for ? 'waiting for ' + e.waiting_for : (e.restart_reason || '') }, e.status),
      el('td', { class: 'health h-' + (e.health || 'none'), title: e.health_check || '' }, e.health || '—'),
      el('td', { class: 'num' }, e.restart_time),
      el('td', { class: 'num' }, up),
      el('td', { class: 'num cpu' }, (p.monit.cpu || 0) + '%'),
      el('td', { class: 'num mem' }, fmtBytes(p.monit.memory)),
      el('td', { class: 'num pid' }, p.pid || 'N/A'),
      el('td', { class: 'actions' },
        running(e.status) ? act('stop', 'Stop', 'danger') : act('start', 'Start'),
        act('restart', 'Restart'), act('reload', 'Reload'), act('scale', 'Scale'), act('flush', 'Flush')),
    ));
  }
  tbody.replaceChildren(...rows);
  $('empty').hidden = state.procs.size > 0;
  const online = [...state.procs.values()].filter((p) => p.pm2_env.status === 'online').length;
  $('summary').textContent = state.procs.size + ' processes, ' + online + ' online';
}

// ---- actions
const CONFIRM = {
  stop: (p) => 'Stop ' + p.name + ' (id ' + p.pm_id + ')? It stays stopped until started again.',
  restart: (p) => 'Restart ' + p.name + ' (id ' + p.pm_id + ')? It is stopped, then started again.',
  flush: (p) => 'Empty the log files of ' + p.name + ' (id ' + p.pm_id + ')? What they hold is lost.',
  scale: (p) => 'Scale ' + p.name + ': how many instances?',
};

function ask(action, p) {
  const text = CONFIRM[action];
  if (!text) { run(action, p); return; }
  const d = $('confirm');
  $('confirm-text').textContent = text(p);
  $('scale-label').hidden = action !== 'scale';
  $('scale-count').value = '';
  d.returnValue = '';
  d.onclose = () => {
    if (d.returnValue !== 'ok') return;
    run(action, p, $('scale-count').value.trim());
  };
  d.showModal();
  if (action === 'scale') $('scale-count').focus();
}

async function run(action, p, count) {
  try {
    if (action === 'scale') {
      if (!count) return;
      await api('/api/scale', { name: p.name, count: count });
    } else {
      await api('/api/action', { action: action, target: String(p.pm_id) });
    }
    toast(action + ' ' + p.name + ': done');
  } catch (err) {
    toast(action + ' ' + p.name + ': ' + err.message, true);
  }
  refreshSoon();
}

// ---- selection
function select(id, toggle) {
  if (toggle) {
    if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
  } else if (state.selected.size === 1 && state.selected.has(id)) {
    return;
  } else {
    state.selected = new Set([id]);
  }
  renderTable();
  renderCharts();
  state.lines = [];
  renderLog();
  connect();
  loadTails();
  describe();
}

function names(ids) {
  return [...ids].map((id) => (state.procs.get(id) || { name: '#' + id }).name).join(', ');
}

// ---- charts
function color(id) { return COLORS[id % COLORS.length]; }

function renderCharts() {
  const ids = state.selected.size ? [...state.selected] : [...state.procs.keys()];
  $('chart-who').textContent = state.selected.size ? names(state.selected) : 'all processes';
  // The charts span the samples there are, up to the history's length.
  const now = Date.now();
  let oldest = now;
  for (const id of ids) for (const s of state.hist.get(id) || []) oldest = Math.min(oldest, s.t);
  const span = Math.max(Math.min(state.interval * state.historyLen, now - oldest), 2 * state.interval);
  for (const [key, chart, maxEl, fmt, floor] of [
    ['cpu', $('cpu-chart'), $('cpu-max'), (v) => v.toFixed(0) + '%', 10],
    ['mem', $('mem-chart'), $('mem-max'), fmtBytes, 1 << 20],
  ]) {
    let max = floor;
    for (const id of ids) for (const s of state.hist.get(id) || []) max = Math.max(max, s[key]);
    const lines = [];
    for (const id of ids) {
      const pts = (state.hist.get(id) || []).filter((s) => now - s.t <= span)
        .map((s) => ((600 * (1 - (now - s.t) / span)).toFixed(1) + ',' + (150 - 145 * s[key] / max).toFixed(1)));
      if (pts.length) lines.push(svg('polyline', { points: pts.join(' '), stroke: color(id) }));
    }
    chart.replaceChildren(...lines);
    maxEl.textContent = 'max ' + fmt(max);
  }
  const secs = Math.round(span / 1000);
  $('cpu-span').textContent = $('mem-span').textContent = 'last ' + (secs < 120 ? secs + ' s' : Math.round(secs / 60) + ' min');
  $('legend').replaceChildren(...ids.map((id) => el('span', {}, el('i', { style: 'background:' + color(id) }), names([id]) + ' #' + id)));
}

function addSample(id, t, cpu, mem) {
  let h = state.hist.get(id);
  if (!h) state.hist.set(id, h = []);
  h.push({ t: t, cpu: cpu, mem: mem });
  if (h.length > state.historyLen) h.splice(0, h.length - state.historyLen);
}

// ---- dependency graph
function renderGraph() {
  const byName = new Map();
  for (const p of state.procs.values()) {
    const n = byName.get(p.name) || { name: p.name, statuses: [], waiting: [] };
    n.statuses.push(p.pm2_env.status);
    if (p.pm2_env.waiting_for) n.waiting.push(p.pm2_env.waiting_for);
    byName.set(p.name, n);
  }
  const deps = state.deps;
  const depth = new Map();
  const depthOf = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    let d = 0;
    for (const x of deps[name] || []) if (byName.has(x.name)) d = Math.max(d, depthOf(x.name, seen) + 1);
    depth.set(name, d);
    return d;
  };
  const cols = [];
  for (const name of [...byName.keys()].sort()) {
    const d = depthOf(name, new Set());
    (cols[d] = cols[d] || []).push(name);
  }
  // Each later column in the order of the rows of what its apps depend on
  // (fewer crossing edges).
  const row = new Map();
  cols.forEach((col, x) => {
    if (x > 0) {
      const at = (name) => {
        const ys = (deps[name] || []).map((d) => row.get(d.name)).filter((y) => y !== undefined);
        return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
      };
      col.sort((a, b) => at(a) - at(b));
    }
    col.forEach((name, y) => row.set(name, y));
  });
  const W = 130, H = 30, GX = 50, GY = 14;
  const pos = new Map();
  cols.forEach((col, x) => col.forEach((name, y) => pos.set(name, { x: 10 + x * (W + GX), y: 10 + y * (H + GY) })));
  const g = $('graph');
  const kids = [svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '6', markerHeight: '6', orient: 'auto-start-reverse' },
    svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: 'currentColor' })))];
  for (const [name, d] of Object.entries(deps)) {
    const to = pos.get(name);
    if (!to) continue;
    for (const dep of d) {
      const from = pos.get(dep.name);
      if (!from) continue;
      kids.push(svg('line', { x1: from.x + W, y1: from.y + H / 2, x2: to.x, y2: to.y + H / 2, 'marker-end': 'url(#arrow)' },
        svg('title', {}, name + ' waits for ' + dep.name + ' to be ' + dep.condition)));
    }
  }
  for (const [name, p] of pos) {
    const n = byName.get(name);
    const st = n.statuses.includes('errored') ? 'errored' : n.statuses.includes('waiting') ? 'waiting'
      : n.statuses.every((s) => s === 'online') ? 'online' : n.statuses[0];
    kids.push(svg('g', { class: 'n-' + String(st).replace(/\s+/g, '-'), 'data-app': name },
      svg('rect', { x: p.x, y: p.y, width: W, height: H }),
      svg('text', { x: p.x + 8, y: p.y + 19 }, name.length > 17 ? name.slice(0, 16) + '…' : name),
      svg('title', {}, name + ': ' + n.statuses.join(', '))));
  }
  const width = Math.max(1, cols.length) * (W + GX);
  const height = Math.max(...cols.map((c) => c.length), 1) * (H + GY) + 10;
  g.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  g.setAttribute('width', width);
  g.replaceChildren(...kids);
  const waits = [];
  for (const n of byName.values()) {
    for (const w of n.waiting) waits.push(el('li', { 'data-app': n.name }, n.name + ': ' + w));
  }
  const edges = Object.values(deps).reduce((a, d) => a + d.length, 0);
  if (!edges) waits.push(el('li', { class: 'muted' }, 'no depends_on between these apps'));
  $('waits').replaceChildren(...waits);
}

// ---- logs
function matcher() {
  const q = $('log-search').value;
  if (!q) return () => true;
  const m = q.match(/^\/(.+)\/$/);
  if (m) {
    try { const re = new RegExp(m[1], 'i'); return (s) => re.test(s); } catch (_) { return () => true; }
  }
  const lq = q.toLowerCase();
  return (s) => s.toLowerCase().includes(lq);
}

function lineNode(l) {
  return el('div', { class: l.stream === 'err' ? 'err' : l.stream === 'note' ? 'note' : '' },
    state.selected.size > 1 ? el('span', { class: 'who' }, l.name + ' | ') : null, l.data);
}

function addLine(l) {
  state.lines.push(l);
  if (state.lines.length > MAX_LOG_LINES) state.lines.splice(0, state.lines.length - MAX_LOG_LINES);
  if (state.paused) {
    state.pending++;
    $('log-pause').textContent = 'Resume (' + state.pending + ' new)';
    return;
  }
  if (!matcher()(l.data)) return;
  const log = $('log');
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 30;
  log.append(lineNode(l));
  while (log.childNodes.length > MAX_LOG_LINES) log.firstChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}

function renderLog() {
  const m = matcher();
  const log = $('log');
  log.replaceChildren(...state.lines.filter((l) => m(l.data)).map(lineNode));
  log.scrollTop = log.scrollHeight;
  $('log-who').textContent = state.selected.size ? names(state.selected) : 'select an app';
}

async function loadTails() {
  for (const id of state.selected) {
    try {
      const t = await api('/api/logs/' + id + '?lines=100');
      const name = names([id]);
      for (const s of ['out', 'err']) for (const d of t[s] || []) addLine({ id: id, name: name, stream: s, data: d });
    } catch (err) {
      addLine({ id: id, name: '', stream: 'note', data: 'log files: ' + err.message });
    }
  }
}

// ---- describe
const DESCRIBE = [
  ['name', (p) => p.name], ['pm_id', (p) => p.pm_id], ['namespace', (e) => e.namespace],
  ['status', (e) => e.status], ['waiting for', (e) => e.waiting_for], ['health', (e) => e.health],
  ['last failed probe', (e) => e.health_check], ['pid', (p) => p.pid], ['script', (e) => e.pm_exec_path],
  ['interpreter', (e) => e.exec_interpreter], ['args', (e) => (e.args || []).join(' ')], ['cwd', (e) => e.pm_cwd],
  ['exec mode', (e) => e.exec_mode], ['instances', (e) => e.instances], ['restarts', (e) => e.restart_time],
  ['unstable restarts', (e) => e.unstable_restarts], ['last restart reason', (e) => e.restart_reason],
  ['exit code', (e) => e.exit_code], ['exit signal', (e) => e.exit_signal], ['last reload', (e) => e.last_reload],
  ['started', (e) => e.pm_uptime && new Date(e.pm_uptime).toLocaleString()],
  ['created', (e) => e.created_at && new Date(e.created_at).toLocaleString()],
  ['out log', (e) => e.pm_out_log_path], ['error log', (e) => e.pm_err_log_path], ['log', (e) => e.pm_log_path],
  ['watch', (e) => String(e.watch)], ['autorestart', (e) => String(e.autorestart)],
  ['max memory restart', (e) => e.max_memory_restart && fmtBytes(e.max_memory_restart)],
  ['memory measured as', (e) => e.memory_mode], ['kill signal', (e) => e.kill_signal],
  ['kill timeout', (e) => e.kill_timeout + ' ms'], ['min uptime', (e) => e.min_uptime + ' ms'],
  ['max restarts', (e) => e.max_restarts], ['restart delay', (e) => e.restart_delay + ' ms'],
  ['cron restart', (e) => e.cron_restart], ['log lines dropped', (e) => e.log_lines_dropped],
  ['config file', (e) => e.config_file], ['environment', (e, p) => (p.env_names || []).sort().join(' ') + '  (values: tend env ' + p.pm_id + ')'],
];

async function describe() {
  const dl = $('describe');
  const id = [...state.selected][0];
  if (id === undefined) { dl.replaceChildren(); $('desc-who').textContent = ''; return; }
  try {
    const p = await api('/api/processes/' + id);
    $('desc-who').textContent = p.name + ' #' + p.pm_id;
    const kids = [];
    for (const [label, f] of DESCRIBE) {
      const v = f.length === 2 || ['name', 'pm_id', 'pid'].includes(label) ? f(label === 'environment' ? p.pm2_env : p, p) : f(p.pm2_env);
      if (v === undefined || v === null || v === '' || v === 0 && label !== 'restarts' && label !== 'pm_id') continue;
      kids.push(el('dt', {}, label), el('dd', {}, v));
    }
    dl.replaceChildren(...kids);
  } catch (err) {
    dl.replaceChildren(el('dt', {}, 'error'), el('dd', {}, err.message));
  }
}

// ---- loading and the event stream
async function refresh() {
  try {
    const ps = await api('/api/processes');
    state.procs = new Map(ps.map((p) => [p.pm_id, p]));
    for (const id of [...state.selected]) if (!state.procs.has(id)) state.selected.delete(id);
    state.deps = await api('/api/deps');
  } catch (err) {
    toast('process list: ' + err.message, true);
    return;
  }
  renderTable();
  renderGraph();
  renderCharts();
  if (state.selected.size) describe();
}

// refreshSoon reloads the list once after a burst of events (a restart
// sends several).
function refreshSoon() {
  clearTimeout(refreshSoon.timer);
  refreshSoon.timer = setTimeout(refresh, 150);
}

async function loadHistory() {
  try {
    const h = await api('/api/history');
    state.interval = h.interval_ms || 2000;
    state.hist = new Map();
    for (const [id, samples] of Object.entries(h.samples || {})) {
      state.hist.set(Number(id), samples.map((s) => ({ t: s.t, cpu: s.cpu, mem: s.mem })));
    }
  } catch (_) { /* the charts fill from the stream */ }
}

function connect() {
  if (state.es) state.es.close();
  const ids = [...state.selected].join(',');
  const es = new EventSource('/api/events' + (ids ? '?ids=' + ids : ''));
  state.es = es;
  es.onopen = async () => {
    $('conn').textContent = 'live';
    $('conn').className = 'conn live';
    await loadHistory();
    refresh();
  };
  es.onerror = () => {
    $('conn').textContent = 'reconnecting…';
    $('conn').className = 'conn down';
  };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (_) { return; }
    handle(ev);
  };
}

function handle(ev) {
  switch (ev.type) {
    case 'process': {
      state.changed.set(ev.pm_id, ev.time);
      const p = state.procs.get(ev.pm_id);
      if (p) {
        p.pm2_env.status = ev.status;
        if (!running(ev.status)) { p.pid = 0; p.monit = { cpu: 0, memory: 0 }; }
        renderTable();
      }
      refreshSoon();
      break;
    }
    case 'health': {
      state.changed.set(ev.pm_id, ev.time);
      const p = state.procs.get(ev.pm_id);
      if (p) {
        p.pm2_env.health = ev.status;
        p.pm2_env.health_check = ev.reason;
        renderTable();
      }
      break;
    }
    case 'log':
      if (state.selected.has(ev.pm_id)) addLine({ id: ev.pm_id, name: ev.name, stream: ev.stream, data: ev.data });
      break;
    case 'missed':
      addLine({ id: -1, name: '', stream: 'note', data: ev.missed + ' events missed (the page read too slowly)' });
      break;
    case 'stats': {
      let changed = false;
      for (const s of ev.processes) {
        addSample(s.pm_id, ev.time, s.cpu, s.mem);
        const p = state.procs.get(s.pm_id);
        if (!p) { changed = true; continue; }
        // A sample taken before the process's last event would bring back
        // the state that event ended.
        if ((state.changed.get(s.pm_id) || 0) > ev.time) continue;
        p.pid = s.pid;
        p.monit = { cpu: s.cpu, memory: s.mem };
        p.pm2_env.status = s.status;
        p.pm2_env.health = s.health;
        p.pm2_env.restart_time = s.restarts;
        p.pm2_env.pm_uptime = s.pm_uptime;
      }
      if (changed || ev.processes.length !== state.procs.size) refreshSoon();
      renderTable();
      renderCharts();
      break;
    }
  }
}

$('log-pause').addEventListener('click', () => {
  state.paused = !state.paused;
  state.pending = 0;
  $('log-pause').textContent = state.paused ? 'Resume' : 'Pause';
  if (!state.paused) renderLog();
});
$('log-clear').addEventListener('click', () => { state.lines = []; renderLog(); });
$('log-search').addEventListener('input', renderLog);
connect();
