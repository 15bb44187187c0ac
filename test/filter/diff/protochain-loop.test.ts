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
const EXPRS = ['ip6 protochain 17', 'ip6 protochain 58', 'protochain 17', 'ip6 protochain 6 or udp'];

test('protochain over a looping AH chain: libpcap hangs, the engine answers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-loop-'));
  try {
    const path = join(dir, 'loop.pcap');
    writePcapFile(path, [{ data: LOOPING }], { linkType: 1 });
    const answers = oracleMatch(path, EXPRS);
    answers.forEach((a, i) => assert.ok(a.ok && a.value === 'H', `libpcap ${EXPRS[i]}: expected to never return, got ${JSON.stringify(a)}`));
    const started = Date.now();
    const run = runEngine(EXPRS, 1, [{ data: LOOPING, caplen: LOOPING.length, wirelen: LOOPING.length, tsSec: 0, tsFrac: 0 }]);
    assert.ok(Date.now() - started < 5000, 'the engine took seconds on one packet');
    run.plans.forEach((p, i) => assert.equal(p.engine, 'javascript', `${EXPRS[i]} must not be left to libpcap (which hangs on this packet)`));
    console.log(`looping AH chain: libpcap never returns; engine answers ${run.bits.join(' ')} for ${EXPRS.join(' / ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
