#!/usr/bin/env node
/**
 * What tombstones cost (issue 10.2): opens N resumable sessions between two in-memory
 * connections, ends them all on the server side, and measures the server table's heap after
 * forced GC with tombstones kept and with `tombstonesMax: 0`. Run: `node --expose-gc
 * bench/tombstones.mjs [N]` (default 5,000) after `npm run build`.
 */
import { randomBytes } from 'node:crypto';
import { Connection, SessionTable } from '@liaison/core';
import { nativeKeyAgreement } from '@liaison/node';

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const N = Number(process.argv[2] ?? 5000);
const random = (n) => new Uint8Array(randomBytes(n));

function endSessions(tombstonesMax) {
  const options = { resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30, tombstonesMax };
  const serverTable = new SessionTable(options);
  const clientTable = new SessionTable(options);
  const common = { random, keyAgreement: nativeKeyAgreement, limits: { sessionsPerConnectionMax: N + 1 } };
  const client = new Connection({ role: 'initiator', table: clientTable, ...common });
  const server = new Connection({ role: 'responder', table: serverTable, ...common });
  client.handleTransportUp(0);
  server.handleTransportUp(0);
  const pump = () => {
    for (let moved = 1; moved > 0; ) {
      moved = 0;
      for (const [a, b] of [
        [client, server],
        [server, client],
      ]) {
        for (let bytes = a.pollTransmit(); bytes; bytes = a.pollTransmit()) {
          b.handleBytes(0, bytes);
          moved += bytes.byteLength;
        }
      }
      for (let e = server.pollEvent(); e; e = server.pollEvent()) {
        if (e.type === 'connect-request') e.session.accept(0, new Uint8Array(0));
      }
      while (client.pollEvent());
    }
  };
  const sessions = [];
  for (let i = 0; i < N; i++) sessions.push(client.openSession(0));
  pump();
  for (const s of sessions) s.abort(0, new Uint8Array(0));
  pump();
  client.close?.(0);
  return { serverTable };
}

/** Heap used once garbage collection has nothing left to free (a few full GCs). */
function settledHeap() {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    globalThis.gc();
    const now = process.memoryUsage().heapUsed;
    if (Math.abs(last - now) < 4096) return now;
    last = now;
  }
  return last;
}

/** Heap the table holds: measured with it alive, then again once it is dropped. */
function retainedBy(tombstonesMax) {
  let kept = endSessions(tombstonesMax);
  const count = kept.serverTable.tombstoneCount;
  const alive = settledHeap();
  kept = null;
  return { count, bytes: alive - settledHeap() };
}

const none = retainedBy(0);
const kept = retainedBy(N);
const perTombstone = (kept.bytes - none.bytes) / kept.count;
console.log(`${kept.count} tombstones kept (${none.count} with tombstonesMax 0)`);
console.log(
  `server table retains ${(kept.bytes / 1e6).toFixed(2)} MB with them, ${(none.bytes / 1e6).toFixed(2)} MB without`,
);
console.log(
  `about ${Math.round(perTombstone)} bytes per tombstone: the default 16,384 hold ${((perTombstone * 16384) / 1e6).toFixed(1)} MB`,
);
