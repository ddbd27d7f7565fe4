// A named token as a lock shared by two clients: the server grants 'printer' to one session at a
// time, in request order; the next waiter gets it when the holder releases it (or its session
// ends). Run: node examples/named-lock.mjs
import { connect, listen } from 'liaison';

const text = (bytes) => new TextDecoder().decode(bytes);

const server = await listen('tcp://127.0.0.1:0');
const printed = [];
const atServer = new Map(); // peer's user data -> the server's Session
server.on('session', (session) => {
  atServer.set(text(session.peerUserData), session);
  session.on('message', (m) => {
    // Only the holder of 'printer' prints: the server checks it at the moment the job arrives.
    const holds = server.tokens?.holder('printer') === session;
    printed.push(`${text(m)} (sender holds the lock: ${holds})`);
  });
});

const alice = connect(server.url, { userData: 'alice' });
const bob = connect(server.url, { userData: 'bob' });
await Promise.all([alice.ready, bob.ready]);

await alice.acquire('printer');
console.log('alice: holds printer');
const bobsTurn = bob.acquire('printer', { signal: AbortSignal.timeout(5_000) });
const waiting = () => server.tokens?.waiting('printer').length ?? 0;
while (waiting() === 0) await new Promise((r) => setTimeout(r, 5));
console.log(`bob: waits (${waiting()} in the queue)`);

await alice.send('report from alice');
alice.releaseToken('printer'); // sequenced after the job: the server sees the job first
console.log('alice: released printer');

await bobsTurn;
console.log('bob: holds printer');
await bob.send('report from bob');
await bob.close(); // ending the session gives the lock back too (it was not released)
await atServer.get('bob').closed;
console.log(`server: holder after bob left: ${server.tokens?.holder('printer') ?? 'nobody'}`);

await alice.close();
await server.close();
for (const line of printed) console.log(`server printed: ${line}`);
