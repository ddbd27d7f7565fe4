/**
 * SecureConnection, every state × every input: what each input does in each state (closes with
 * which code, or changes nothing), never a throw for anything the peer sent, and a usage error for
 * a transport brought up twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortCode, Connection, keyPairFrom, NoiseVariant, SecureConnection, UsageError } from '@liaison/core';
import { closeOf, SecureLink } from './secure-link.js';
import { seededRandom } from './seeded-random.js';

const server = { staticKey: keyPairFrom(seededRandom(77)(32)).privateKey };
type Made = { conn: SecureConnection; now: number };

const STATES: Record<string, () => Made> = {
  idle: () => ({
    conn: new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(1),
      ...server,
    }),
    now: 0,
  }),
  preface: () => {
    const conn = new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(1),
      ...server,
    });
    conn.handleTransportUp(0);
    return { conn, now: 0 };
  },
  'handshake (responder)': () => {
    const conn = new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(1),
      ...server,
    });
    conn.handleTransportUp(0);
    conn.handleBytes(0, Uint8Array.of(0x4c, 0x53, 0x4e, NoiseVariant.XX));
    return { conn, now: 0 };
  },
  'handshake (initiator)': () => {
    const conn = new SecureConnection({ connection: new Connection({ role: 'initiator' }), random: seededRandom(1) });
    conn.handleTransportUp(0);
    conn.pollTransmit();
    return { conn, now: 0 };
  },
  transport: () => {
    const l = new SecureLink({ client: {}, server });
    l.clientConn.openSession(l.now);
    l.pump();
    return { conn: l.server as SecureConnection, now: l.now };
  },
  plaintext: () => {
    const conn = new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(1),
      ...server,
      require: false,
    });
    conn.handleTransportUp(0);
    conn.handleBytes(0, Uint8Array.of(0x4c, 0x53, 0x4e, 0x01));
    return { conn, now: 0 };
  },
  closed: () => {
    const conn = new SecureConnection({
      connection: new Connection({ role: 'responder' }),
      random: seededRandom(1),
      ...server,
    });
    conn.handleTransportUp(0);
    conn.handleTransportDown(0);
    return { conn, now: 0 };
  },
};

type Outcome = 'nothing' | 'usage-error' | number; // a number: closed with that code
/** A record header announcing 38 bytes, then 38 bytes that are not what any state expects. */
const GARBAGE = Uint8Array.of(0x00, 0x26, ...new Uint8Array(38).fill(0xee));
const INPUTS: Record<string, (m: Made) => void> = {
  'transport up': (m) => m.conn.handleTransportUp(m.now),
  garbage: (m) => m.conn.handleBytes(m.now, GARBAGE),
  'timeout, early': (m) => m.conn.handleTimeout(m.now + 1),
  'timeout, past the handshake': (m) => m.conn.handleTimeout(m.now + 10_001),
  'transport down': (m) => m.conn.handleTransportDown(m.now, 'gone'),
  close: (m) => m.conn.close(m.now, AbortCode.SHUTDOWN, 'bye'),
};

const U = 'usage-error';
const N = 'nothing';
const { HANDSHAKE_TIMEOUT: HT, TRANSPORT_LOST: TL, SHUTDOWN: SD } = AbortCode;
// Rows: states; columns: INPUTS in order.
const TABLE: Record<string, Outcome[]> = {
  idle: [N, N, N, N, TL, SD],
  preface: [U, AbortCode.NOISE_REQUIRED, N, HT, TL, SD],
  'handshake (responder)': [U, AbortCode.NOISE_HANDSHAKE_FAILED, N, HT, TL, SD],
  'handshake (initiator)': [U, AbortCode.BAD_PREFACE, N, HT, TL, SD],
  transport: [U, AbortCode.NOISE_RECORD_INVALID, N, N, TL, SD],
  plaintext: [U, AbortCode.FRAME_TOO_LARGE, N, HT, TL, SD], // the inner connection's own timers
  closed: [U, N, N, N, N, N],
};

for (const [state, make] of Object.entries(STATES)) {
  test(`secure connection in state ${state}: every input`, () => {
    Object.entries(INPUTS).forEach(([name, input], i) => {
      const m = make();
      while (m.conn.pollEvent()) {}
      const wasClosed = m.conn.isClosed;
      const expected = TABLE[state]?.[i];
      let threw: unknown = null;
      try {
        input(m);
      } catch (e) {
        threw = e;
      }
      const events = [];
      for (let e = m.conn.pollEvent(); e; e = m.conn.pollEvent()) events.push(e);
      while (m.conn.pollTransmit() !== null) {}
      const where = `${state} × ${name}`;
      if (expected === U) {
        assert.ok(threw instanceof UsageError, `${where}: a usage error`);
        return;
      }
      assert.equal(threw, null, `${where}: no throw (${threw})`);
      if (expected === N) {
        assert.equal(m.conn.isClosed, wasClosed, `${where}: nothing changes`);
        return;
      }
      assert.ok(m.conn.isClosed, `${where}: closed`);
      assert.equal(closeOf(events)?.code, expected, `${where}: ${closeOf(events)?.message}`);
    });
  });
}
