// Records croner's answers (the library PM2 7.0.4 uses for cron_restart)
// into croner.json: for each pattern, its error, or its next runs after
// each start time. Run by record.sh; times are UTC (TZ=UTC).
const Cron = require('croner');

const starts = [
  '2026-12-04T10:17:42Z', '2027-02-27T23:59:59Z', '2028-02-28T12:00:00Z',
  '2026-12-31T23:59:59Z', '2027-06-15T00:00:00Z',
];
const patterns = [
  // the corpus and everyday patterns
  '*/1 * * * *', '*/15 * * * *', '0 */2 * * *', '0 0 * * *', '0 0 */3 * *', '0 1/3 * * *',
  '0 2 * * *', '0 3 * * *', '0 5 1,15 * *', '0 6 * * *', '1 0 * * *', '15 */1 * * *',
  '30 3 * * *', '59 23 * * * *', '0,30 * * * *', '0 * * * *', '30 * * * * *', '0 3 * * 1',
  '*/5 * * * * *', '0 0 1-15/2 jan-mar mon-fri', '0 0 L * *', '0 12 L 2 *', '0 0 29 2 *',
  '0 0 1 * MON', '0 0 13 * 5', '0 0 * * 7', '0 0 * * 0', '0 0 * * SUN', '0 0 * * sat,sun',
  '0 0 1 jan *', '0 0 1 JAN-MAR *', '0 9-17 * * 1-5', '0 9-17/4 * * *', '0 0 1/2 * *',
  '0 0 1 1/2 *', '0 0 1 */2 *', '5/20 * * * *', '0 0 31 * *', '0 0 31 2 *', '0 0 30 2 *',
  '0 0 1,31 * *', '0 0 1,30 * *', '0 0 5,31 * *', '*/59 * * * *', '0 0 * * 1,3,5', '1,,2 * * * *', '* * * * * *', '0   0  *   * *',
  ' 0 0 * * * ', '0 0 1,L * *', '0 0 l * *', '*,5 * * * *', '2027-01-01T00:00:00',
  '2027-01-01T00:00:00Z', '2026-01-01T00:00:00', '0 0 * * 6-7', '0 0 * * 0-6/2',
  // patterns croner refuses
  '@daily', '@hourly', '* * *', '* * * * * * *', '61 * * * *', '0 24 * * *', '0 0 32 * *',
  '0 0 0 * *', '0 0 * 13 *', '0 0 * 0 *', '0 0 * * 8', '0 0 * * MON#1', '0 0 * * 5L',
  '1-5,10 * * * *', '*/5,1 * * * *', '5-1 * * * *', '*/0 * * * *', '*/61 * * * *',
  '1-5/0 * * * *', '1-70/5 * * * *', 'a b c d e', '0 0 LW * *', '0 0 ? * * extra x',
  '1-2-3 * * * *', '*/5/2 * * * *', '-5 * * * *', '5- * * * *', '2027-02-30T00:00:00',
  '2027-01-01T00:00', '0 0 L-1 * *',
];

const out = [];
for (const p of patterns) {
  const row = { pattern: p };
  try {
    const c = Cron(p);
    row.next = {};
    for (const s of starts) {
      const runs = [];
      let prev = new Date(s);
      for (let i = 0; i < 5; i++) {
        const n = c.next(prev);
        if (!n) break;
        runs.push(n.toISOString());
        prev = n;
      }
      row.next[s] = runs;
    }
  } catch (e) {
    row.error = e.message;
  }
  out.push(row);
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
