/**
 * The worker side of explore.ts: runs each chunk of seeds it is given and posts back how many it
 * ran and which failed; a null message ends it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runSeed } from './run.js';
import type { WorldOptions } from './world.js';

const { overrides } = workerData as { overrides: Partial<WorldOptions> };
const options = { overrides };
const port = parentPort;
if (!port) throw new Error('explore-worker.js runs as a worker thread');
port.on('message', (work: { from: number; count: number } | null) => {
  if (work === null) {
    port.close();
    return;
  }
  const failures = [];
  for (let seed = work.from; seed < work.from + work.count; seed++) {
    const r = runSeed(seed, options);
    if (!r.ok) failures.push({ seed, message: r.violation?.message ?? 'failed', trace: r.trace.slice(-15) });
  }
  port.postMessage({ count: work.count, failures });
});
