/**
 * The node-exporter textfile is never seen half-written: a worker rewrites
 * it as fast as it can while this thread reads it in a tight loop; every read
 * must be one whole generation. The same loop against an in-place writer
 * must catch torn files, or the check proves nothing.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { parseMetricsInterval } from '../../src/config/metrics-options';
import { MetricsTextfile } from '../../src/outputs/metrics-textfile';
import { parseExposition, type Exposition } from '../support/exposition';
import type { WriterData } from '../support/textfile-writer-worker';

const RULES = 2000;

/** The generation a read shows, or why it is not one whole generation. */
function generationOf(text: string): number | string {
  let parsed: Exposition;
  try {
    parsed = parseExposition(text);
  } catch (err) {
    return (err as Error).message.slice(0, 100);
  }
  const packets = parsed.samples.filter((s) => s.name === 'bpfcountd_packets_total');
  const bytes = parsed.samples.filter((s) => s.name === 'bpfcountd_bytes_total');
  if (packets.length !== RULES || bytes.length !== RULES) return `${packets.length} packet and ${bytes.length} byte samples`;
  if (parsed.type.size !== 6) return `${parsed.type.size} families`;
  const g = Number(packets[0].value);
  if (packets.some((s) => Number(s.value) !== g) || bytes.some((s) => Number(s.value) !== 100 * g)) return 'mixed generations';
  return g;
}

interface LoopResult {
  reads: number;
  generations: Set<number>;
  torn: string[];
  missing: number;
}

/** Reads in a tight loop (this thread never yields) until `ms` passed, or `stopOnTorn` and a torn read was seen. */
function readLoop(path: string, ms: number, stopOnTorn: boolean): LoopResult {
  const result: LoopResult = { reads: 0, generations: new Set(), torn: [], missing: 0 };
  const end = Date.now() + ms;
  while (Date.now() < end) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      result.missing++;
      continue;
    }
    result.reads++;
    const g = generationOf(text);
    if (typeof g === 'number') result.generations.add(g);
    else {
      result.torn.push(g);
      if (stopOnTorn) break;
    }
  }
  return result;
}

async function withWriter(data: WriterData, body: () => LoopResult): Promise<{ loop: LoopResult; written: number }> {
  const worker = new Worker(join(__dirname, '..', 'support', 'textfile-writer-worker.js'), { workerData: data });
  const done = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { done?: number; log?: string }) => {
      if (m.log !== undefined) reject(new Error(`writer logged: ${m.log}`));
      if (m.done !== undefined) resolve(m.done);
    });
    worker.on('error', reject);
  });
  // Until the first rename, reads would only count as missing (the temporary file comes first).
  const start = Date.now();
  while (!existsSync(data.path) && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
  const loop = body();
  worker.postMessage('stop');
  const written = await done;
  await worker.terminate();
  return { loop, written };
}

describe('metrics textfile', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'bpfc-textfile-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('write then rename: a tight reading loop only ever sees whole generations', async (t) => {
    const dir = tempDir();
    const path = join(dir, 'bpfcountd.prom');
    const { loop, written } = await withWriter({ path, rules: RULES, atomic: true }, () => readLoop(path, 3000, false));
    assert.deepEqual(loop.torn, []);
    assert.equal(loop.missing, 0, 'the file never disappears between writes');
    // The reads overlapped many rewrites, or they prove nothing.
    assert.ok(loop.generations.size >= 20, `only ${loop.generations.size} generations seen in ${loop.reads} reads`);
    assert.ok(written >= loop.generations.size);
    t.diagnostic(`${loop.reads} reads, ${loop.generations.size} of ${written} generations seen, ${RULES} rules`);
    // Stopped: file and temp file gone (a stopped daemon's counters are not current).
    assert.deepEqual(readdirSync(dir), []);
  });

  it('the same loop catches an in-place writer (the check can fail)', async () => {
    const path = join(tempDir(), 'bpfcountd.prom');
    const { loop } = await withWriter({ path, rules: RULES, atomic: false }, () => readLoop(path, 10_000, true));
    assert.ok(loop.torn.length > 0, `no torn read in ${loop.reads} reads of ${loop.generations.size} generations`);
  });

  it('a write that fails is logged once, and the next good one goes through', () => {
    const dir = tempDir();
    const logs: string[] = [];
    const path = join(dir, 'later', 'x.prom');
    const file = new MetricsTextfile({ path, intervalMs: 60_000, control: { stats: () => ({}) }, log: (m) => logs.push(m) });
    file.write();
    file.write();
    assert.equal(logs.length, 1);
    assert.match(logs[0], /later\/x\.prom: .*ENOENT/);
    mkdirSync(join(dir, 'later'));
    file.write();
    assert.deepEqual(readdirSync(join(dir, 'later')), ['x.prom']);
    assert.match(readFileSync(path, 'utf8'), /^# HELP bpfcountd_packets_total /);
    assert.equal(logs.length, 1);
  });

  it('intervals: seconds from 0.1 to a day', () => {
    assert.equal(parseMetricsInterval('15'), 15);
    assert.equal(parseMetricsInterval('0.5'), 0.5);
    for (const bad of ['0', '0.05', '-1', '1e3', '', 'x', '86401', '1.']) assert.equal(typeof parseMetricsInterval(bad), 'string', bad);
  });
});
