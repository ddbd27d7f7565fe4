#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist-test/**/*.test.js) on Node's test runner.
// Node 20's `--test` takes no globs, so the files are listed here. Extra args pass through,
// e.g. `npm run test:only -- --test-name-pattern=release`. An argument with a `/` or ending in
// `.test.js` selects the files whose path contains it (`npm run test:only -- node/dist-test/mux`).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'dist-test'));

function walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
}

const isSelector = (a) => !a.startsWith('-') && (a.includes('/') || a.endsWith('.test.js'));
const options = process.argv.slice(2).filter((a) => !isSelector(a));
const selectors = process.argv.slice(2).filter(isSelector);
const selected = files.filter((f) => selectors.length === 0 || selectors.some((s) => f.includes(s)));
if (selected.length === 0) {
  console.error(files.length === 0 ? 'no test files found: run `npm run build` first' : 'no test file matches');
  process.exit(1);
}
const args = ['--test', '--test-reporter=spec', ...options, ...selected.sort()];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env } });
process.exit(result.status ?? 1);
