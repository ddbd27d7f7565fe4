/**
 * The receiver's journal on a real file system: what it reports as confirmed is on disk, what was
 * written past the last confirmation is cut off on reopen, a completion interrupted between its
 * record and its rename is finished, and a changed source file never resumes onto old bytes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { JOURNAL_DIR, Journal } from '@liaison/transfer';
import fc from 'fast-check';

const ID = { name: 'data.bin', size: 100, mtimeMs: 1_700_000_000_000 };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'liaison-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('Journal', () => {
  test('a new file has no record; begin() records nothing confirmed', async (t) => {
    const j = await Journal.open(await tempDir(t));
    assert.equal(await j.lookup(ID), null);
    const { record, file } = await j.begin(ID, 'aabbcc');
    await file.close();
    assert.deepEqual(
      { confirmedBytes: record.confirmedBytes, serial: record.serial, status: record.status },
      { confirmedBytes: 0, serial: 0, status: 'partial' },
    );
    assert.equal((await j.lookup(ID))?.activityId, 'aabbcc');
  });

  test('confirm() survives a reopen of the journal; bytes past the confirmed offset are cut off', async (t) => {
    const dir = await tempDir(t);
    const j = await Journal.open(dir);
    const { record, file } = await j.begin(ID, '01');
    await file.write(Buffer.alloc(40, 1), 0, 40, 0);
    await j.confirm(record, file, 40, 3);
    await file.write(Buffer.alloc(30, 2), 0, 30, 40); // written, never confirmed: then the process dies
    await file.close();

    const again = await Journal.open(dir);
    const found = await again.lookup(ID);
    assert.ok(found);
    assert.equal(found.confirmedBytes, 40);
    assert.equal(found.serial, 3);
    const reopened = await again.reopen(found);
    await reopened.close();
    assert.deepEqual(await readFile(again.partPath(found.key)), Buffer.alloc(40, 1));
  });

  test('complete() moves the file into place and keeps a done record with its SHA-256', async (t) => {
    const dir = await tempDir(t);
    const j = await Journal.open(dir);
    const { record, file } = await j.begin(ID, '01');
    await file.write(Buffer.alloc(100, 7), 0, 100, 0);
    await j.complete(record, file, 'ab'.repeat(32));
    assert.deepEqual(await readFile(join(dir, 'data.bin')), Buffer.alloc(100, 7));
    const found = await j.lookup(ID);
    assert.equal(found?.status, 'done');
    assert.equal(found?.sha256, 'ab'.repeat(32));
    assert.deepEqual(
      (await readdir(join(dir, JOURNAL_DIR))).filter((n) => !n.endsWith('.json')),
      [],
    );
  });

  test('a crash between the done record and the rename is finished by the next lookup', async (t) => {
    const dir = await tempDir(t);
    const j = await Journal.open(dir);
    const key = j.keyOf(ID);
    await writeFile(j.partPath(key), Buffer.alloc(100, 9));
    const record = {
      v: 1,
      key,
      ...ID,
      status: 'done',
      activityId: '01',
      confirmedBytes: 100,
      serial: 5,
      sha256: 'cd'.repeat(32),
    };
    await writeFile(join(dir, JOURNAL_DIR, `${key}.json`), JSON.stringify(record));
    assert.equal((await j.lookup(ID))?.status, 'done');
    assert.deepEqual(await readFile(join(dir, 'data.bin')), Buffer.alloc(100, 9));
  });

  test('a changed source file (other size or mtime) does not match; beginning it drops the old one', async (t) => {
    const j = await Journal.open(await tempDir(t));
    const { record, file } = await j.begin(ID, '01');
    await file.write(Buffer.alloc(10), 0, 10, 0);
    await j.confirm(record, file, 10, 1);
    await file.close();
    const changed = { ...ID, mtimeMs: ID.mtimeMs + 1 };
    assert.equal(await j.lookup(changed), null);
    await (await j.begin(changed, '02')).file.close();
    assert.equal(await j.lookup(ID), null, 'the old version is forgotten');
    assert.equal((await j.lookup(changed))?.activityId, '02');
  });

  test('an unreadable or inconsistent record counts as none', async (t) => {
    const dir = await tempDir(t);
    const j = await Journal.open(dir);
    const key = j.keyOf(ID);
    const path = join(dir, JOURNAL_DIR, `${key}.json`);
    await writeFile(j.partPath(key), Buffer.alloc(10));
    for (const text of [
      '',
      '{',
      'null',
      JSON.stringify({ v: 1, key, ...ID, status: 'partial', activityId: '01', confirmedBytes: 200, serial: 1 }),
      JSON.stringify({ v: 1, key, ...ID, status: 'partial', activityId: '01', confirmedBytes: 20, serial: 1 }),
    ]) {
      await writeFile(path, text);
      assert.equal(await j.lookup(ID), null, text);
    }
  });

  test('open() removes temporary files left by a crash mid-write', async (t) => {
    const dir = await tempDir(t);
    await Journal.open(dir);
    await writeFile(join(dir, JOURNAL_DIR, '.tmp-999-x.json'), '{');
    await Journal.open(dir);
    assert.deepEqual(await readdir(join(dir, JOURNAL_DIR)), []);
  });

  test('property: whatever sequence of writes and confirmations, a reopen yields exactly the last confirmed prefix', async (t) => {
    const dir = await tempDir(t);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ bytes: fc.integer({ min: 1, max: 50 }), confirm: fc.boolean() }), { maxLength: 12 }),
        async (steps) => {
          const id = { ...ID, size: 1000 };
          const j = await Journal.open(dir);
          const { record, file } = await j.begin(id, '01');
          let written = 0;
          let confirmed = 0;
          let serial = 0;
          for (const s of steps) {
            if (written + s.bytes > id.size) break;
            await file.write(Buffer.alloc(s.bytes, written % 251), 0, s.bytes, written);
            written += s.bytes;
            if (s.confirm) {
              await j.confirm(record, file, written, ++serial);
              confirmed = written;
            }
          }
          await file.close();
          const found = await j.lookup(id);
          assert.ok(found);
          assert.equal(found.confirmedBytes, confirmed);
          assert.equal(found.serial, serial);
          await (await j.reopen(found)).close();
          assert.equal((await readFile(j.partPath(found.key))).byteLength, confirmed);
          await j.discard(found.key);
        },
      ),
      { numRuns: 25 },
    );
  });
});
