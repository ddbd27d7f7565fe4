import { readFileSync } from 'node:fs';

/**
 * The installed package's own version, read from its package.json (dist/version.js sits one
 * level below it), so `liaison --version` can never disagree with what npm installed.
 */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
