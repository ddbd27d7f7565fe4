/**
 * Sim seed 905648: the world ran every happening due at one instant (a delivery, then a slow
 * reader's consume timer) before it read the engines' events, so the application acted on an
 * engine already past events it had not read. Now each happening is followed by the world's
 * settle (`runDue`'s `after`), as a driver reads every event after each input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Network, Rng } from '@liaison/sim';

describe('the order of happenings (sim seed 905648)', () => {
  test('runDue runs `after` after each happening due, before the next one', () => {
    const net = new Network(new Rng(1));
    const log: string[] = [];
    net.schedule(10, () => log.push('delivery'));
    net.schedule(10, () => log.push('timer'));
    net.schedule(11, () => log.push('later'));
    assert.equal(
      net.runDue(10, () => log.push('settle')),
      2,
    );
    assert.deepEqual(log, ['delivery', 'settle', 'timer', 'settle'], 'the timer runs only once the delivery was read');
  });
});
