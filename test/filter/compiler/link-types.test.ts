/**
 * The same packets under every supported link type: Ethernet captures re-framed as Linux cooked
 * (v1, v2), raw IP, BSD NULL and OpenBSD LOOP, compared with libpcap per packet.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { planRule } from '../../../src/filter';
import { compare, PCAPS, readCapture, writePcap, type Capture, type Packet } from './harness';

const SOURCES = ['bgp-4byte-asn.pcap', 'dcb_ets.pcap', 'icmpv6.pcap', 'eapon1.pcap', 'ipx.pcap', 'rpvstp-trunk-native-vid5.pcap', 'dns_tcp.pcap', 'OSPFv3_with_AH.pcap'];

type Reframe = (eth: Uint8Array) => Uint8Array | null;

const etherType = (d: Uint8Array): number => (d[12] << 8) | d[13];

function frame(head: number[], payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/** LINUX_SLL: 802.3 frames become protocol 4 (LLC) or 1 (Novell raw), as the kernel reports them. */
const sll: Reframe = (d) => {
  let proto = etherType(d);
  if (proto <= 1500) proto = d[14] === 0xff && d[15] === 0xff ? 1 : 4;
  return frame([0, 0, 0, 1, 0, 6, ...d.subarray(6, 12), 0, 0, proto >> 8, proto & 0xff], d.subarray(14));
};
const sll2: Reframe = (d) => {
  let proto = etherType(d);
  if (proto <= 1500) proto = d[14] === 0xff && d[15] === 0xff ? 1 : 4;
  return frame([proto >> 8, proto & 0xff, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...d.subarray(6, 12), 0, 0], d.subarray(14));
};
const raw: Reframe = (d) => (etherType(d) === 0x0800 || etherType(d) === 0x86dd ? d.subarray(14) : null);
/** IPv6 as FreeBSD (28) writes it; libpcap accepts the BSDs' values 24, 28 and 30 in files. */
const family = (d: Uint8Array): number => (etherType(d) === 0x0800 ? 2 : etherType(d) === 0x86dd ? 28 : 0);
const nullLink: Reframe = (d) => (family(d) ? frame([family(d), 0, 0, 0], d.subarray(14)) : null);
const loopLink: Reframe = (d) => (family(d) ? frame([0, 0, 0, family(d)], d.subarray(14)) : null);

const LINKS: [string, number, Reframe][] = [['sll', 113, sll], ['sll2', 276, sll2], ['raw', 12, raw], ['raw101', 101, raw], ['null', 0, nullLink], ['loop', 108, loopLink]];

const EXPRS = [
  'ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp6', 'host 10.0.0.1', 'host 192.168.1.1 or arp', 'net 10.0.0.0/8', 'port 179',
  'tcp port 53 or udp port 53', 'not port 179', 'icmp6 and ip6[40] = 135', 'ip[2:2] > 60', 'udp[8] = 1', 'tcp[13] & 2 != 0',
  'ip6 protochain 58', 'proto 89', 'ip multicast', 'ip6 multicast', 'len < 100', 'link[0] = 0', 'ether proto 0x86dd',
  'stp', 'ipx', 'iso', 'l1', 'csnp', 'isis proto 0x12', 'atalk', 'ether proto 100', 'pppoes and ip', 'pppoed', 'byte 0 = 69', 'not ip and not ip6',
  'ip6 host fe80::211:22ff:fe33:4455 or ip6 net ff02::/16', 'src host 0.0.0.0',
];

test('other link types: same packets match as with libpcap', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'filter-links-'));
  try {
    const bad: string[] = [];
    let evaluated = 0;
    for (const [name, dlt, reframe] of LINKS) {
      const packets: Packet[] = [];
      for (const src of SOURCES) {
        for (const p of readCapture(path.join(PCAPS, src)).packets) {
          const d = reframe(p.data.subarray(0, p.caplen));
          if (d) packets.push({ data: d, caplen: d.length, wirelen: d.length + (p.wirelen - p.caplen) });
        }
      }
      const cap: Capture = { linkType: dlt, packets };
      // libpcap on Linux has no DLT 101 in pcap_open_dead/savefiles; it reads LINKTYPE_RAW as 12.
      const file = path.join(dir, `${name}.pcap`);
      writePcap(file, { linkType: dlt === 101 ? 101 : dlt, packets });
      bad.push(...compare(file, cap, EXPRS));
      evaluated += EXPRS.filter((e) => planRule({ slot: 0, expr: e }, dlt).plan.engine === 'javascript').length;
    }
    assert.deepEqual(bad, []);
    assert.ok(evaluated > 6 * 20, `only ${evaluated} expression x link pairs evaluated in JavaScript`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
