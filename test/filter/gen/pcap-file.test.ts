/**
 * The test pcap reader/writer, checked against libpcap: what we read from
 * every shared capture (packet count, wire bytes, captured bytes) is what
 * libpcap reads, and files we write in every byte order / resolution read
 * back identically in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { readCaptureFile, writePcapFile, parseCapture, encodePcap } from './pcap-file';
import { oracleCount } from './oracle';
import { Prng } from './prng';
import { randomEthernetFrame, mutate } from './random-packets';
import { REPO_ROOT } from './oracle';

const SHARED = join(REPO_ROOT, '..', 'shared');
const LINK_AT_START = new Set([1, 113, 276, 101, 0, 108]);

function sharedCaptures(): string[] {
  const out: string[] = [];
  for (const dir of [join(SHARED, 'pcaps'), join(SHARED, 'corpus', 'libpcap-filter-captures')]) {
    for (const f of readdirSync(dir)) if (/\.pcap(ng)?$/.test(f)) out.push(join(dir, f));
  }
  return out;
}

test('reads every shared capture as libpcap does', () => {
  const files = sharedCaptures();
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
