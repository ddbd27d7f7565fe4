/**
 * `liaison serve --dashboard HOST:PORT` as a user runs it (the built CLI in a child process):
 * the dashboard URL follows the listening line on stdout, /metrics counts a real client's
 * traffic as it goes, the token from LIAISON_DASHBOARD_TOKEN lets the API abort a session, and
 * SIGTERM closes the dashboard with the server (exit 0).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { connect } from '@liaison/node';
import { sample, track, waitFor, within } from './helpers.js';

const CLI = new URL('../../cli/dist/main.js', import.meta.url).pathname;

describe('liaison serve --dashboard', () => {
  test('prints the URL; /metrics moves with traffic; the env token aborts; SIGTERM closes it', {
    timeout: 60_000,
  }, async (t) => {
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--listen', 'tcp://127.0.0.1:0', '--echo', '--dashboard', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LIAISON_DASHBOARD_TOKEN: 'from-env' } },
    );
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const lines: string[] = [];
    const reader = createInterface({ input: child.stdout });
    reader.on('line', (l) => lines.push(l));
    await waitFor(() => lines.length >= 2, 15_000, `two stdout lines (stderr: ${stderr})`);
    const [listening, dash] = lines as [string, string];
    assert.match(listening, /^listening tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(dash, /^dashboard http:\/\/127\.0\.0\.1:\d+\/$/);
    const url = dash.slice('dashboard '.length);
    const metrics = async () => (await fetch(new URL('metrics', url))).text();
    const bytesIn = async () => sample(await metrics(), 'liaison_bytes_total{direction="in"}');
    assert.equal(await bytesIn(), 0);

    const client = track(t, connect(listening.slice('listening '.length), { resume: false }));
    await within(client.ready, 5_000, 'open');
    const echoes = client[Symbol.asyncIterator]();
    await client.send('first');
    await within(echoes.next(), 5_000, 'first echo');
    assert.equal(await bytesIn(), 'first'.length);
    await client.send('second');
    await within(echoes.next(), 5_000, 'second echo');
    assert.equal(await bytesIn(), 'first'.length + 'second'.length);
    assert.equal(sample(await metrics(), 'liaison_sessions{state="open"}'), 1);

    const { sessions } = (await (await fetch(new URL('api/sessions', url))).json()) as { sessions: { id: string }[] };
    const abort = await fetch(new URL(`api/sessions/${sessions[0]?.id}/abort`, url), {
      method: 'POST',
      headers: { authorization: 'Bearer from-env' },
    });
    assert.equal(abort.status, 200);
    const reason = await within(client.closed, 5_000, 'aborted');
    assert.equal(reason.kind, 'aborted');

    child.kill('SIGTERM');
    const [code] = await within(once(child, 'exit'), 15_000, 'serve exit');
    assert.equal(code, 0, stderr);
    await assert.rejects(fetch(new URL('healthz', url)), 'the dashboard port is closed');
  });
});
