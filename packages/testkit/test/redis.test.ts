/**
 * startRedis(): a real redis-server on loopback that answers, dies on kill() (its clients see the
 * reset, as in a crash), and comes back on the same port, which is what the store and cluster
 * tests rely on to test a Redis loss.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startRedis, within } from '@liaison/testkit';

/** One inline command over RESP; resolves with the first reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.write(`${line}\r\n`);
  });
}

test('startRedis: answers on loopback, kill() ends it, a restart on the same port answers again with nothing kept', async () => {
  const redis = await startRedis();
  try {
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await within(command(redis.port, 'PING'), 5_000, 'PING'), '+PONG');
    assert.equal(await command(redis.port, 'SET k v'), '+OK');
    await within(redis.kill(), 5_000, 'kill');
    await assert.rejects(command(redis.port, 'PING'), /ECONNREFUSED/);
    const again = await startRedis({ port: redis.port });
    try {
      assert.equal(await command(again.port, 'GET k'), '$-1', 'nothing persisted across the crash');
    } finally {
      await again.stop();
    }
  } finally {
    await redis.kill();
  }
});
