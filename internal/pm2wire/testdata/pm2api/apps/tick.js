// A plain app: a line on stdout every 100 ms, a line on stderr for SIGUSR2,
// and an answer to every message PM2's sendDataToProcessId brings.
let n = 0;
setInterval(() => console.log('tick ' + n++ + ' ' + (process.env.GREETING || '')), 100);
process.on('SIGUSR2', () => console.error('got SIGUSR2'));
process.on('message', (packet) => {
  if (packet && packet.data && packet.data.raw) {
    process.send('raw hello from ' + process.env.name);
    return;
  }
  if (packet && packet.topic) {
    process.send({ type: 'process:msg', data: { echo: packet.data, topic: packet.topic } });
  }
});
