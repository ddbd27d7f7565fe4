/**
 * Issue 10.8: `npm i liaison` gives a user the command and the typed API outside this repository.
 * The packages are packed and installed into a fresh project in the temp directory (packed.ts);
 * there `npx liaison` runs, a server and a client talk over loopback, and a TypeScript file that
 * imports 'liaison' type-checks (nodenext and node10 resolution) and runs.
 *
 * Then the README, as a user copy-pastes it into that project: every shell block runs with bash
 * (servers in the background on free ports that stand in for the README's), every TypeScript
 * block is compiled and run, and their output is checked against what the README says
 * (readme-blocks.ts has the markers). One install serves both: it is most of the time.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type Project, packedProject, ROOT, TSC, TYPE_ROOTS } from './packed.js';
import { readmeBlocks, withPorts } from './readme-blocks.js';

const run = promisify(execFile);
let project: Project;

const TYPED = `import { connect, listen, type CloseReason, type Session } from 'liaison';
import { FrameDecoder } from 'liaison/engine';
import { TcpTransport } from 'liaison/transport';

const server = await listen('tcp://127.0.0.1:0', {
  onSession: async (session: Session) => {
    for await (const message of session) await session.send(message);
  },
});
const session = connect(server.url, { userData: 'typed' });
await session.send('round trip');
for await (const message of session) {
  console.log(new TextDecoder().decode(message));
  break;
}
const reason: CloseReason = await session.close();
console.log(reason.kind);
await server.close();
console.log(typeof FrameDecoder, typeof TcpTransport);
`;

/** Must not compile: proves the import is typed, not \`any\`, and that engine internals are not in it. */
const MISTYPED = `import { connect } from 'liaison';
const wrong: number = connect('tcp://127.0.0.1:1').ready;
import { FrameDecoder } from 'liaison';
`;

function npx(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const child = execFile('npx', ['--no-install', ...args], { cwd: project.dir, timeout: 15_000 });
  if (input !== undefined) child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`npx ${args.join(' ')}: exit ${code}\n${stderr}`)),
    );
  });
}

describe('packed packages in a fresh project', { timeout: 90_000 }, () => {
  before(async () => {
    project = await packedProject();
  });
  after(() => project?.remove());

  test('npx liaison --version prints the installed package.json version (not a constant)', async () => {
    const manifest = join(project.dir, 'node_modules/liaison/package.json');
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    assert.equal(pkg.version, JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')).version);
    assert.equal((await npx(['liaison', '--version'])).stdout.trim(), pkg.version);
    writeFileSync(manifest, JSON.stringify({ ...pkg, version: '9.8.7-packed' }));
    try {
      assert.equal((await npx(['liaison', '--version'])).stdout.trim(), '9.8.7-packed');
    } finally {
      writeFileSync(manifest, JSON.stringify(pkg));
    }
  });

  test('what each tarball holds: dist code and types, README, LICENSE; no tests, sources, maps or build info', async () => {
    for (const tarball of project.tarballs) {
      const { stdout } = await run('tar', ['-tzf', tarball]);
      const files = stdout.trim().split('\n');
      for (const needed of [
        'package/package.json',
        'package/README.md',
        'package/LICENSE',
        'package/dist/index.js',
        'package/dist/index.d.ts',
      ]) {
        assert.ok(files.includes(needed), `${tarball} lacks ${needed}`);
      }
      const extra = files.filter((f) => /test|\.map$|tsbuildinfo|\/src\/|tsconfig/.test(f));
      assert.deepEqual(extra, [], `${tarball} ships files a user does not need`);
    }
  });

  test('serve --echo and connect talk over loopback; liaison-proxy is there too', async () => {
    const server = spawn(
      'npx',
      ['--no-install', 'liaison', 'serve', '--listen', 'tcp://127.0.0.1:0', '--echo', '--quiet'],
      {
        cwd: project.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (d) => {
          out += d;
          const m = /^listening (tcp:\/\/\S+)$/m.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        server.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
        setTimeout(() => reject(new Error('serve did not listen within 10 s')), 10_000);
      });
      const { stdout } = await npx(['liaison', 'connect', url], 'one\ntwo\nthree\n');
      assert.equal(stdout, 'one\ntwo\nthree\n');
    } finally {
      if (server.pid) process.kill(-server.pid, 'SIGTERM');
    }
    assert.match((await npx(['liaison-proxy', '--help'])).stdout, /^usage: liaison-proxy /);
  });

  test("a TypeScript file importing 'liaison' type-checks (nodenext and node10), its subpaths too, and runs", async () => {
    writeFileSync(join(project.dir, 'typed.ts'), TYPED);
    writeFileSync(join(project.dir, 'mistyped.ts'), MISTYPED);
    // Both files in each run: the only error must be mistyped.ts's (tsc still emits typed.js).
    const tsc = (args: string[]) =>
      run(
        process.execPath,
        [
          TSC,
          '--strict',
          '--target',
          'es2022',
          '--typeRoots',
          TYPE_ROOTS,
          '--types',
          'node',
          '--skipLibCheck',
          ...args,
        ],
        {
          cwd: project.dir,
          timeout: 30_000,
        },
      ).then(
        () => '',
        (e: { stdout: string }) => e.stdout,
      );
    const only =
      /^mistyped\.ts\(2,7\): error TS2322: Type 'Promise<void>' is not assignable to type 'number'\.\s*mistyped\.ts\(3,10\): error TS2305: Module '"liaison"' has no exported member 'FrameDecoder'\.\s*$/;
    const [nodenext, node10] = await Promise.all([
      tsc(['--module', 'nodenext', '--outDir', 'out', 'typed.ts', 'mistyped.ts']),
      tsc(['--noEmit', '--module', 'esnext', '--moduleResolution', 'node10', 'typed.ts', 'mistyped.ts']),
    ]);
    assert.match(nodenext, only);
    assert.match(node10, only);
    const { stdout } = await run(process.execPath, ['out/typed.js'], { cwd: project.dir, timeout: 10_000 });
    assert.equal(stdout, 'round trip\nreleased\nfunction function\n');
  });

  // ------------------------------------------------------------------ the README, copy-pasted

  const blocks = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const ports = new Map<number, number>();
  const port = (readmePort: number) => ports.get(readmePort) as number;

  test('README: every code block is marked, and the ones not run say why', async () => {
    assert.ok(blocks.length >= 10, 'the README has its blocks');
    for (const b of blocks) if (b.kind === 'skip') assert.ok(b.reason.length > 10, `README.md:${b.line}: say why`);
    // One free port per README port, the same in every block (a block's server, its clients).
    for (const b of blocks) for (const m of b.code.matchAll(/:(7\d{3})\b/g)) ports.set(Number(m[1]), 0);
    for (const readmePort of ports.keys()) ports.set(readmePort, await freePort());
  });

  for (const block of blocks.filter((b) => b.kind === 'sh')) {
    test(`README.md:${block.line}: the shell block runs and prints what the README says`, async () => {
      const script = [...block.setup, withPorts(block.code, port)].join('\n');
      const { status, stdout, stderr } = await shell(script, project.dir);
      assert.equal(status, 0, `exit ${status}\n${stdout}\n${stderr}`);
      for (const re of block.expect) assert.match(stdout, re, `stdout of README.md:${block.line}\n${stderr}`);
      for (const re of block.stderr) assert.match(stderr, re, `stderr of README.md:${block.line}`);
    });
  }

  test('README: the TypeScript blocks type-check and print what the README says', async () => {
    const ts = blocks.filter((b) => b.kind === 'ts');
    assert.ok(ts.length >= 2);
    const files = ts.map((b) => {
      const name = `readme-${b.line}.ts`;
      writeFileSync(join(project.dir, name), withPorts(b.code, port));
      return name;
    });
    const args = ['--strict', '--target', 'es2022', '--module', 'nodenext', '--skipLibCheck'];
    await run(
      process.execPath,
      [TSC, ...args, '--typeRoots', TYPE_ROOTS, '--types', 'node', '--outDir', 'out-readme', ...files],
      {
        cwd: project.dir,
        timeout: 30_000,
      },
    ).catch((e: { stdout: string }) => assert.fail(`tsc:\n${e.stdout}`));
    for (const [i, b] of ts.entries()) {
      const js = `out-readme/${(files[i] as string).replace(/\.ts$/, '.js')}`;
      const { stdout, stderr } = await run(process.execPath, [js], { cwd: project.dir, timeout: 10_000 });
      for (const re of b.expect) assert.match(stdout, re, `stdout of README.md:${b.line}\n${stderr}`);
      for (const re of b.stderr) assert.match(stderr, re, `stderr of README.md:${b.line}`);
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Runs a script as a user would paste it into bash (-e: a failing command fails it). Servers it
 * starts with `&` share its process group, which is ended when the script ends.
 */
function shell(script: string, cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const killAll = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // the group is gone already
    }
  };
  const timer = setTimeout(killAll, 40_000);
  return new Promise((resolve) => {
    let status: number | null = null;
    child.on('exit', (code) => {
      status = code;
      clearTimeout(timer);
      killAll(); // the background servers; the pipes close when the last of them is gone
    });
    child.on('close', () => resolve({ status, stdout, stderr }));
  });
}
