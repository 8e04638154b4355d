module.exports = {
  apps: [{ name: 'eco', script: './apps/tick.js', env: { GREETING: 'from-eco' } }],
};
