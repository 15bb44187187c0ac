/**
 * The test pcap reader/writer, checked against libpcap: what we read from
 * every test capture (packet count, wire bytes, captured bytes) is what
 * libpcap reads, and files we write in every byte order / resolution read
 * back identically in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { readCaptureFile, writePcapFile, parseCapture, encodePcap, type PacketToWrite } from './pcap-file';
import { oracleCount } from './oracle';
import { Prng } from './prng';
import { randomEthernetFrame, mutate } from './random-packets';
import { CORPUS_CAPTURES, TEST_PCAPS } from '../../support/paths';
const LINK_AT_START = new Set([1, 113, 276, 101, 0, 108]);

function testCaptures(): string[] {
  const out: string[] = [];
  for (const dir of [TEST_PCAPS, CORPUS_CAPTURES]) {
    for (const f of readdirSync(dir)) if (/\.pcap(ng)?$/.test(f)) out.push(join(dir, f));
  }
  return out;
}

test('reads every test capture as libpcap does', () => {
  const files = testCaptures();
  assert.ok(files.length > 60);
  let ng = 0;
  for (const f of files) {
    const cap = readCaptureFile(f);
    if (f.endsWith('.pcapng')) ng++;
    // "" accepts everything; `len >= N` separates the wire length; ether[i] fails beyond caplen.
    const [all] = oracleCount(f, ['']);
    assert.ok(all.ok, f);
    const wire = cap.packets.reduce((s, p) => s + p.wirelen, 0);
    assert.equal(all.value, `${cap.packets.length} ${wire}`, `${f}: packets and wire bytes`);
    // link[0] is the first captured byte only on these; others (PPI, radiotap, SLIP) shift it.
    if (!LINK_AT_START.has(cap.linkType)) continue;
    const caplens = cap.packets.map((p) => p.caplen);
    const probe = [...new Set(caplens)].filter((n) => n > 0).slice(0, 20);
    const answers = oracleCount(f, probe.map((n) => `link[${n - 1}] = link[${n - 1}]`));
    probe.forEach((n, i) => {
      const expected = caplens.filter((c) => c >= n).length;
      const a = answers[i];
      if (a.ok) assert.equal(a.value.split(' ')[0], String(expected), `${f}: packets with caplen >= ${n}`);
    });
  }
  assert.ok(ng >= 2, 'pcapng files were read');
});

/** A pcapng file (SHB, one IDB, then EPBs or SPBs) in either byte order, to check the reader against libpcap. */
function encodePcapng(packets: readonly PacketToWrite[], bigEndian: boolean, simple: boolean, snaplen: number): Buffer {
  const le = !bigEndian;
  const block = (type: number, body: Buffer): Buffer => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const out = Buffer.alloc(12 + padded.length);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    v.setUint32(0, type, le); v.setUint32(4, out.length, le); padded.copy(out, 8); v.setUint32(out.length - 4, out.length, le);
    return out;
  };
  const fields = (...words: [number, 16 | 32][]): Buffer => {
    const out = Buffer.alloc(words.reduce((n, [, bits]) => n + bits / 8, 0));
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    let off = 0;
    for (const [value, bits] of words) { if (bits === 16) v.setUint16(off, value, le); else v.setUint32(off, value, le); off += bits / 8; }
    return out;
  };
  const shb = block(0x0a0d0d0a, Buffer.concat([fields([0x1a2b3c4d, 32], [1, 16], [0, 16], [0xffffffff, 32], [0xffffffff, 32])]));
  const idb = block(1, fields([1, 16], [0, 16], [snaplen, 32]));
  const pkts = packets.map((p, i) => {
    const data = Buffer.from(p.data);
    const wirelen = p.wirelen ?? data.length;
    if (simple) return block(3, Buffer.concat([fields([wirelen, 32]), data]));
    return block(6, Buffer.concat([fields([0, 32], [0, 32], [i, 32], [data.length, 32], [wirelen, 32]), data]));
  });
  return Buffer.concat([shb, idb, ...pkts]);
}

test('reads pcapng EPB and SPB in both byte orders as libpcap does', () => {
  const r = new Prng(77);
  // SPBs carry no captured length: use untruncated packets there (caplen = min(wirelen, snaplen)).
  const packets = Array.from({ length: 200 }, () => ({ data: randomEthernetFrame(r) }));
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-pcapng-'));
  try {
    for (const bigEndian of [false, true]) {
      for (const simple of [false, true]) {
        for (const snaplen of [0, 64]) {
          const path = join(dir, `w-${bigEndian}-${simple}-${snaplen}.pcapng`);
          const input = simple || snaplen === 0 ? packets : packets.map((p) => ({ data: p.data.subarray(0, Math.min(p.data.length, snaplen)), wirelen: p.data.length }));
          writeFileSync(path, encodePcapng(input, bigEndian, simple, snaplen));
          const back = readCaptureFile(path);
          assert.equal(back.packets.length, packets.length);
          back.packets.forEach((p, i) => {
            const expectedCap = snaplen === 0 ? packets[i].data.length : Math.min(packets[i].data.length, snaplen);
            assert.equal(p.caplen, expectedCap, `${path} packet ${i} caplen`);
            assert.equal(p.wirelen, packets[i].data.length, `${path} packet ${i} wirelen`);
            assert.deepEqual(Buffer.from(p.data), Buffer.from(packets[i].data.subarray(0, expectedCap)));
          });
          // libpcap agrees on counts, wire bytes and (by a load at the last captured byte) captured lengths.
          const wire = back.packets.reduce((n, p) => n + p.wirelen, 0);
          const [all, at64] = oracleCount(path, ['', 'link[63] = link[63]']);
          assert.ok(all.ok && at64.ok);
          assert.equal(all.value, `${back.packets.length} ${wire}`);
          assert.equal(at64.value.split(' ')[0], String(back.packets.filter((p) => p.caplen >= 64).length));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writes classic pcap in both byte orders and resolutions', () => {
  const r = new Prng(4242);
  const packets = Array.from({ length: 300 }, () => mutate(r, randomEthernetFrame(r)));
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-pcap-'));
  try {
    for (const bigEndian of [false, true]) {
      for (const nanos of [false, true]) {
        const path = join(dir, `w-${bigEndian}-${nanos}.pcap`);
        writePcapFile(path, packets, { linkType: 1, bigEndian, nanos });
        const back = readCaptureFile(path);
        assert.equal(back.nanos, nanos);
        assert.equal(back.linkType, 1);
        assert.deepEqual(back.packets.map((p) => [p.wirelen, Buffer.from(p.data).toString('hex')]),
          packets.map((p) => [p.wirelen ?? p.data.length, Buffer.from(p.data).toString('hex')]));
        const wire = packets.reduce((s, p) => s + (p.wirelen ?? p.data.length), 0);
        const big = packets.filter((p) => (p.wirelen ?? p.data.length) >= 100);
        const [all, greater] = oracleCount(path, ['', 'greater 100']);
        assert.ok(all.ok && greater.ok);
        assert.equal(all.value, `${packets.length} ${wire}`);
        assert.equal(greater.value, `${big.length} ${big.reduce((s, p) => s + (p.wirelen ?? p.data.length), 0)}`);
      }
    }
    assert.throws(() => parseCapture(encodePcap(packets, { linkType: 1 }).subarray(0, 100)), /truncated/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
