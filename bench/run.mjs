#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark of the repository, one after the other, each in its own
 * process: bench/resume.mjs (resume under faults), bench/fairness.mjs (1,000 sessions on one
 * connection, one of them bulk), bench/noise-records.mjs (Noise records and an encrypted session per
 * crypto provider), bench/compare.mjs (liaison against raw TCP, ws and Socket.IO),
 * bench/compare.mjs --secure (liaison over TLS and under Noise against raw TLS and wss), then
 * bench/transfer.mjs (liaison send against a raw file pipe), then bench/events-broadcast.mjs
 * (@liaison/events against Socket.IO: one 100 B broadcast to 10,000 sessions). Arguments after `--` go to both
 * compare.mjs runs (`npm run bench -- --quick`; --quick also shortens transfer.mjs). Exits
 * non-zero if any of them failed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let failed = false;

const steps = [
  { script: 'resume.mjs', args: [] },
  { script: 'fairness.mjs', args: args.includes('--quick') ? ['--runs', '1', '--pings', '500'] : [] },
  { script: 'noise-records.mjs', args: args.includes('--quick') ? ['--quick'] : [] },
  { script: 'compare.mjs', args },
  { script: 'compare.mjs', args: ['--secure', ...args] },
  { script: 'transfer.mjs', args: args.includes('--quick') ? ['--quick'] : [] },
  {
    script: 'events-broadcast.mjs',
    node: ['--expose-gc'],
    args: args.includes('--quick') ? ['--sessions', '2000', '--rounds', '10'] : [],
  },
];
for (const step of steps) {
  const path = join(HERE, step.script);
  if (!existsSync(path)) continue;
  const r = spawnSync(process.execPath, [...(step.node ?? []), path, ...step.args], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench/${step.script} failed (${r.status ?? r.signal})`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
