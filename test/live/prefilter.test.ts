/**
 * -F: the kernel prefilter runs before every rule. Each case names an offline
 * expression that selects the same frames at the receiving veth, so libpcap
 * can compute the expected counts from the capture file: every replayed frame
 * is `inbound` there. The kernel sees 802.1Q tags as metadata (veth rx-vlan
 * offload, checked with tcpdump on the veth): there `vlan` tests the metadata
 * and still shifts the offsets of what follows it, and `ip` also accepts
 * tagged IPv4 frames, whose bytes the kernel filter sees untagged.
 * Each prefilter lets the harness's probe frames (EtherType 0x88b5) through.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CAPTURE_RULES, COMMON_RULES } from './capture-rules';
import { formatLines, runLiveCase } from '../support/live-count';
import { busiestUnicastMac, readClassicPcap } from '../support/pcap';
import { TEST_PCAPS } from '../support/paths';
import { suiteLink } from '../support/suite-link';

interface PrefilterCase {
  capture: string;
  live: string;
  offline: string;
}

const CASES: readonly PrefilterCase[] = [
  { capture: 'eapon1.pcap', live: 'arp or udp or ether proto 0x88b5', offline: 'arp or udp or ether proto 0x88b5' },
  // The original's default configuration: `prefilter 'inbound'`.
  { capture: 'dcb_ets.pcap', live: 'inbound', offline: 'greater 0' },
  { capture: 'bgp-4byte-asn.pcap', live: 'outbound or ether proto 0x88b5', offline: 'ether proto 0x88b5' },
  { capture: 'various_gre.pcap', live: 'ether proto 0x88b5 or vlan', offline: 'ether proto 0x88b5 or vlan' },
  {
    capture: 'various_gre.pcap',
    live: 'ip or ether proto 0x88b5',
    offline: 'ether[12:2] == 0x8100 and ether[16:2] == 0x0800 or ether proto 0x88b5',
  },
];

describe('live: -F prefilter', () => {
  const veth = suiteLink();

  for (const c of CASES) {
    test(`${c.capture} with -F '${c.live}'`, async (t) => {
      const path = join(TEST_PCAPS, c.capture);
      const r = await runLiveCase(veth(), {
        capture: path,
        rules: [...(CAPTURE_RULES[c.capture] ?? []), ...COMMON_RULES],
        mac: busiestUnicastMac(readClassicPcap(path)),
        prefilter: { live: c.live, offline: c.offline },
      });
      t.diagnostic(`${r.expected.find((l) => l.id === '_all')?.packets} frames pass the prefilter (probes included)`);
      assert.deepEqual(formatLines(r.actual), formatLines(r.expected), `daemon (left) vs libpcap (right); stderr: ${r.daemonStderr}`);
      assert.deepEqual(r.exit, { code: 0, signal: null }, r.daemonStderr);
    });
  }
});
