#!/usr/bin/env node
// Bundles @liaison/browser (packages/browser/dist/index.js) as a page would, with esbuild
// (browser platform, ESM, minified), and prints its size minified and gzipped: without Noise, and
// with @liaison/browser/noise imported too. Fails (exit 1) if a bundle imports a Node built-in
// (`node:` or a bare builtin name): the package must run in a browser as it is. Run after the
// build (`npm run build`).
import { builtinModules } from 'node:module';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const dist = new URL('../packages/browser/dist/', import.meta.url).pathname;
const builtins = new Set(builtinModules);
const nodeImports = [];
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

await report('@liaison/browser', `export { connect } from ${JSON.stringify(`${dist}index.js`)};`);
await report(
  '@liaison/browser with noise',
  `export { connect } from ${JSON.stringify(`${dist}index.js`)}; export { noise } from ${JSON.stringify(`${dist}noise.js`)};`,
);
if (nodeImports.length > 0) {
  console.error(`@liaison/browser imports Node built-ins:\n  ${[...new Set(nodeImports)].join('\n  ')}`);
  process.exit(1);
}

/** Bundles what a page importing `source` gets and prints its size. */
async function report(name, source) {
  const result = await build({
    stdin: { contents: source, resolveDir: dist, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        // Records each Node built-in the bundle asks for and keeps it out (external), so every one is reported.
        name: 'no-node-builtins',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            const bare = args.path.replace(/^node:/, '').split('/')[0];
            if (!args.path.startsWith('node:') && !builtins.has(bare)) return undefined;
            nodeImports.push(`${args.path} (from ${args.importer})`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });

  const code = result.outputFiles[0].contents;
  const gzipped = gzipSync(code, { level: 9 }).byteLength;
  console.log(`${name}: ${kb(code.byteLength)} minified, ${kb(gzipped)} minified+gzipped`);
}
