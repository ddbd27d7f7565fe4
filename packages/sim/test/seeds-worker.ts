/** Runs a range of seeds in a worker thread and posts back a compact result per seed. */
import { parentPort, workerData } from 'node:worker_threads';
import { runSeed } from '@liaison/sim';

const { start, count } = workerData as { start: number; count: number };
const results = [];
for (let seed = start; seed < start + count; seed++) {
  const r = runSeed(seed);
  results.push({
    seed,
    ok: r.ok,
    message: r.violation?.message ?? null,
    trace: r.ok ? [] : r.trace.slice(-15),
    sessions: r.stats.sessionsOpened,
    messages: r.stats.messagesSent,
    cuts: r.network.cuts,
    resumes: r.stats.resumes,
  });
}
parentPort?.postMessage(results);
