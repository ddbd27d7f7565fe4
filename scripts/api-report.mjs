#!/usr/bin/env node
// The public API report: api-extractor reads each published entry point's .d.ts (after
// `npm run build`) and writes api/<name>.api.md. `--check` (what `npm test` runs) fails when a
// report differs from the checked-in one, so the public surface changes only on purpose:
// run `npm run api` to accept a change and commit the updated report with it (docs/API.md).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = new URL('..', import.meta.url).pathname;
const ENTRIES = [
  { name: 'core', pkg: 'core', dts: 'index.d.ts' },
  { name: 'node', pkg: 'node', dts: 'index.d.ts' },
  { name: 'node-transport', pkg: 'node', dts: 'transport-api.d.ts' },
  { name: 'liaison', pkg: 'cli', dts: 'index.d.ts' },
  { name: 'transfer', pkg: 'transfer', dts: 'index.d.ts' },
  { name: 'testkit', pkg: 'testkit', dts: 'index.d.ts' },
  { name: 'events', pkg: 'events', dts: 'index.d.ts' },
  { name: 'dashboard', pkg: 'dashboard', dts: 'index.d.ts' },
  { name: 'browser', pkg: 'browser', dts: 'index.d.ts' },
  { name: 'browser-noise', pkg: 'browser', dts: 'noise.d.ts' },
];
const check = process.argv.includes('--check');
const reportFolder = join(root, 'api');
const tempFolder = join(root, 'node_modules/.cache/api-extractor');
mkdirSync(tempFolder, { recursive: true });

let failed = false;
for (const entry of ENTRIES) {
  const packageFolder = join(root, 'packages', entry.pkg);
  const mainEntryPointFilePath = join(packageFolder, 'dist', entry.dts);
  if (!existsSync(mainEntryPointFilePath)) {
    if (existsSync(packageFolder)) {
      console.error(`api: ${mainEntryPointFilePath} is missing: run \`npm run build\` first`);
      failed = true;
    }
    continue;
  }
  const config = ExtractorConfig.prepare({
    configObjectFullPath: undefined,
    packageJsonFullPath: join(packageFolder, 'package.json'),
    configObject: {
      projectFolder: packageFolder,
      mainEntryPointFilePath,
      compiler: { tsconfigFilePath: join(packageFolder, 'tsconfig.json') },
      apiReport: {
        enabled: true,
        reportFileName: `${entry.name}.api.md`,
        reportFolder,
        reportTempFolder: tempFolder,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // The report is about shapes, not doc comments: tsdoc style findings are not failures.
        tsdocMessageReporting: { default: { logLevel: 'none' } },
        extractorMessageReporting: {
          default: { logLevel: 'warning', addToApiReportFile: true },
          'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false },
          'ae-undocumented': { logLevel: 'none', addToApiReportFile: false },
        },
        compilerMessageReporting: { default: { logLevel: 'warning' } },
      },
    },
  });
  const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false, messageCallback: quiet });
  if (result.apiReportChanged) {
    console.error(
      check
        ? `api: the public API of ${entry.name} changed (see the diff of api/${entry.name}.api.md against ${tempFolder}); if on purpose, run \`npm run api\` and commit the report`
        : `api: updated api/${entry.name}.api.md`,
    );
    if (check) failed = true;
  } else if (!result.succeeded) {
    console.error(`api: ${entry.name}: ${result.errorCount} errors`);
    failed = true;
  }
}
if (failed) process.exit(1);
console.log(`api: ${check ? 'every report matches' : 'reports written'} (${reportFolder})`);

/** Warnings go into the report file itself (where a reviewer sees them); keep the console short. */
function quiet(message) {
  if (message.logLevel === 'warning' || message.logLevel === 'info' || message.logLevel === 'verbose') {
    message.handled = true;
  }
}
