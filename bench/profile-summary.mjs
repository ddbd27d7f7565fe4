#!/usr/bin/env node
/**
 * Top self-time functions of V8 CPU profiles (.cpuprofile JSON, as written by node --cpu-prof).
 *
 *   node bench/profile-summary.mjs [DIR] [TOP]     (default bench/results/profiles, 10)
 *
 * Self time of a function = the time of the samples taken while it was on top of the stack,
 * summed over every node of the profile tree with the same name and location. Percentages are of
 * the busy time: samples in '(idle)' are reported apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? join(HERE, 'results', 'profiles');
  console.log(summarizeProfiles(dir, Number(process.argv[3] ?? 10)));
}

/** A text report of every .cpuprofile in `dir`, `top` functions each. */
export function summarizeProfiles(dir, top = 10) {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) return `no .cpuprofile in ${dir}`;
  return files.map((f) => summarize(join(dir, f), top)).join('\n\n');
}

export function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap to the next one (the last sample gets the mean gap).
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : profile.endTime - profile.startTime - sum(timeDeltas);
    const node = byId.get(samples[i]);
    const key = frameName(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + Math.max(0, dt));
  }
  return self;
}

function summarize(file, top) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const self = selfTimes(profile);
  const idle = self.get('(idle)') ?? 0;
  self.delete('(idle)');
  const busy = sum([...self.values()]);
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = rows.map(
    ([name, us], i) =>
      `${String(i + 1).padStart(2)}. ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`,
  );
  const total = (busy + idle) / 1000;
  return [
    `${basename(file)}: ${(busy / 1000).toFixed(0)} ms busy of ${total.toFixed(0)} ms sampled (${((100 * busy) / (busy + idle)).toFixed(0)}%)`,
    ...lines,
  ].join('\n');
}

function frameName({ functionName, url, lineNumber }) {
  const name = functionName || '(anonymous)';
  if (!url) return name;
  let where = url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url;
  where = where.replace(/^node_modules\//, '');
  return `${name} ${where}:${lineNumber + 1}`;
}

function sum(values) {
  let s = 0;
  for (const v of values) s += v;
  return s;
}
