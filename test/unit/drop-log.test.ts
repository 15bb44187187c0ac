/**
 * src/service/drop-log.ts: kernel drops are logged once per episode (when a
 * poll sees no new ones), at most once a minute, never per packet or per poll.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DROP_LOG_MS, DropLog } from '../../src/service/drop-log';

const S = 1000;

test('one line per episode, when the drops stop, with what the episode dropped', () => {
  const log = new DropLog('lan');
  assert.equal(log.note(0, 0, 0), undefined, 'nothing dropped, nothing said');
  assert.equal(log.note(0, 7, 1 * S), undefined, 'interface drops alone start no episode');
  assert.equal(log.note(100, 0, 2 * S), undefined, 'still dropping: wait for the end');
  assert.equal(log.note(50, 3, 3 * S), undefined);
  assert.equal(log.note(0, 0, 4 * S),
    "lan: 150 packets dropped by the kernel within 2 s, not counted (the capture buffer was full: the daemon did not read in time; the interface dropped 3 more); totals in the stats' drops; a larger buffersize absorbs longer bursts");
  assert.equal(log.note(0, 0, 5 * S), undefined, 'said once');
});

test('episodes within a minute of the last line are summed into the next one', () => {
  const log = new DropLog('lan');
  log.note(10, 0, 0);
  assert.match(log.note(0, 0, 1 * S) ?? '', /^lan: 10 packets/);
  // Short episodes every few seconds: no line until a minute has passed since the last one.
  let lines = 0;
  for (let t = 2 * S; t < DROP_LOG_MS; t += 2 * S) {
    if (log.note(t % (4 * S) === 0 ? 5 : 0, 0, t) !== undefined) lines++;
  }
  assert.equal(lines, 0);
  const due = log.note(0, 0, DROP_LOG_MS + 1 * S);
  assert.match(due ?? '', /^lan: 70 packets dropped by the kernel within 57 s/);
});

test('drops that never stop: a line a minute, each with the drops since the last', () => {
  const log = new DropLog('wan');
  const lines: string[] = [];
  for (let t = 0; t <= 3 * DROP_LOG_MS + 2 * S; t += S) {
    const line = log.note(1000, 0, t);
    if (line !== undefined) lines.push(line);
  }
  assert.equal(lines.length, 3, lines.join('\n'));
  // Each covers 61 polls, one second apart.
  for (const line of lines) assert.match(line, /^wan: 61000 packets dropped by the kernel within 60 s/);
});
