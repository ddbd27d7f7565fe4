// A half-duplex exchange: only the holder of the data token may send normal data, so the two
// sides take turns by handing the token over. Run: node examples/turn-taking.mjs
import { connect, listen } from 'liaison';

const ROUNDS = 3;
const text = (bytes) => new TextDecoder().decode(bytes);

const server = await listen('tcp://127.0.0.1:0');
server.on('session', (session) => {
  let turns = 0;
  session.on('message', (m) => console.log(`server: got "${text(m)}"`));
  // The token arrives in the stream after the messages sent before it: our turn now.
  session.on('tokens', async ({ mine }) => {
    if (!mine.includes('data')) return;
    await session.send(`pong ${++turns}`);
    session.giveTokens(['data'], 'your turn');
  });
});

// The initiator holds every available token at the start: here only the data token.
const client = connect(server.url, { units: ['half-duplex'] });
await client.ready;
console.log('client: tokens', JSON.stringify(client.tokens));

const replies = [];
let turn = null;
client.on('message', (m) => replies.push(text(m)));
client.on('tokens', ({ mine }) => mine.includes('data') && turn?.());

for (let i = 1; i <= ROUNDS; i++) {
  await client.send(`ping ${i}`);
  client.giveTokens(['data']);
  try {
    await client.send('out of turn');
  } catch (e) {
    if (i === 1) console.log(`client: sending without the data token fails: ${e.code}`);
  }
  await new Promise((resolve) => {
    turn = resolve;
  });
  console.log(`client: got "${replies.shift()}", the data token is back`);
}

await client.close(); // an orderly release needs every available token: the client holds them
await server.close();
console.log('done');
