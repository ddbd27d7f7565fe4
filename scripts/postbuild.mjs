#!/usr/bin/env node
// tsc does not set the executable bit; the `liaison` bin needs it on a fresh clone.
import { chmodSync, existsSync } from 'node:fs';

const bin = new URL('../packages/cli/dist/main.js', import.meta.url);
if (existsSync(bin)) chmodSync(bin, 0o755);
await import('./browser-size.mjs');
