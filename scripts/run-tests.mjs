#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist-test/**/*.test.js) on Node's test runner.
// Node 20's `--test` takes no globs, so the files are listed here. Extra args pass through,
// e.g. `npm run test:only -- --test-name-pattern=release`.
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

if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
const args = ['--test', '--test-reporter=spec', ...process.argv.slice(2), ...files.sort()];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env } });
process.exit(result.status ?? 1);
