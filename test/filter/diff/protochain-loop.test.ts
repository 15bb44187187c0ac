/**
 * libpcap 1.10.3 compiles `protochain` into a loop whose AH step sets the
 * offset to (ahlen+2)*4 instead of adding it; the packet below (found by the
 * generated tests) makes pcap_offline_filter spin forever, so a C bpfcountd
 * with such a rule hangs on one crafted packet. The engine must finish it, and
 * must not hand protochain rules to libpcap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcapFile } from '../gen/pcap-file';
import { oracleMatch } from '../gen/oracle';
import { runEngine } from './harness';

/** Ethernet, IPv6 fe80::2 -> ff02::1, next header AH(51) -> ... (a looping chain for libpcap). */
const LOOPING = Buffer.from(
  'a45e6011223302cafe00000286dd6000000000403301fe800000000000000000000000000002ff020000000000000000000000000001' +
  '2c0300000000010000000001000000000000000033000090abcd00012c030000000001000000000100000000000000003a000008abcd000183020000fe2aa97d', 'hex');
const EXPRS = ['ip6 protochain 17', 'ip6 protochain 58', 'protochain 17', 'ip6 protochain 6 or udp', 'ip6 protochain 51', 'not ip6 protochain 44'];

/**
 * The looping packet, cut at every length, and with each byte of its extension headers set to
 * values that end, shorten or redirect the chain: libpcap finishes on most of them, and there the
 * engine must give its (unoptimised) verdict.
 */
function variants(): Buffer[] {
  const out: Buffer[] = [LOOPING];
  for (let n = 1; n < LOOPING.length; n++) out.push(LOOPING.subarray(0, n));
  for (let at = 54; at < LOOPING.length; at++) {
    for (const v of [59]) {
      const b = Buffer.from(LOOPING);
      b[at] = v;
      out.push(b);
    }
  }
  return out;
}

test('protochain over a looping AH chain: libpcap hangs, the engine answers, and agrees wherever libpcap returns', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-loop-'));
  try {
    const path = join(dir, 'loop.pcap');
    const packets = variants();
    writePcapFile(path, packets.map((data) => ({ data, wirelen: LOOPING.length })), { linkType: 1 });
    const answers = oracleMatch(path, EXPRS);
    const started = Date.now();
    const run = runEngine(EXPRS, 1, packets.map((data) => ({ data, caplen: data.length, wirelen: LOOPING.length, tsSec: 0, tsFrac: 0 })));
    assert.ok(Date.now() - started < 10000, 'the engine took seconds on these packets');
    run.plans.forEach((p, i) => assert.equal(p.engine, 'javascript', `${EXPRS[i]} must not be left to libpcap (which hangs on this packet)`));
    let compared = 0, hangs = 0;
    const problems: string[] = [];
    answers.forEach((a, i) => {
      assert.ok(a.ok, `libpcap refuses ${EXPRS[i]}`);
      if (i < 4) assert.equal(a.value[0], 'H', `libpcap ${EXPRS[i]}: expected to never return on the looping packet`);
      const got = run.bits[i] ?? '';
      for (let k = 0; k < a.value.length; k++) {
        if (a.value[k] === 'H') { hangs++; continue; }
        compared++;
        if (a.value[k] !== got[k]) problems.push(`${EXPRS[i]} packet ${k} (${packets[k].toString('hex')}): libpcap ${a.value[k]}, engine ${got[k]}`);
      }
    });
    console.log(`looping AH chain: ${compared} decisions compared (none excused), ${hangs} where libpcap never returns`);
    assert.deepEqual(problems.slice(0, 10), []);
    assert.ok(compared >= 500, `only ${compared} decisions compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
