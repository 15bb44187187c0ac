/**
 * src/service/collect-garbage.ts: a full collection really collects the whole
 * heap. V8's gc() quietly runs a young collection for any options bag, even
 * `{ type: 'major' }`; the daemon's five-minute "full" collection was one of
 * those until --trace-gc showed it. Read from V8's own trace in a child node.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const MODULE = join(__dirname, '..', '..', 'src', 'service', 'collect-garbage.js');

/** V8's trace lines of one collectGarbage(kind) call in a fresh node. */
function traceOf(kind: 'full' | 'young'): string[] {
  const script = `const { collectGarbage } = require(${JSON.stringify(MODULE)});
console.log('<<'); collectGarbage(${JSON.stringify(kind)}); console.log('>>');`;
  const run = spawnSync(process.execPath, ['--trace-gc', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n');
  return lines.slice(lines.indexOf('<<') + 1, lines.indexOf('>>'));
}

test('a full collection is a mark-compact of the whole heap', () => {
  const trace = traceOf('full');
  assert.equal(trace.length, 1, trace.join('\n'));
  assert.match(trace[0], /Mark-(Compact|sweep)/);
});

test('a young collection is a scavenge only', () => {
  const trace = traceOf('young');
  assert.equal(trace.length, 1, trace.join('\n'));
  assert.match(trace[0], /Scavenge/);
});
