// An activity with major sync points, interrupted, then resumed in a NEW session from its last
// confirmed sync point: the activity id and serial number carry over.
// Run: node examples/resume-activity.mjs
import { connect, listen } from 'liaison';

const UNITS = ['duplex', 'activity-management', 'major-synchronize'];
const text = (bytes) => new TextDecoder().decode(bytes);

// The receiver commits what arrived up to each major sync point it confirms; what came after
// the last one is dropped when the activity is interrupted (the sender sends it again).
const server = await listen('tcp://127.0.0.1:0');
const committed = [];
server.on('session', (session) => {
  let pending = [];
  session.on('message', (m) => pending.push(text(m)));
  const commit = (what, serial) => {
    committed.push(...pending);
    console.log(`receiver: ${what} ${serial}, committed ${pending.join(', ')}`);
    pending = [];
    session.confirmMajor();
  };
  session.on('activity-start', (e) => console.log(`receiver: activity ${text(e.id)} started`));
  session.on('activity-resume', (e) =>
    console.log(`receiver: activity ${text(e.id)} resumes ${text(e.oldId)} after sync point ${e.serial}`),
  );
  session.on('sync-major', (e) => commit('sync point', e.serial));
  session.on('activity-end', (e) => commit('activity end', e.serial));
  session.on('activity-interrupt', () => {
    console.log(`receiver: interrupted, dropping ${pending.join(', ')}`);
    pending = [];
  });
});

// First session: two parts, a confirmed sync point, a third part, then an interrupt.
const first = connect(server.url, { units: UNITS });
await first.ready;
first.startActivity('report');
await first.send('part 1');
await first.send('part 2');
const checkpoint = await first.syncMajor();
console.log(`sender: sync point ${checkpoint.serial} confirmed`);
await first.send('part 3');
await first.interruptActivity(1, 'going offline');
console.log(`sender: interrupted; resume from serial ${checkpoint.serial}`);
await first.close();

// Later, a new session (a new connection): resume the activity after the confirmed serial.
const second = connect(server.url, { units: UNITS });
await second.ready;
second.resumeActivity({ id: 'report#2', oldId: 'report', serial: checkpoint.serial });
console.log(`sender: resumed, the next sync point is ${second.serial}`);
await second.send('part 3');
await second.send('part 4');
const end = await second.endActivity();
console.log(`sender: activity ended at serial ${end.serial}`);
await second.close();
await server.close();
console.log(`receiver has: ${committed.join(', ')}`);
