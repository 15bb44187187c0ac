/**
 * Socket clients: random misbehaving clients (connect and vanish, write
 * garbage, never read, half-close, hold many connections) against the counter
 * socket, while well-behaved clients keep getting every line, exactly. The
 * socket only reads counters: nothing a client writes changes them.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatCounterLines, TextSocket, type CounterLine } from '../../src/outputs/text-socket';
import { readSocket } from '../../src/outputs/query';
import { fuzzInputs, fuzzPrng } from './budget';

test('fuzz: misbehaving socket clients never stop a normal client', async (t) => {
  const prng = fuzzPrng(7);
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-fuzz-sock-'));
  const lines: CounterLine[] = Array.from({ length: 200 }, (_, i) => ({ id: `rule-${i}:x`, bytes: 2 ** 40 + i, packets: i }));
  const expected = formatCounterLines(lines);
  const socket = new TextSocket(join(dir, 'fuzz.sock'), () => lines);
  await socket.listen();
  const hostile: Socket[] = [];
  t.after(() => {
    for (const c of hostile) c.destroy();
    socket.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const total = fuzzInputs(400);
  let normalReads = 0;
  for (let i = 0; i < total; i++) {
    // At most 300 held open at once: this process holds both ends of each (and the daemon drops
    // silent clients after 10 s anyway); long runs would otherwise exhaust the test's own descriptors.
    if (hostile.length >= 300) hostile.splice(0, 50).forEach((old) => old.destroy());
    const c = connect(socket.path);
    c.on('error', () => undefined);
    switch (prng.int(5)) {
      case 0: c.destroy(); break; // vanish at once
      case 1: c.on('connect', () => c.write(Buffer.from(Array.from({ length: prng.range(1, 4096) }, () => prng.int(256))))); hostile.push(c); break;
      case 2: c.pause(); hostile.push(c); break; // never reads
      case 3: c.on('connect', () => c.end('reload\nstop\n')); hostile.push(c); break; // half-close after "commands"
      default: c.on('connect', () => setTimeout(() => c.destroy(), prng.int(20))); break;
    }
    if (i % 20 === 0) {
      assert.equal(await readSocket(socket.path), expected, `normal client after ${i} hostile ones`);
      normalReads++;
    }
  }
  assert.equal(await readSocket(socket.path), expected);
  console.log(`fuzz socket clients: ${total} misbehaving clients (up to 300 open at once, ${hostile.length} at the end), ${normalReads + 1} normal reads exact`);
  assert.deepEqual(lines[0], { id: 'rule-0:x', bytes: 2 ** 40, packets: 0 }, 'what clients wrote changed no counter');
});
