/**
 * A fresh project outside the repository with the packed packages installed, as a user gets it
 * from `npm i liaison`: each publishable package packed with `npm pack` (what the registry would
 * hold), then the tarballs installed with `npm install --offline` from the npm cache, which holds
 * every third-party dependency already. Shared by packed.test.ts and readme.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The repository's TypeScript compiler, run on the user's files. */
export const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
/**
 * Node's types for the user's TypeScript (the liaison types refer to node:events and Buffer): the
 * repository's @types/node, as a user has their own (its registry entry is not in an offline cache).
 */
export const TYPE_ROOTS = join(ROOT, 'node_modules/@types');
/** What `npm i liaison` publishes; sim stays private. */
export const PUBLISHED = ['core', 'node', 'transfer', 'events', 'dashboard', 'browser', 'testkit', 'cli'] as const;

const run = promisify(execFile);

export interface Project {
  dir: string;
  tarballs: string[];
  remove(): void;
}

export async function packedProject(): Promise<Project> {
  const base = mkdtempSync(join(tmpdir(), 'liaison-packed-'));
  const packs = join(base, 'tarballs');
  const dir = join(base, 'app');
  mkdirSync(packs);
  mkdirSync(dir);
  const npmEnv = {
    ...process.env,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  // One npm process packs all five (the workspace flags); scripts off: dist/ is built already.
  await run(
    'npm',
    ['pack', '--ignore-scripts', '--pack-destination', packs, ...PUBLISHED.flatMap((p) => ['-w', `packages/${p}`])],
    { cwd: ROOT, env: npmEnv, timeout: 30_000 },
  );
  const tarballs = readdirSync(packs)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(packs, f));
  if (tarballs.length !== PUBLISHED.length) throw new Error(`npm pack made ${tarballs.length} tarballs`);
  const { manifest, lock } = projectFiles(tarballs);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    env: npmEnv,
    timeout: 60_000,
  });
  return { dir, tarballs, remove: () => rmSync(base, { recursive: true, force: true }) };
}

/**
 * The project's package.json (the tarballs as its dependencies) and a lock that pins every
 * third-party package to the version the repository's lock has. With the lock npm needs no
 * registry metadata, only the tarballs in its cache: an offline install works on any machine
 * that ran `npm ci` here, and installs exactly what the repository was tested with.
 */
function projectFiles(tarballs: string[]): { manifest: object; lock: object } {
  const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const dependencies: Record<string, string> = {};
  const packages: Record<string, LockEntry> = {};
  const wanted: string[] = [];
  for (const dir of PUBLISHED) {
    const entry = repoLock.packages[`packages/${dir}`];
    if (!entry?.name || !entry.version) throw new Error(`the repository's lock has no packages/${dir}`);
    // npm pack's file name: the scope's @ dropped, its / a dash.
    const tarball = `${entry.name.replace(/^@/, '').replace('/', '-')}-${entry.version}.tgz`;
    if (!tarballs.some((t) => basename(t) === tarball)) throw new Error(`npm pack made no ${tarball}`);
    const file = `file:../tarballs/${tarball}`;
    dependencies[entry.name] = file;
    const { devDependencies: _dev, name: _name, ...rest } = entry;
    packages[`node_modules/${entry.name}`] = { ...rest, resolved: file };
    wanted.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
  }
  while (wanted.length > 0) {
    const name = wanted.pop() as string;
    if (packages[`node_modules/${name}`]) continue;
    const entry = repoLock.packages[`node_modules/${name}`];
    if (!entry) throw new Error(`the repository's lock has no ${name}`);
    packages[`node_modules/${name}`] = entry;
    wanted.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
  }
  const manifest = { name: 'app', version: '1.0.0', private: true, type: 'module', dependencies };
  return {
    manifest,
    lock: {
      name: 'app',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': manifest, ...packages },
    },
  };
}

interface LockEntry {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}
