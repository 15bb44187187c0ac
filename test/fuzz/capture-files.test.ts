/**
 * Capture files: the test captures truncated, with bit flips and with record
 * lengths overwritten. The daemon's JavaScript reader must hand over exactly
 * what libpcap's reader does, packets and ending (end of file, or libpcap's
 * error message), or leave the file to libpcap; and the daemon run on a
 * sample of them ends in counts or a one-line error, never a stack or a hang.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildOracle, DAEMON } from '../offline/helpers';
import { REPO_ROOT, TEST_PCAPS } from '../support/paths';
import { javascriptReading, libpcapReading } from '../support/savefile-readings';
import { fuzzInputs, fuzzPrng, isOneLine } from './budget';

function mutateCapture(prng: ReturnType<typeof fuzzPrng>, file: Buffer): Buffer {
  const out = Buffer.from(file);
  switch (prng.int(4)) {
    case 0: // cut anywhere, often inside a record
      return out.subarray(0, prng.int(out.length + 1));
    case 1: { // flip bits anywhere, the file header included
      const flips = prng.range(1, 8);
      for (let i = 0; i < flips; i++) out[prng.int(out.length)] ^= 1 << prng.int(8);
      return out;
    }
    case 2: { // overwrite a record length field with something large or odd
      const at = 24 + 8 + 4 * prng.int(2);
      if (at + 4 <= out.length) out.writeUInt32LE([0xffffffff, 262145, 65536, 0, 1, prng.next()][prng.int(6)], at);
      return out;
    }
    default: { // overwrite the header's version, snap length or link type
      const at = [4, 6, 16, 20][prng.int(4)];
      out.writeUInt16LE(prng.int(65536), at);
      return out;
    }
  }
}

test('fuzz: damaged capture files read as libpcap reads them', (t) => {
  buildOracle();
  const prng = fuzzPrng(5);
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-fuzz-cap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sources = readdirSync(TEST_PCAPS).filter((f) => f.endsWith('.pcap')).map((f) => readFileSync(join(TEST_PCAPS, f)));
  assert.ok(sources.length >= 25);
  const total = fuzzInputs(600);
  const outcomes = { same: 0, leftToLibpcap: 0, libpcapRefusesFile: 0 };
  const differ: string[] = [];
  const path = join(dir, 'damaged.pcap');
  for (let i = 0; i < total; i++) {
    const bytes = mutateCapture(prng, sources[prng.int(sources.length)]);
    writeFileSync(path, bytes);
    const libpcap = libpcapReading(path);
    if (!libpcap) { outcomes.libpcapRefusesFile++; continue; }
    const js = javascriptReading(path, libpcap.dlt);
    if (!js) { outcomes.leftToLibpcap++; continue; }
    if (JSON.stringify(js) !== JSON.stringify(libpcap.reading)) {
      const keep = join(dir, `differ-${i}.pcap`);
      writeFileSync(keep, bytes);
      differ.push(`input ${i}: JS ${js.packets.length} packets, ${js.end}; libpcap ${libpcap.reading.packets.length}, ${libpcap.reading.end}`);
    }
    outcomes.same++;
  }
  console.log(`fuzz capture files: ${total} inputs: ${JSON.stringify(outcomes)}, ${differ.length} read differently`);
  assert.deepEqual(differ.slice(0, 10), []);
  assert.ok(outcomes.same > total / 2, 'most damaged files are read by both readers');
});

test('fuzz: the daemon on damaged capture files: counts or one line, a defined exit code', (t) => {
  const prng = fuzzPrng(6);
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-fuzz-run-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sources = ['eapon1.pcap', 'dns_tcp.pcap', 'icmpv6.pcap', 'babel.pcap', 'LINKTYPE_RAW_ipv4.pcap'].map((f) => readFileSync(join(TEST_PCAPS, f)));
  const rules = join(REPO_ROOT, 'files', 'etc', 'bpfcountd.filters');
  const total = Math.max(20, Math.floor(fuzzInputs(600) / 15));
  const exits = new Map<number | null, number>();
  for (let i = 0; i < total; i++) {
    const path = join(dir, `in-${i}.pcap`);
    writeFileSync(path, mutateCapture(prng, sources[prng.int(sources.length)]));
    const run = spawnSync(process.execPath, [DAEMON, '-r', path, '-f', rules, '--mac', '02:00:00:00:00:01'], { encoding: 'utf8', timeout: 30_000 });
    exits.set(run.status, (exits.get(run.status) ?? 0) + 1);
    assert.ok(run.status === 0 || run.status === 1, `input ${i}: exit ${run.status} signal ${run.signal}: ${run.stderr}`);
    if (run.status === 0) {
      assert.match(run.stdout, /^([^\n]*:\d+:\d+\n)+$/, `input ${i}: output`);
    } else {
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `input ${i}: stderr ${run.stderr}`);
      // Its place: the capture file (libpcap's message about it), a rule's file:line (a rule the file's
      // link type refuses), or the program's name.
      const placed = [`${path}: `, `${rules}:`, 'bpfcountd: '].some((p) => lines[0].startsWith(p));
      assert.ok(isOneLine(lines[0]) && placed, lines[0]);
    }
    rmSync(path);
  }
  console.log(`fuzz daemon on capture files: ${total} runs, exit codes ${JSON.stringify([...exits])}`);
});
