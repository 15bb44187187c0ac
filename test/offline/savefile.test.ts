/**
 * The JavaScript capture-file reader (src/capture/savefile.ts) against
 * libpcap's own reader: for every file, the packets (captured length, wire
 * length, bytes) and how reading ends (the end, or libpcap's error message)
 * must be what `pcap_next_ex` gives. Files are built here byte by byte to
 * reach every branch of the format: both byte orders, nanosecond and
 * patched magics, the old versions that exchange caplen and len, snap
 * lengths that cut records, oversized and truncated records, records across
 * the reader's 1 MiB buffer; plus every shared capture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../filter/gen/prng';
import { buildOracle, oracleCounts, parseCounterLines, runDaemon } from './helpers';
import { layoutOfFile } from '../../src/capture/savefile';
import { CORPUS_CAPTURES, TEST_PCAPS } from '../support/paths';
import { javascriptReading, libpcapReading } from '../support/savefile-readings';

// --- building files --------------------------------------------------------

const MAGIC = { micro: 0xa1b2c3d4, nano: 0xa1b23c4d, patched: 0xa1b2cd34 } as const;

interface RecordSpec {
  /** The two length fields as written in the file (old versions store them exchanged). */
  capField: number;
  lenField: number;
  /** Bytes written after the header (fewer than capField: a truncated file). */
  data: Uint8Array;
}

interface FileSpec {
  littleEndian: boolean;
  magic: keyof typeof MAGIC;
  major?: number;
  minor?: number;
  snaplen: number;
  linkType: number;
  records: RecordSpec[];
  /** Bytes appended after the records (a cut record header). */
  tail?: Uint8Array;
}

function buildFile(spec: FileSpec): Buffer {
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    if (spec.littleEndian) b.writeUInt32LE(v >>> 0); else b.writeUInt32BE(v >>> 0);
    return b;
  };
  const u16 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    if (spec.littleEndian) b.writeUInt16LE(v); else b.writeUInt16BE(v);
    return b;
  };
  const parts: Buffer[] = [u32(MAGIC[spec.magic]), u16(spec.major ?? 2), u16(spec.minor ?? 4), u32(0), u32(0), u32(spec.snaplen), u32(spec.linkType)];
  spec.records.forEach((r, i) => {
    parts.push(u32(1700000000 + i), u32(i), u32(r.capField), u32(r.lenField));
    // The patched format's extra fields: interface index, protocol, packet type, padding.
    if (spec.magic === 'patched') parts.push(u32(2), u16(0x0800), Buffer.from([0, 0]));
    parts.push(Buffer.from(r.data));
  });
  if (spec.tail) parts.push(Buffer.from(spec.tail));
  return Buffer.concat(parts);
}

function frame(rng: Prng, length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = rng.int(256);
  return data;
}

/** Whole packets (caplen == len) of assorted sizes. */
function plainRecords(rng: Prng, count: number, maxLength = 1514): RecordSpec[] {
  return Array.from({ length: count }, () => {
    const length = 1 + rng.int(maxLength);
    return { capField: length, lenField: length, data: frame(rng, length) };
  });
}

function cases(): { name: string; spec: FileSpec }[] {
  const rng = new Prng(20261127);
  const en = 1;
  const out: { name: string; spec: FileSpec }[] = [];
  for (const littleEndian of [true, false]) {
    const order = littleEndian ? 'LE' : 'BE';
    out.push({ name: `${order} microseconds`, spec: { littleEndian, magic: 'micro', snaplen: 65535, linkType: en, records: plainRecords(rng, 50) } });
    out.push({ name: `${order} nanoseconds`, spec: { littleEndian, magic: 'nano', snaplen: 262144, linkType: en, records: plainRecords(rng, 50) } });
    out.push({ name: `${order} raw IP (LINKTYPE_RAW)`, spec: { littleEndian, magic: 'micro', snaplen: 65535, linkType: 101, records: plainRecords(rng, 20) } });
    out.push({ name: `${order} Linux cooked`, spec: { littleEndian, magic: 'micro', snaplen: 65535, linkType: 113, records: plainRecords(rng, 20) } });
  }
  // Patched format: 24-byte record headers; on Ethernet the snap length did not count its 14 bytes.
  out.push({ name: 'patched magic, Ethernet, records cut at snaplen + 14', spec: {
    littleEndian: true, magic: 'patched', snaplen: 50, linkType: en,
    records: [60, 64, 65, 70, 40].map((length) => ({ capField: length, lenField: length + 10, data: frame(rng, length) })),
  } });
  out.push({ name: 'patched magic, raw IP', spec: {
    littleEndian: false, magic: 'patched', snaplen: 50, linkType: 101,
    records: [50, 51, 64].map((length) => ({ capField: length, lenField: length, data: frame(rng, length) })),
  } });
  // Before 2.3 the two length fields were written the other way round; 2.3 is ambiguous.
  const swappedLengths = (): RecordSpec[] => [30, 60, 100].map((length) => ({ capField: length + 20, lenField: length, data: frame(rng, length) }));
  out.push({ name: 'version 2.2: lengths exchanged', spec: { littleEndian: true, magic: 'micro', minor: 2, snaplen: 65535, linkType: en, records: swappedLengths() } });
  out.push({ name: 'version 543.0: lengths exchanged', spec: { littleEndian: false, magic: 'micro', major: 543, minor: 0, snaplen: 65535, linkType: en, records: swappedLengths() } });
  out.push({ name: 'version 2.3: exchanged only where caplen > len', spec: {
    littleEndian: true, magic: 'micro', minor: 3, snaplen: 65535, linkType: en,
    records: [...swappedLengths(), { capField: 40, lenField: 90, data: frame(rng, 40) }, { capField: 70, lenField: 70, data: frame(rng, 70) }],
  } });
  out.push({ name: 'version 2.5: refused', spec: { littleEndian: true, magic: 'micro', minor: 5, snaplen: 65535, linkType: en, records: plainRecords(rng, 3) } });
  // Snap lengths: 0 and > INT_MAX mean the maximum; a smaller one cuts longer records.
  out.push({ name: 'snaplen 0', spec: { littleEndian: true, magic: 'micro', snaplen: 0, linkType: en, records: plainRecords(rng, 10, 9000) } });
  out.push({ name: 'snaplen above INT_MAX', spec: { littleEndian: true, magic: 'micro', snaplen: 0x80000000, linkType: en, records: plainRecords(rng, 10, 9000) } });
  out.push({ name: 'snaplen 64 with longer records', spec: {
    littleEndian: true, magic: 'micro', snaplen: 64, linkType: en,
    records: [10, 64, 65, 100, 1514].map((length) => ({ capField: length, lenField: length, data: frame(rng, length) })),
  } });
  out.push({ name: 'no packets', spec: { littleEndian: true, magic: 'micro', snaplen: 65535, linkType: en, records: [] } });
  // Errors part way: the packets before them are still handed over.
  out.push({ name: 'caplen above 262144 and above the snap length', spec: {
    littleEndian: true, magic: 'micro', snaplen: 262144, linkType: en,
    records: [...plainRecords(rng, 3), { capField: 262145, lenField: 262145, data: frame(rng, 262145) }],
  } });
  out.push({ name: 'caplen above 262144 within the snap length', spec: {
    littleEndian: false, magic: 'micro', snaplen: 300000, linkType: en,
    records: [...plainRecords(rng, 3), { capField: 270000, lenField: 270000, data: frame(rng, 270000) }],
  } });
  out.push({ name: 'last record cut short', spec: {
    littleEndian: true, magic: 'micro', snaplen: 65535, linkType: en,
    records: [...plainRecords(rng, 5), { capField: 100, lenField: 100, data: frame(rng, 37) }],
  } });
  out.push({ name: 'record above the snap length cut short before it', spec: {
    littleEndian: true, magic: 'micro', snaplen: 64, linkType: en,
    records: [...plainRecords(rng, 2, 64), { capField: 100, lenField: 100, data: frame(rng, 50) }],
  } });
  out.push({ name: 'record above the snap length cut short after it', spec: {
    littleEndian: true, magic: 'micro', snaplen: 64, linkType: en,
    records: [...plainRecords(rng, 2, 64), { capField: 100, lenField: 100, data: frame(rng, 80) }],
  } });
  out.push({ name: 'record header cut short', spec: {
    littleEndian: true, magic: 'micro', snaplen: 65535, linkType: en, records: plainRecords(rng, 4), tail: frame(rng, 7),
  } });
  // Records across the reader's 1 MiB buffer, including the largest allowed.
  const big: RecordSpec[] = [];
  for (let i = 0; i < 60; i++) {
    const length = i % 3 === 0 ? 262144 : 1 + rng.int(200000);
    big.push({ capField: length, lenField: length + rng.int(3), data: frame(rng, length) });
  }
  out.push({ name: 'about 8 MB of large records', spec: { littleEndian: true, magic: 'micro', snaplen: 262144, linkType: en, records: big } });
  return out;
}

test('the JavaScript reader hands over exactly what libpcap reads', () => {
  buildOracle();
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-savefile-'));
  try {
    let compared = 0;
    for (const { name, spec } of cases()) {
      const path = join(dir, `${name.replace(/[^\w]+/g, '-')}.pcap`);
      writeFileSync(path, buildFile(spec));
      const libpcap = libpcapReading(path);
      if (!libpcap) {
        assert.equal(layoutOfFile(path, spec.linkType), undefined, `${name}: libpcap refuses the file, the reader must leave it to libpcap`);
        continue;
      }
      const js = javascriptReading(path, libpcap.dlt);
      const byteSwappedCooked = spec.linkType === 113 && !spec.littleEndian;
      if (byteSwappedCooked) {
        // libpcap rewrites parts of such headers: the reader must leave them to it.
        assert.equal(js, undefined, `${name}: should be left to libpcap`);
        continue;
      }
      assert.ok(js, `${name}: the reader should read this file`);
      assert.equal(js.packets.length, libpcap.reading.packets.length, `${name}: packet count`);
      js.packets.forEach((p, i) => assert.deepEqual(p, libpcap.reading.packets[i], `${name}: packet ${i}`));
      assert.equal(js.end, libpcap.reading.end, `${name}: how reading ends`);
      compared++;
    }
    assert.ok(compared >= 23, `only ${compared} files compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every shared capture reads the same in JavaScript as in libpcap', () => {
  buildOracle();
  let read = 0;
  for (const dirName of [TEST_PCAPS, CORPUS_CAPTURES]) {
    for (const file of readdirSync(dirName).filter((f) => /\.(pcap|cap|pcapng|dmp)$/.test(f)).sort()) {
      const path = join(dirName, file);
      const libpcap = libpcapReading(path);
      if (!libpcap) continue;
      const js = javascriptReading(path, libpcap.dlt);
      if (!js) continue;
      assert.deepEqual(js, libpcap.reading, file);
      read++;
    }
  }
  assert.ok(read >= 20, `only ${read} shared captures read in JavaScript`);
});

test('-r counts through the JavaScript reader what libpcap counts, and stops on a damaged file with libpcap\'s message', () => {
  buildOracle();
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-savefile-'));
  try {
    const rules = [['all', 'len >= 0'], ['long', 'greater 100'], ['cut', 'ether[60] >= 0'], ['multicast', 'ether multicast'], ['ip', 'ip']];
    const filters = join(dir, 'rules');
    writeFileSync(filters, rules.map(([id, expr]) => `${id};${expr}\n`).join(''));
    for (const { name, spec } of cases()) {
      if (spec.linkType !== 1) continue;
      const path = join(dir, `${name.replace(/[^\w]+/g, '-')}.pcap`);
      writeFileSync(path, buildFile(spec));
      const libpcap = libpcapReading(path);
      const run = runDaemon(['-r', path, '-f', filters]);
      if (!libpcap) {
        assert.equal(run.status, 1, `${name}: ${run.stderr}`);
        continue;
      }
      if (libpcap.reading.end !== 'END') {
        assert.equal(run.status, 1, `${name}: exit status`);
        assert.equal(run.stderr, `${path}: ${libpcap.reading.end.replace(/^ERR /, '')}\n`, name);
        continue;
      }
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      const counted = parseCounterLines(run.stdout);
      const expected = oracleCounts(path, rules.map(([, expr]) => expr));
      rules.forEach(([id], i) => assert.deepEqual(counted.get(id), expected[i], `${name}: rule ${id}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
