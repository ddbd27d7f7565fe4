/**
 * Rooms and broadcast over real sessions: to(), except(), chained rooms, socket.broadcast and
 * socket.to() reach exactly the selected members, each exactly once (a socket in two of the
 * rooms still gets one copy), and leaving or disconnecting takes a socket out.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EventSocket, InMemoryAdapter } from '@liaison/events';
import { client, connections, sleep, startEvents, waitFor, within } from './helpers.js';

interface S2C {
  news: (n: number) => void;
}
type C2S = Record<string, never>;

describe('rooms and broadcast', { timeout: 30_000 }, () => {
  test('to / except / chains / broadcast reach exactly the right members once', async (t) => {
    const io = await startEvents<C2S, S2C>(t);
    const names = ['a', 'b', 'c', 'd', 'e'] as const;
    const accepted = connections(io, names.length);
    const clients = new Map<string, EventSocket<S2C, C2S>>();
    const got = new Map<string, number[]>();
    for (const name of names) {
      const socket = client<S2C, C2S>(t, io.server.url);
      got.set(name, []);
      socket.on('news', (n) => got.get(name)?.push(n));
      clients.set(name, socket);
      await within(socket.ready, 5_000, `${name} ready`);
    }
    const servers = await accepted;
    // Connections arrive in the order the clients connected (each waited for ready).
    const byName = new Map(names.map((n, i) => [n, servers[i]!]));
    await byName.get('a')!.join(['red', 'blue']);
    await byName.get('b')!.join('red');
    await byName.get('c')!.join('blue');
    await byName.get('d')!.join('green');
    // e is in no room.
    assert.deepEqual([...byName.get('a')!.rooms].sort(), [byName.get('a')!.id, 'blue', 'red'].sort());

    const rounds: [string, () => unknown, string[]][] = [
      ['to red', () => io.to('red').emit('news', 1), ['a', 'b']],
      ['to red and blue (a once)', () => io.to('red').to('blue').emit('news', 2), ['a', 'b', 'c']],
      ['to [red, green] except blue', () => io.to(['red', 'green']).except('blue').emit('news', 3), ['b', 'd']],
      ['all', () => io.emit('news', 4), ['a', 'b', 'c', 'd', 'e']],
      ['all except red', () => io.except('red').emit('news', 5), ['c', 'd', 'e']],
      ["a's broadcast", () => byName.get('a')!.broadcast.emit('news', 6), ['b', 'c', 'd', 'e']],
      ["a's to(red): not a", () => byName.get('a')!.to('red').emit('news', 7), ['b']],
      ['to a socket id', () => io.to(byName.get('e')!.id).emit('news', 8), ['e']],
      ['to an empty room', () => io.to('nobody').emit('news', 9), []],
    ];
    const expected = new Map<string, number[]>(names.map((n) => [n, []]));
    for (const [i, [, send, members]] of rounds.entries()) {
      await send();
      for (const m of members) expected.get(m)?.push(i + 1);
    }
    const total = [...expected.values()].reduce((s, l) => s + l.length, 0);
    await waitFor(() => [...got.values()].reduce((s, l) => s + l.length, 0) >= total, 5_000, 'every delivery');
    await sleep(100); // a duplicate would arrive within this
    for (const name of names) assert.deepEqual(got.get(name), expected.get(name), `member ${name}`);
    assert.deepEqual([...(await io.to('red').socketIds())].sort(), [byName.get('a')!.id, byName.get('b')!.id].sort());

    // Leaving and disconnecting take a socket out of its rooms.
    await byName.get('b')!.leave('red');
    await clients.get('a')!.disconnect();
    await waitFor(() => io.sockets.size === names.length - 1, 5_000, 'a gone');
    assert.deepEqual([...(await io.to('red').socketIds())], []);
    assert.deepEqual([...(await io.to('blue').socketIds())], [byName.get('c')!.id]);
  });

  test('a broadcast takes no ack callback', async (t) => {
    const io = await startEvents<C2S, S2C>(t);
    assert.throws(() => (io.emit as (...a: unknown[]) => void)('news', 1, () => {}), {
      code: 'ERR_LIAISON_INVALID_ARGUMENT',
    });
  });

  test('InMemoryAdapter: union of rooms, each id once, except by room, delAll', async () => {
    const delivered: string[] = [];
    const adapter = new InMemoryAdapter({ deliver: (id) => delivered.push(id) });
    adapter.addAll('1', ['1', 'x', 'y']);
    adapter.addAll('2', ['2', 'x']);
    adapter.addAll('3', ['3', 'y', 'z']);
    const frame = new Uint8Array([1]);
    adapter.broadcast(frame, { rooms: new Set(['x', 'y']), except: new Set(['z']) });
    assert.deepEqual(delivered.sort(), ['1', '2']);
    adapter.delAll('1');
    assert.equal(adapter.socketRooms('1'), undefined);
    assert.deepEqual([...(await adapter.sockets({ rooms: new Set(['x', 'y']), except: new Set() }))].sort(), [
      '2',
      '3',
    ]);
    assert.deepEqual([...(await adapter.sockets({ rooms: new Set(), except: new Set(['2']) }))], ['3']);
  });
});
