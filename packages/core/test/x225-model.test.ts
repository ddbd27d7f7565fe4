/**
 * Model-based test of the dialogue machine against an independent X.225 reference model
 * (test/x225-model/, written from ITU-T X.225 Annex A, not from the engine): random sequences of
 * user requests on either side and deliveries of the frames in flight run on two real engine
 * sessions and on the model side by side; after every step both must agree on what was accepted
 * or refused (and why), the tokens, V(M), the activity, what is pending, what each application was
 * told and what is in flight. A divergence fails with fast-check's shrunk sequence and its seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Unit } from '@liaison/core';
import fc from 'fast-check';
import { commandArbitraries, resetNames } from './x225-model/commands.js';
import { EngineWorld } from './x225-model/engine.js';
import type { Mutant } from './x225-model/side.js';
import { World, type WorldConfig } from './x225-model/world.js';

/** A unit selected three times in four. */
const likely = fc.integer({ min: 0, max: 3 }).map((n) => n > 0);

const config: fc.Arbitrary<WorldConfig> = fc
  .record({
    half: fc.boolean(),
    minor: likely,
    major: likely,
    resync: likely,
    activities: fc.boolean(),
    release: likely,
    responderTokens: fc.integer({ min: 0, max: 15 }),
    initialSerial: fc.integer({ min: 0, max: 5 }),
  })
  .map((c) => ({
    units:
      Unit.KERNEL |
      (c.half ? Unit.HALF_DUPLEX : Unit.DUPLEX) |
      (c.minor ? Unit.MINOR_SYNCHRONIZE : 0) |
      (c.major ? Unit.MAJOR_SYNCHRONIZE : 0) |
      (c.resync ? Unit.RESYNCHRONIZE : 0) |
      (c.activities ? Unit.ACTIVITY_MANAGEMENT : 0) |
      (c.release ? Unit.NEGOTIATED_RELEASE : 0),
    responderTokens: c.responderTokens,
    initialSerial: c.initialSerial,
  }));

function property(mutant: Mutant) {
  return fc.property(
    config,
    fc.commands(commandArbitraries(), {
      maxCommands: 80,
      size: 'large',
      replayPath: mutant === null ? process.env.X225_REPLAY : undefined,
    }),
    (cfg, cmds) => {
      resetNames();
      fc.modelRun(() => ({ model: new World(cfg, mutant), real: new EngineWorld(cfg) }), cmds);
    },
  );
}

/**
 * 400 runs keep the file near 5 s. X225_RUNS=20000 explores longer; a failure prints its seed,
 * path and replayPath: the same X225_RUNS with X225_SEED, X225_PATH and X225_REPLAY replays it.
 */
function options(): fc.Parameters<[WorldConfig, Iterable<fc.Command<World, EngineWorld>>]> {
  const env = process.env;
  const seed = env.X225_SEED === undefined ? {} : { seed: Number(env.X225_SEED), path: env.X225_PATH };
  return { numRuns: Number(env.X225_RUNS ?? 400), ...seed };
}

test('the dialogue machine follows the X.225 reference model', () => {
  fc.assert(property(null), options());
});

test('the model-based test fails against a deliberately wrong model rule', () => {
  const result = fc.check(property('sync-point-keeps-serial'), { numRuns: 300 });
  assert.equal(result.failed, true, 'a model whose sync points keep V(M) must disagree with the engine');
  assert.match(String(result.errorInstance), /V\(M\)|returned|serial/);
});
