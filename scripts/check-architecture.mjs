#!/usr/bin/env node
// Keeps the architecture true mechanically (docs/ARCHITECTURE.md, "Checked rules"):
// 1. packages/core/src imports nothing but its own files: no platform modules, no packages.
// 2. core reads no clock and starts no timer (identifiers banned below; biome bans the globals too).
// 3. packages depend only downward: each @liaison/* dependency must come earlier in LAYERS.
// 4. core has no runtime dependency but audited crypto, by name (the @noble primitives).
// 5. packages/browser/src imports no node: module.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const LAYERS = [
  '@liaison/core',
  '@liaison/sim',
  '@liaison/node',
  '@liaison/testkit',
  '@liaison/transfer',
  '@liaison/events',
  '@liaison/dashboard',
  '@liaison/browser',
  'liaison',
];
const CORE_ALLOWED_DEPENDENCIES = new Set(['@noble/ciphers', '@noble/curves', '@noble/hashes']);
const BANNED = [
  /\bDate\.now\b/,
  /\bnew Date\(/,
  /\bperformance\.now\b/,
  /\bMath\.random\b/,
  /\bset(Timeout|Interval|Immediate)\b/,
  /\bprocess\./,
  /\bBuffer\./,
  /\bglobalThis\./,
];
const problems = [];

for (const file of sources(join(root, 'packages/core/src'))) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(root, file);
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (!spec.startsWith('.') && !CORE_ALLOWED_DEPENDENCIES.has(pkg)) {
      problems.push(`${rel}: core imports "${spec}"; core imports only its own files and audited crypto`);
    }
  }
  text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*\*/.test(code)) return;
    for (const re of BANNED)
      if (re.test(code)) problems.push(`${rel}:${i + 1}: ${re} is banned in core (pass time and randomness in)`);
  });
}

for (const pkg of readdirSync(join(root, 'packages'))) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));
  const level = LAYERS.indexOf(manifest.name);
  const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
  for (const dep of deps) {
    const depLevel = LAYERS.indexOf(dep);
    if (depLevel >= 0 && (level < 0 || depLevel >= level))
      problems.push(`${manifest.name} depends on ${dep}: dependencies point down only`);
  }
  if (manifest.name === '@liaison/core') {
    for (const dep of deps)
      if (!CORE_ALLOWED_DEPENDENCIES.has(dep))
        problems.push(`@liaison/core depends on ${dep}: core has no runtime dependencies`);
  }
}

// 5. the browser client imports no Node built-in (browser-size.mjs checks the bundle too).
for (const file of sources(join(root, 'packages/browser/src'))) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s*['"](node:[^'"]+)['"]/g))
    problems.push(`${relative(root, file)}: the browser client imports "${m[1]}"`);
}

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

if (problems.length > 0) {
  console.error(`architecture check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('architecture check: core is sans-I/O, dependencies point down');
