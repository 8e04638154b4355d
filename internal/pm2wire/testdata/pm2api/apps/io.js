// An app that reports to PM2 with @pm2/io: a metric and two actions.
const io = require('@pm2/io');
io.metric({ name: 'queue size' }).set(42);
io.action('ping', (reply) => reply({ pong: true }));
io.action('echo', (param, reply) => reply({ got: param }));
// @pm2/io stops listening to its IPC channel for 200 ms every 3 s when the
// process has only its three stdio/IPC handles (its auto-exit hook), under
// PM2 as under tend; a listening server, as real apps have, keeps it
// listening, so no action is lost.
require('net').createServer().listen(0, '127.0.0.1');
