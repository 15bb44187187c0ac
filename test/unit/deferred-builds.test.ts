/**
 * src/engine/deferred-builds.ts: builds queued while held wait for the release and its delay,
 * then run in order, one per event-loop turn (other work gets in between); the memo they share
 * lasts while the queue has work.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildLater, buildMemo, holdBuilds, releaseBuilds } from '../../src/engine/deferred-builds';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('held builds wait for the release delay, then run in order, one per turn', async () => {
  const ran: string[] = [];
  holdBuilds();
  buildLater(() => ran.push('a'));
  buildLater(() => ran.push('b'));
  await sleep(50);
  assert.equal(ran.length, 0, 'nothing runs while held');
  const released = Date.now();
  releaseBuilds(200);
  await sleep(100);
  assert.equal(ran.length, 0, 'nothing runs before the delay');
  while (!ran.includes('b') && Date.now() - released < 2000) {
    await turn();
    ran.push('turn');
  }
  assert.ok(Date.now() - released >= 190, 'the delay was kept');
  const a = ran.indexOf('a');
  const b = ran.indexOf('b');
  assert.ok(a >= 0 && b > a + 1, `one build per event-loop turn, in order: ${ran.join(' ')}`);
});

test('not held: a build runs soon', async () => {
  let ran = false;
  buildLater(() => { ran = true; });
  for (let i = 0; i < 5 && !ran; i++) await turn();
  assert.ok(ran);
});

test('builds queued together share memo results; a later queue computes again', async () => {
  let computed = 0;
  const results: number[] = [];
  const compute = (): number => ++computed;
  holdBuilds();
  for (let i = 0; i < 3; i++) buildLater(() => results.push(buildMemo('k', compute)));
  releaseBuilds(0);
  while (results.length < 3) await turn();
  assert.deepEqual(results, [1, 1, 1]);
  buildLater(() => results.push(buildMemo('k', compute)));
  while (results.length < 4) await turn();
  assert.equal(results[3], 2, 'the memo was forgotten once the queue was empty');
});
