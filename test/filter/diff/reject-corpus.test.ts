/**
 * Expressions libpcap rejects on Ethernet must never become JavaScript
 * matchers (the daemon must refuse them like the C original). 'error' is
 * preferred; 'libpcap' is tolerated and counted (libpcap will refuse later).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oracleCompile } from '../gen/oracle';
import { readExpressions } from './corpus';
import { runEngine } from './harness';

test('reject corpus: never planned as JavaScript', () => {
  const exprs = readExpressions('reject-en10mb.txt');
  assert.ok(exprs.length >= 1000, `reject corpus has ${exprs.length} expressions`);
  const answers = oracleCompile(1, exprs);
  const acceptedByLibpcap = exprs.filter((_, i) => answers[i].ok);
  assert.deepEqual(acceptedByLibpcap, [], 'the oracle accepts expressions of the reject corpus');

  // One rule per matcher as well as all in one: a bad rule must not poison its neighbours.
  const together = runEngine(exprs, 1, []).plans;
  const wrong: string[] = [];
  let errors = 0;
  let deferred = 0;
  exprs.forEach((expr, i) => {
    const alone = runEngine([expr], 1, []).plans[0];
    if (alone.engine !== together[i].engine) wrong.push(`${expr}: planned ${alone.engine} alone but ${together[i].engine} among others`);
    if (alone.engine === 'javascript') wrong.push(`${expr}: planned as JavaScript (libpcap: ${(answers[i] as { error: string }).error})`);
    else if (alone.engine === 'error') errors++;
    else deferred++;
  });
  console.log(`reject corpus: ${exprs.length} expressions: ${errors} refused with 'error', ${deferred} left to libpcap, ${wrong.length} wrongly planned`);
  assert.deepEqual(wrong.slice(0, 50), [], `${wrong.length} reject-corpus expressions handled wrongly`);
});
