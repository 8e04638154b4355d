// A plain app: a line on stdout every 100 ms, a line on stderr for SIGUSR2,
// and an answer to every message PM2's sendDataToProcessId brings.
let n = 0;
// The SIGUSR2 handler is set before the first tick: a tick with its pid says
// the process can take the signal.
process.on('SIGUSR2', () => console.error('got SIGUSR2'));
setInterval(() => console.log('tick ' + n++ + ' ' + (process.env.GREETING || '') + ' pid ' + process.pid), 100);
process.on('message', (packet) => {
  if (packet && packet.data && packet.data.raw) {
    process.send('raw hello from ' + process.env.name);
    return;
  }
  if (packet && packet.topic) {
    process.send({ type: 'process:msg', data: { echo: packet.data, topic: packet.topic } });
  }
});
