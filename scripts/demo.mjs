#!/usr/bin/env node
// The main job, end to end with the embedded defaults: starts `liaison serve --echo` on a free
// port, pipes a few lines through `liaison connect`, shows what came back, and stops the server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const cli = new URL('../packages/cli/dist/main.js', import.meta.url).pathname;
const server = spawn(process.execPath, [cli, 'serve', '--listen', 'tcp://127.0.0.1:0', '--echo'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [first] = await once(createInterface({ input: server.stdout }), 'line');
const url = first.split(' ')[1];
console.log(`server: ${first}`);

const lines = ['hello, session layer', 'every line is one message', 'released in order at the end of input'];
const client = spawn(process.execPath, [cli, 'connect', url, '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
client.stdin.end(`${lines.join('\n')}\n`);
let echoed = '';
let events = '';
client.stdout.on('data', (d) => (echoed += d));
client.stderr.on('data', (d) => (events += d));
const [code] = await once(client, 'exit');

console.log('client sent:\n  ' + lines.join('\n  '));
console.log('client received:\n  ' + echoed.trimEnd().split('\n').join('\n  '));
console.log('client events (--json, on stderr):\n  ' + events.trimEnd().split('\n').join('\n  '));
console.log(`client exit code: ${code}`);
server.kill('SIGTERM');
await once(server, 'exit');
const ok = code === 0 && echoed === `${lines.join('\n')}\n`;
console.log(ok ? 'demo OK: every line came back, in order, and the session was released' : 'demo FAILED');
process.exit(ok ? 0 : 1);
