// tend's preload for Node apps whose listening sockets tend opens (the
// `listen` option, or PM2's `port` in cluster mode). See docs/reload.md.
//
// tend passes the sockets with systemd's socket-activation protocol
// (LISTEN_FDS, LISTEN_PID; TEND_LISTEN_ADDRS names their addresses in fd
// order). This module makes server.listen(port) — http, https, express, net —
// use the passed socket of that port instead of binding a new one, so every
// instance, old and new, accepts on the same socket and a reload never closes
// it. It also tells tend when a server listens, and, when the app does not
// handle the stop signal itself, stops accepting and lets requests in flight
// finish before the process exits.
'use strict';
(() => {
  const env = process.env;
  // In cluster mode (TEND_CLUSTER=1) the instances of the app share every
  // socket it listens on, as with Node's cluster module: a socket tend
  // passed at start when the app listened on that address before, else
  // one tend opens when the app asks for it (over the IPC channel).
  const cluster = env.TEND_CLUSTER === '1' && typeof process.send === 'function';
  const count = Number(env.LISTEN_PID) === process.pid ? Number(env.LISTEN_FDS) : 0;
  const explicit = env.TEND_LISTEN_EXPLICIT === undefined ? count : Number(env.TEND_LISTEN_EXPLICIT);
  if (!(count > 0) && !cluster) return;
  const addrs = String(env.TEND_LISTEN_ADDRS || '').split(' ');
  // Like sd_listen_fds(1): child processes must not take these sockets.
  for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'TEND_LISTEN_ADDRS', 'TEND_LISTEN_EXPLICIT', 'TEND_CLUSTER']) delete env[k];

  const socks = [];
  for (let i = 0; i < count; i++) {
    const a = addrs[i] || '';
    const learned = i >= explicit;
    if (a.startsWith('unix:')) {
      socks.push({ fd: 3 + i, addr: a, path: a.slice(5), learned });
      continue;
    }
    const j = a.lastIndexOf(':');
    if (j < 0) continue;
    socks.push({ fd: 3 + i, addr: a, host: a.slice(0, j).replace(/^\[|\]$/g, ''), port: Number(a.slice(j + 1)), learned });
  }
  if (socks.length === 0 && !cluster) return;

  const net = require('net');
  const wildcard = (h) => h === '' || h === '::' || h === '0.0.0.0';
  const sameHost = (want, have) =>
    want === have || (wildcard(want) && wildcard(have)) || (want === 'localhost' && (have === '127.0.0.1' || have === '::1'));

  // parse reads server.listen's arguments as Node does (the forms that name
  // a port or a path); null for a handle or an fd.
  function parse(args) {
    const a0 = args[0];
    if (a0 !== null && typeof a0 === 'object') {
      if (a0._handle || a0.handle || a0.fd !== undefined) return null;
      const o = { host: a0.host, path: a0.path, backlog: a0.backlog, exclusive: a0.exclusive, ipv6Only: a0.ipv6Only };
      if (a0.port !== undefined && a0.port !== null && a0.port !== '') o.port = Number(a0.port);
      return o;
    }
    if (typeof a0 === 'number' || (typeof a0 === 'string' && /^[0-9]+$/.test(a0))) {
      const o = { port: Number(a0) };
      if (typeof args[1] === 'string') o.host = args[1];
      return o;
    }
    if (typeof a0 === 'string') return { path: a0 };
    return null;
  }

  function find(o) {
    if (cluster) {
      // the address as tend names it, when it needs no name lookup
      const addr = o.path !== undefined ? unixAddr(o.path) : !o.host || net.isIP(o.host) ? canonical(o.host, o.port) : null;
      const s = addr && socks.find((x) => !x.used && x.addr === addr);
      if (s) return s;
    }
    for (const s of socks) {
      if (s.used || s.learned) continue;
      if (s.path !== undefined) {
        if (o.path === s.path) return s;
        continue;
      }
      if (!o.port || o.port !== s.port) continue;
      if (!o.host || sameHost(o.host, s.host)) return s;
      if (cluster) continue; // asked for below
      process.emitWarning(
        `server.listen(${o.port}, '${o.host}') binds its own socket: tend opened port ${o.port} on ${s.addr}; ` +
          `set listen: ['${o.host.includes(':') ? '[' + o.host + ']' : o.host}:${o.port}'] in the app's options to share it`,
        'TendWarning',
      );
    }
    return undefined;
  }

  function canonical(host, port) {
    if (!host) return ':' + port;
    return (host.includes(':') ? '[' + host + ']' : host) + ':' + port;
  }
  function unixAddr(p) {
    return 'unix:' + require('path').resolve(p);
  }

  // ask requests the socket of addr from tend; cb(err, handle, addr).
  const pending = new Map();
  let lastId = 0;
  if (cluster) {
    process.on('internalMessage', (m, handle) => {
      if (!m || m.cmd !== 'NODE_TEND_SOCKET' || !pending.has(m.id)) return;
      const cb = pending.get(m.id);
      pending.delete(m.id);
      if (pending.size === 0 && process.channel) process.channel.unref();
      cb(m.error ? new Error(m.error) : handle ? null : new Error('no socket'), handle, m.addr);
    });
  }
  function ask(addr, cb) {
    const id = ++lastId;
    pending.set(id, cb);
    if (process.channel) process.channel.ref(); // the answer keeps the process alive
    try {
      process.send({ cmd: 'NODE_TEND_SOCKET', id, addr });
    } catch (e) {
      pending.delete(id);
      cb(e);
    }
  }

  // share gives a cluster-mode server the socket of the address it asked
  // for, from tend: the same socket in every instance, so the kernel
  // spreads connections over them and a reload closes none. Where tend
  // cannot give it, the server binds as it would have without tend.
  function share(server, o, args) {
    const cb = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
    const rest = cb ? args.slice(0, -1) : args;
    if (cb) server.once('listening', cb);
    const fallback = () => listen.apply(server, rest);
    const give = (addr) => {
      const s = socks.find((x) => !x.used && x.addr === addr);
      if (s) return use(server, s, o, rest);
      ask(addr, (err, handle, got) => {
        if (err || !handle || typeof handle.fd !== 'number' || handle.fd < 0) return fallback();
        use(server, { fd: handle.fd, addr: got || addr, handle }, o, rest);
      });
    };
    if (o.path !== undefined) give(unixAddr(o.path));
    else if (!o.host || net.isIP(o.host)) give(canonical(o.host, o.port));
    else require('dns').lookup(o.host, (err, ip) => (err ? fallback() : give(canonical(ip, o.port))));
    return server;
  }
  function shareable(o) {
    if (!cluster || o.exclusive || o.ipv6Only) return false;
    if (o.path !== undefined) return typeof o.path === 'string' && o.path !== '' && o.path[0] !== '\0';
    return o.port > 0 && o.port < 65536;
  }

  const servers = new Set();
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    const o = parse(args);
    const s = o && find(o);
    if (s) return use(this, s, o, args);
    if (o && shareable(o)) return share(this, o, args);
    return listen.apply(this, args);
  };
  function use(server, s, o, args) {
    s.used = true; // server.close() closes the fd in this process
    const cb = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
    servers.add(server);
    server.once('close', () => servers.delete(server));
    trackConnections(server);
    server.once('listening', () => {
      if (typeof process.send === 'function') {
        try {
          process.send({ tend: 'listening', addr: s.addr });
        } catch (e) {
          // no channel: tend sees the socket polled instead
        }
      }
    });
    watchStop();
    const opts = { fd: s.fd };
    if (o.backlog !== undefined) opts.backlog = o.backlog;
    return cb ? listen.call(server, opts, cb) : listen.call(server, opts);
  }

  // Connections of HTTP servers: "new" (no request yet), "busy" (a request
  // in flight) or "idle" (between keep-alive requests, since a time). Node's
  // own server.close() destroys "new" and "idle" connections at once, but a
  // request may already be on its way on them, unread: the client would see
  // the connection closed without an answer. The drain below lets every
  // connection carry its next request and answers it with "Connection:
  // close"; it closes only connections that stay silent for idleGrace.
  const idleGrace = 100;
  const conns = new Map(); // socket -> {state, since, res}
  let draining = false;
  function trackConnections(srv) {
    srv.on('connection', (sock) => {
      conns.set(sock, { state: 'new', since: Date.now() });
      sock.once('close', () => conns.delete(sock));
    });
    srv.prependListener('request', (req, res) => {
      const c = conns.get(req.socket);
      if (draining) res.shouldKeepAlive = false;
      if (!c) return;
      c.state = 'busy';
      c.res = res;
      res.once('finish', () => {
        c.state = 'idle';
        c.since = Date.now();
        c.res = undefined;
      });
    });
  }
  function closeIdle() {
    const now = Date.now();
    for (const [sock, c] of conns) if (c.state !== 'busy' && now - c.since >= idleGrace) sock.destroy();
  }

  // On the stop signal, unless the app listens for it itself: stop accepting
  // (the socket stays open in tend and the other instances), let requests in
  // flight finish with "Connection: close", then die of the signal as Node
  // would have at once.
  let watching = false;
  function watchStop() {
    if (watching) return;
    watching = true;
    for (const sig of ['SIGINT', 'SIGTERM']) {
      const onSig = () => {
        if (process.listenerCount(sig) > 1) return; // the app handles it
        drain(sig, onSig);
      };
      process.on(sig, onSig);
    }
  }
  function drain(sig, onSig) {
    const die = () => {
      process.removeListener(sig, onSig);
      process.kill(process.pid, sig);
    };
    // tend signals the process group and each process of the tree, so the
    // signal may come twice: the drain has begun, tend's kill_timeout ends it.
    if (draining) return;
    draining = true;
    const list = [...servers];
    let left = list.length;
    if (left === 0) return die();
    for (const c of conns.values()) {
      if (c.state === 'busy' && c.res && !c.res.headersSent) c.res.shouldKeepAlive = false;
      if (c.state !== 'busy') c.since = Date.now(); // from now on it may carry one more request
    }
    for (const srv of list) {
      // net's close, not http's: it stops accepting and waits for the
      // connections without destroying any.
      net.Server.prototype.close.call(srv, () => {
        if (--left === 0) die();
      });
    }
    const t = setInterval(closeIdle, 20);
    t.unref();
  }
})();
