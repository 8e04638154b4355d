// A plain app: a line on stdout every 100 ms, a line on stderr for SIGUSR2,
// an answer to every message PM2's sendDataToProcessId brings, and each line
// of its stdin (PM2's sendLineToStdin) on stderr.
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
require('readline').createInterface({ input: process.stdin }).on('line', (l) => console.error('stdin: ' + l));
