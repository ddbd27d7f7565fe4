/**
 * Time, all virtual: keepalive PINGs after silence and the RTT estimate from PONGs, a dead peer
 * closed with IDLE_TIMEOUT when the link stalls, handshake and release timeouts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, type Frame, FrameDecoder, FrameType } from '@liaison/core';
import { establish, eventsOf, Pair } from './harness.js';

function framesOf(chunks: Uint8Array[]): Frame[] {
  const d = new FrameDecoder({ frameBytesMax: 1 << 30, userDataBytesMax: 0xffff }, { expectPreface: true });
  const out: Frame[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  }
  return out;
}
const pings = (chunks: Uint8Array[]) => framesOf(chunks).filter((f) => f.type === FrameType.PING).length;

describe('keepalive', () => {
  test('a PING goes out after keepaliveIntervalMs of silence, not before', () => {
    const p = new Pair({ limits: { keepaliveIntervalMs: 1000, idleTimeoutMs: 5000 } });
    establish(p);
    assert.equal(p.a.conn.pollTimeout(), 1000);
    p.advance(999, 100);
    assert.equal(pings(p.a.wire), 0);
    p.advance(1, 1);
    assert.equal(pings(p.a.wire), 1);
    assert.equal(pings(p.b.wire), 1);
  });

  test('the PONG gives an RTT estimate', () => {
    const p = new Pair({ limits: { keepaliveIntervalMs: 1000, idleTimeoutMs: 5000 } });
    establish(p);
    p.now = 1000;
    p.a.conn.handleTimeout(p.now);
    const ping = p.a.conn.pollTransmit()!;
    p.now += 30;
    p.b.conn.handleBytes(p.now, ping);
    const pong = p.b.conn.pollTransmit()!;
    assert.equal(framesOf([Uint8Array.of(0x4c, 0x53, 0x4e, 1), pong])[0]?.type, FrameType.PONG);
    p.now += 30;
    p.a.conn.handleBytes(p.now, pong);
    assert.equal(p.a.conn.rtt?.latestMs, 60);
    const rtt = [];
    for (let e = p.a.conn.pollEvent(); e !== null; e = p.a.conn.pollEvent()) if (e.type === 'rtt') rtt.push(e);
    assert.equal(rtt.at(-1)?.rttMs, 60);
  });

  test('a PONG that echoes no PING of ours is ignored', () => {
    const p = new Pair({ limits: { keepaliveIntervalMs: 1000, idleTimeoutMs: 5000 } });
    establish(p);
    const before = p.a.conn.rtt;
    p.a.conn.handleBytes(p.now, Uint8Array.from([0x42, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(p.a.conn.rtt, before);
  });

  test('keepalive keeps a quiet, healthy link open far past the idle timeout', () => {
    const p = new Pair({ limits: { keepaliveIntervalMs: 1000, idleTimeoutMs: 3000 } });
    const ch = establish(p);
    p.advance(20_000, 250);
    assert.ok(p.a.conn.isOpen && p.b.conn.isOpen);
    assert.equal(p.a.conn.session(ch)?.state, 'open');
    assert.ok(pings(p.a.wire) >= 10);
  });

  test('a dead peer (stalled link) is closed with IDLE_TIMEOUT', () => {
    const p = new Pair({ limits: { keepaliveIntervalMs: 1000, idleTimeoutMs: 3000 } });
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    p.linkUp = false;
    p.advance(2999, 100);
    assert.ok(p.a.conn.isOpen);
    p.advance(1, 1);
    assert.ok(p.a.conn.isClosed && p.b.conn.isClosed);
    const [closed] = eventsOf(p.a, 'connection-closed');
    assert.equal(closed?.code, AbortCode.IDLE_TIMEOUT);
    assert.equal(closed?.origin, 'local');
    assert.equal(a.closeReason?.kind === 'aborted' && a.closeReason.code, AbortCode.IDLE_TIMEOUT);
  });

  test('the agreed idle timeout is the smaller non-zero one of both sides', () => {
    const p = new Pair({
      initiator: { limits: { keepaliveIntervalMs: 0, idleTimeoutMs: 0 } },
      responder: { limits: { keepaliveIntervalMs: 500, idleTimeoutMs: 2000 } },
    });
    establish(p);
    p.linkUp = false;
    p.advance(2000, 100);
    assert.ok(p.a.conn.isClosed, 'the initiator adopted the responder’s timer');
  });
});

describe('timeouts', () => {
  test('handshake timeout: an unanswered connect request is aborted with HANDSHAKE_TIMEOUT', () => {
    const p = new Pair({
      initiator: { limits: { handshakeTimeoutMs: 2000 } },
      responder: { limits: { handshakeTimeoutMs: 60_000 } },
    });
    const a = p.a.conn.openSession(p.now);
    p.pump();
    p.advance(1999, 100);
    assert.equal(a.state, 'connecting');
    p.advance(1, 1);
    assert.equal(a.closeReason?.kind === 'aborted' && a.closeReason.code, AbortCode.HANDSHAKE_TIMEOUT);
    const [closed] = eventsOf(p.b, 'closed');
    assert.ok(closed?.reason.kind === 'aborted' && closed.reason.origin === 'peer');
    assert.equal(closed?.reason.kind === 'aborted' && closed.reason.code, AbortCode.HANDSHAKE_TIMEOUT);
  });

  test('handshake timeout on the responder: an application that never answers', () => {
    const p = new Pair({
      initiator: { limits: { handshakeTimeoutMs: 60_000 } },
      responder: { limits: { handshakeTimeoutMs: 1000 } },
    });
    const a = p.a.conn.openSession(p.now);
    p.pump();
    p.advance(1000, 100);
    assert.equal(a.closeReason?.kind === 'aborted' && a.closeReason.code, AbortCode.HANDSHAKE_TIMEOUT);
  });

  test('a connection with no session for handshakeTimeoutMs is closed', () => {
    const p = new Pair({ limits: { handshakeTimeoutMs: 1000 } });
    p.advance(1000, 100);
    assert.equal(eventsOf(p.b, 'connection-closed')[0]?.code, AbortCode.HANDSHAKE_TIMEOUT);
  });

  test('release timeout: a release never answered is aborted with RELEASE_TIMEOUT', () => {
    const p = new Pair({
      initiator: { limits: { releaseTimeoutMs: 3000 } },
      responder: { limits: { releaseTimeoutMs: 60_000 } },
    });
    const ch = establish(p);
    const a = p.a.conn.session(ch)!;
    a.release(p.now, new Uint8Array(0));
    p.pump();
    p.advance(2999, 500);
    assert.equal(a.state, 'releasing');
    p.advance(1, 1);
    assert.equal(a.closeReason?.kind === 'aborted' && a.closeReason.code, AbortCode.RELEASE_TIMEOUT);
    const b = eventsOf(p.b, 'closed')[0]?.reason;
    assert.ok(b?.kind === 'aborted' && b.code === AbortCode.RELEASE_TIMEOUT && b.origin === 'peer');
  });
});
