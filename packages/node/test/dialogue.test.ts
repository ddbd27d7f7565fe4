/**
 * Tokens, sync points and activities over real loopback sockets: the public Session API, the
 * ordering rule (stream events fire only after the messages before them were taken), promises
 * settled by confirmations, an activity resumed in a new session, and token passing and sync
 * points through a proxy that cuts the transport.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect, ErrorCode, type Session, UsageError } from '@liaison/node';
import { FaultProxy } from '@liaison/testkit';
import { nextSession, startServer, stateAfter, text, track, waitFor, within } from './helpers.js';

const ACTIVITY_UNITS = ['duplex', 'typed-data', 'activity-management', 'major-synchronize', 'resynchronize'];
const HALF_UNITS = ['half-duplex', 'minor-synchronize', 'major-synchronize', 'negotiated-release', 'typed-data'];

/** Records messages and stream events in the order the application sees them. */
function journal(s: Session, events: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of events) {
    s.on(name as 'sync-major', (e: { serial?: number }) =>
      out.push(e?.serial !== undefined ? `${name}:${e.serial}` : name),
    );
  }
  return out;
}

describe('dialogue units over sockets', () => {
  test('activity with major sync points: events after the messages before them; promises on confirmation', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url, { units: ACTIVITY_UNITS }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    assert.deepEqual(client.tokens, {
      data: 'unavailable',
      minor: 'unavailable',
      major: 'mine',
      release: 'unavailable',
    });
    assert.equal(accepted.tokens.major, 'peer');

    const seen = journal(accepted, ['activity-start', 'sync-major', 'activity-end']);
    client.startActivity('file-7', 'name');
    for (let i = 0; i < 20; i++) void client.send(`m${i}`);
    const sync = client.syncMajor('chk');
    // Nothing read yet: the sync point waits behind 20 unread messages.
    await waitFor(() => seen.length >= 1, 2_000, 'activity-start');
    assert.deepEqual(seen, ['activity-start']);
    assert.equal(await stateAfter(sync, 100), 'pending');
    // A send after the sync point waits for the confirmation (X.225: no new data until then).
    const late = client.send('after');
    const it = accepted[Symbol.asyncIterator]();
    for (let i = 0; i < 20; i++) {
      assert.ok(!seen.includes('sync-major:1'), `sync-major not before message ${i} was taken`);
      const r = await within(it.next(), 2_000, 'message');
      assert.equal(text(r.value as Uint8Array), `m${i}`);
    }
    // The application is done with the last message when it asks for the next one: only then.
    assert.equal(await stateAfter(late, 50), 'pending');
    assert.ok(!seen.includes('sync-major:1'), 'not while the last message is being handled');
    const afterP = it.next();
    await waitFor(() => seen.includes('sync-major:1'), 2_000, 'sync-major after the messages');
    accepted.confirmMajor('ok');
    const confirmed = await within(sync, 2_000, 'confirmation');
    assert.equal(confirmed.serial, 1);
    assert.equal(text(confirmed.userData), 'ok');
    await within(late, 2_000, 'the waiting send');
    assert.equal(text((await within(afterP, 2_000, 'after')).value as Uint8Array), 'after');

    const end = client.endActivity('done');
    const released = it.next();
    await waitFor(() => seen.includes('activity-end:2'), 2_000, 'activity-end');
    assert.deepEqual(client.activity?.serial, 1);
    accepted.confirmMajor();
    assert.equal((await within(end, 2_000, 'end confirmed')).serial, 2);
    assert.equal(client.activity, null);
    assert.equal(accepted.activity, null);
    await within(Promise.all([client.close(), released]), 2_000, 'release');
  });

  test('a command without the token throws TOKEN_NOT_HELD; a pending sync rejects when the session ends', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url, { units: ACTIVITY_UNITS }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    const tokenError = (e: unknown) => e instanceof UsageError && e.code === ErrorCode.TOKEN_NOT_HELD;
    assert.throws(() => accepted.startActivity('x'), tokenError);
    await assert.rejects(accepted.syncMajor(), tokenError);
    client.startActivity('x');
    assert.throws(
      () => client.startActivity('y'),
      (e: unknown) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
    const pending = client.syncMajor();
    await assert.rejects(
      client.syncMajor(),
      (e: unknown) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
    accepted.abort();
    await assert.rejects(
      within(pending, 2_000, 'rejection'),
      (e: Error & { code?: string }) => e.code === ErrorCode.SESSION_ABORTED,
    );
  });

  test('an interrupted activity is resumed in a new session from its last confirmed sync point', async (t) => {
    const server = await startServer(t);
    // A receiver that takes its messages (the sync point fires only after them) and confirms.
    server.on('session', (s) => {
      s.on('message', () => {});
      s.on('sync-major', () => s.confirmMajor());
      s.on('activity-end', () => s.confirmMajor());
    });
    const first = track(t, connect(server.url, { units: ACTIVITY_UNITS }));
    await within(first.ready, 2_000, 'ready');
    first.startActivity('job');
    await first.send('part 1');
    const one = await within(first.syncMajor(), 2_000, 'first sync point');
    await first.send('part 2');
    await within(first.interruptActivity(5, 'pause'), 2_000, 'interrupt acknowledged');
    await within(first.close(), 2_000, 'release');

    const second = track(t, connect(server.url, { units: ACTIVITY_UNITS }));
    const resumed = new Promise<{ id: string; oldId: string; serial: number }>((resolve) => {
      server.once('session', (s) =>
        s.once('activity-resume', (e) => resolve({ id: text(e.id), oldId: text(e.oldId), serial: e.serial })),
      );
    });
    await within(second.ready, 2_000, 'ready');
    second.resumeActivity({ id: 'job#2', oldId: 'job', serial: one.serial });
    assert.deepEqual(await within(resumed, 2_000, 'activity-resume'), { id: 'job#2', oldId: 'job', serial: 1 });
    assert.equal(second.serial, 2);
    const next = await within(second.syncMajor(), 2_000, 'sync after resume');
    assert.equal(next.serial, 2);
    assert.equal((await within(second.endActivity(), 2_000, 'activity end')).serial, 3);
    await within(second.close(), 2_000, 'release');
  });

  test('capability data outside an activity resolves with the confirmation', async (t) => {
    const server = await startServer(t);
    server.on('session', (s) => s.on('capability-data', (e) => s.confirmCapability(`got ${text(e.userData)}`)));
    const client = track(t, connect(server.url, { units: [...ACTIVITY_UNITS, 'capability-data'] }));
    await within(client.ready, 2_000, 'ready');
    assert.equal(text(await within(client.sendCapability('caps'), 2_000, 'confirmation')), 'got caps');
    client.startActivity('a');
    await assert.rejects(
      client.sendCapability('x'),
      (e: Error & { code?: string }) => e.code === ErrorCode.INVALID_STATE,
    );
  });

  test('half-duplex: only the data token holder sends; please, give and give-control', async (t) => {
    const server = await startServer(t, { initialTokens: { release: 'responder' } });
    // S-CONTROL-GIVE belongs to the activity management unit (X.215).
    const client = track(t, connect(server.url, { units: [...HALF_UNITS, 'activity-management'] }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    assert.deepEqual(client.tokens, { data: 'mine', minor: 'mine', major: 'mine', release: 'peer' });
    await assert.rejects(accepted.send('no'), (e: Error & { code?: string }) => e.code === ErrorCode.TOKEN_NOT_HELD);
    const typed = new Promise<string>((r) => client.once('typed', (m) => r(text(m))));
    await accepted.sendTyped('typed needs no token');
    assert.equal(await within(typed, 2_000, 'typed'), 'typed needs no token');
    const requested = new Promise<string[]>((r) => client.once('tokens-requested', (e) => r(e.tokens)));
    accepted.pleaseTokens(['data'], 'may I');
    assert.deepEqual(await within(requested, 2_000, 'tokens-requested'), ['data']);
    const gotData = new Promise<string[]>((r) => accepted.once('tokens', (e) => r(e.mine)));
    await client.send('before the give');
    // Data, minor and major: with the release token the server then holds every token, as
    // giveControl() below needs (X.215 S-CONTROL-GIVE surrenders them all).
    client.giveTokens(['data', 'minor', 'major']);
    // The 'tokens' event is part of the stream: it fires once the message before it was taken.
    assert.equal(await stateAfter(gotData, 100), 'pending');
    const atServer = accepted[Symbol.asyncIterator]();
    assert.equal(text((await within(atServer.next(), 2_000, 'message')).value as Uint8Array), 'before the give');
    // ... and once the application asks for the next message (it is done with that one).
    assert.equal(await stateAfter(gotData, 50), 'pending');
    const ended = atServer.next();
    assert.deepEqual(await within(gotData, 2_000, 'tokens'), ['data', 'minor', 'major', 'release']);
    await assert.rejects(
      client.send('no longer'),
      (e: Error & { code?: string }) => e.code === ErrorCode.TOKEN_NOT_HELD,
    );
    await accepted.send('now me');
    const it = client[Symbol.asyncIterator]();
    assert.equal(text((await within(it.next(), 2_000, 'reply')).value as Uint8Array), 'now me');
    accepted.giveControl();
    await waitFor(() => client.owns('release') && client.owns('data'), 2_000, 'control');
    await within(Promise.all([client.close(), ended]), 2_000, 'release');
  });

  test('token passing and sync points across transport cuts: one holder, serials in order', {
    timeout: 30_000,
  }, async (t) => {
    const server = await startServer(t);
    const proxy = new FaultProxy({ target: server.address, cutAtBytes: [300, 1500], seed: 11 });
    await proxy.start();
    t.after(() => proxy.stop());
    const units = ['half-duplex', 'minor-synchronize', 'major-synchronize', 'typed-data'];
    const client = track(t, connect(proxy.url, { units }));
    const accepted = await nextSession(server);
    await within(client.ready, 5_000, 'ready');
    const serialsAtServer: number[] = [];
    const serialsAtClient: number[] = [];
    accepted.on('sync-minor', (e) => serialsAtServer.push(e.serial));
    client.on('sync-minor', (e) => serialsAtClient.push(e.serial));
    accepted.on('sync-major', () => accepted.confirmMajor());
    client.on('sync-major', () => client.confirmMajor());
    const got = { client: [] as string[], server: [] as string[] };
    client.on('message', (m) => got.client.push(text(m)));
    accepted.on('message', (m) => got.server.push(text(m)));
    const tokens = ['data', 'minor', 'major'] as const;
    // 30 turns: the holder sends, takes a minor and a major sync point, hands all its tokens over.
    for (let turn = 0; turn < 30; turn++) {
      const [speaker, listener] = turn % 2 === 0 ? [client, accepted] : [accepted, client];
      await waitFor(() => tokens.every((tk) => speaker.owns(tk)), 10_000, `turn ${turn}: tokens arrive`);
      for (const tk of tokens) assert.ok(!listener.owns(tk), `turn ${turn}: ${tk} held by one side only`);
      await speaker.send(`turn ${turn}`);
      speaker.syncMinor();
      await within(speaker.syncMajor(), 10_000, `turn ${turn}: major sync`);
      speaker.giveTokens([...tokens]);
    }
    await waitFor(() => got.server.length === 15 && got.client.length === 15, 10_000, 'all messages');
    assert.deepEqual(
      got.server,
      Array.from({ length: 15 }, (_, i) => `turn ${2 * i}`),
    );
    assert.deepEqual(
      got.client,
      Array.from({ length: 15 }, (_, i) => `turn ${2 * i + 1}`),
    );
    // One shared serial counter: minor at 2k, major at 2k+1 on turn k, each seen once, in order.
    assert.deepEqual(
      serialsAtServer,
      Array.from({ length: 15 }, (_, i) => 4 * i),
    );
    assert.deepEqual(
      serialsAtClient,
      Array.from({ length: 15 }, (_, i) => 4 * i + 2),
    );
    t.diagnostic(`${proxy.counters.cuts} cuts, ${client.stats.resumes} resumes`);
    assert.ok(client.stats.resumes >= 2, `the transport was cut (${proxy.counters.cuts} cuts)`);
    await waitFor(() => tokens.every((tk) => client.owns(tk)), 10_000, 'the last give');
    await within(client.close(), 10_000, 'release');
  });

  test('an activity with major sync points through transport cuts: each sync point after its data', {
    timeout: 30_000,
  }, async (t) => {
    const server = await startServer(t);
    const proxy = new FaultProxy({ target: server.address, cutAtBytes: [3_000, 8_000], seed: 5 });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = track(t, connect(proxy.url, { units: ACTIVITY_UNITS }));
    const accepted = await nextSession(server);
    await within(client.ready, 5_000, 'ready');
    const written: string[] = [];
    const checks: string[] = [];
    accepted.on('sync-major', (e) => {
      // The receiver's contract: every message before the sync point is already written.
      checks.push(`${e.serial}:${written.length}`);
      accepted.confirmMajor();
    });
    accepted.on('activity-end', () => accepted.confirmMajor());
    const reading = (async () => {
      for await (const m of accepted) written.push(text(m));
    })();
    client.startActivity('transfer');
    const chunk = 'x'.repeat(100);
    for (let point = 1; point <= 10; point++) {
      for (let i = 0; i < 20; i++) await client.send(`${point}.${i} ${chunk}`);
      const r = await within(client.syncMajor(), 10_000, `sync point ${point}`);
      assert.equal(r.serial, point);
    }
    assert.equal((await within(client.endActivity(), 10_000, 'end')).serial, 11);
    await within(client.close(), 10_000, 'release');
    await within(reading, 10_000, 'reader done');
    assert.deepEqual(
      checks,
      Array.from({ length: 10 }, (_, i) => `${i + 1}:${(i + 1) * 20}`),
    );
    assert.equal(written.length, 200);
    t.diagnostic(`${proxy.counters.cuts} cuts, ${client.stats.resumes} resumes`);
    assert.ok(client.stats.resumes >= 2, `the transport was cut (${proxy.counters.cuts} cuts)`);
  });

  test('resynchronize purges messages not yet taken and settles on confirmation', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url, { units: ACTIVITY_UNITS }));
    const accepted = await nextSession(server);
    await within(client.ready, 2_000, 'ready');
    client.startActivity('a');
    for (let i = 0; i < 10; i++) await client.send(`old ${i}`);
    await waitFor(() => accepted.stats.messagesReceived === 10, 2_000, 'arrived, unread');
    const order: string[] = [];
    accepted.on('resynchronize', (e) => {
      order.push(`resync:${e.kind}:${e.serial}`);
      accepted.confirmResynchronize();
    });
    const done = client.resynchronize('restart');
    assert.equal((await within(done, 2_000, 'resynchronized')).serial, 1);
    await client.send('new');
    const it = accepted[Symbol.asyncIterator]();
    assert.equal(text((await within(it.next(), 2_000, 'new')).value as Uint8Array), 'new');
    assert.deepEqual(order, ['resync:restart:1']);
    assert.equal(accepted.purged.received, 10, 'the ten unread messages were purged and counted');
  });
});
