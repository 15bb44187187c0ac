/**
 * A deterministic Freifunk-like traffic mix for benchmarks: mostly unicast
 * TCP/UDP over IPv4 and IPv6 between mesh clients, with ARP, ICMPv6 ND,
 * DHCP, DNS, mDNS/SSDP/MLD multicast and a little batman-adv and ICMP.
 * About 1 packet in 20 comes from the node's own MAC (BENCH_MAC).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Prng } from '../test/filter/gen/prng';
import { writePcapFile, type PacketToWrite } from '../test/filter/gen/pcap-file';
import {
  type Bytes, ether, ipv4Packet, ipv6Packet, tcpSegment, udpDatagram, icmpMessage, arpPacket, ndMessage, dnsMessage, dhcpMessage,
  ETH_IPV4, ETH_IPV6, ETH_ARP, TCP_ACK, TCP_PSH, TCP_SYN,
} from '../test/filter/gen/packets';

export const BENCH_MAC = '02:ca:fe:00:00:01';
const BCAST = 'ff:ff:ff:ff:ff:ff';

function hex2(n: number): string { return n.toString(16).padStart(2, '0'); }

class Population {
  readonly macs: string[] = [];
  readonly v4: string[] = [];
  readonly v6: string[] = [];
  readonly ll6: string[] = [];
  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      this.macs.push(`a6:${hex2(i >> 8)}:${hex2(i & 0xff)}:10:20:${hex2((i * 7) & 0xff)}`);
      this.v4.push(`10.${20 + (i >> 8)}.${i & 0xff}.${1 + (i % 250)}`);
      this.v6.push(`2001:db8:ff::${(i + 1).toString(16)}`);
      this.ll6.push(`fe80::a4ff:fe10:${(i + 1).toString(16)}`);
    }
  }
}

const SERVER_V4 = ['93.184.216.34', '142.250.74.3', '151.101.1.69', '10.20.0.1'];
const SERVER_V6 = ['2a00:1450:4001::200e', '2606:2800:220:1::248', '2001:db8:ff::1'];

function payloadSize(r: Prng): number {
  const k = r.int(10);
  if (k < 4) return 0;
  if (k < 8) return r.range(20, 500);
  if (k < 9) return r.range(500, 1400);
  return 1460 - 20;
}

function frame(r: Prng, pop: Population): Bytes {
  const i = r.int(pop.macs.length);
  const j = r.int(pop.macs.length);
  const own = r.chance(0.05);
  const src = own ? BENCH_MAC : pop.macs[i];
  const dst = pop.macs[j];
  const k = r.int(1000);
  if (k < 300) { // IPv4 unicast TCP/UDP
    const tcp = r.chance(0.75);
    const l4 = tcp ? tcpSegment(r.range(1024, 65535), r.pick([80, 443, 443, 22, 8080]), r.pick([TCP_ACK, TCP_ACK | TCP_PSH, TCP_SYN]), new Uint8Array(payloadSize(r)))
      : udpDatagram(r.range(1024, 65535), r.pick([443, 123, 51820, 1194]), new Uint8Array(r.range(20, 1200)));
    return ether(dst, src, ETH_IPV4, ipv4Packet({ src: pop.v4[i], dst: r.pick(SERVER_V4), proto: tcp ? 6 : 17, dontFragment: true }, l4));
  }
  if (k < 720) { // IPv6 unicast TCP/UDP
    const tcp = r.chance(0.7);
    const l4 = tcp ? tcpSegment(r.range(1024, 65535), r.pick([80, 443, 443, 22]), r.pick([TCP_ACK, TCP_ACK | TCP_PSH, TCP_SYN]), new Uint8Array(payloadSize(r)))
      : udpDatagram(r.range(1024, 65535), r.pick([443, 123, 51820]), new Uint8Array(r.range(20, 1200)));
    return ether(dst, src, ETH_IPV6, ipv6Packet({ src: pop.v6[i], dst: r.pick(SERVER_V6), next: tcp ? 6 : 17 }, l4));
  }
  if (k < 760) { // ARP: requests (broadcast), replies (unicast), gratuitous (broadcast reply)
    const kind = r.int(10);
    if (kind < 6) return ether(BCAST, src, ETH_ARP, arpPacket(1, src, pop.v4[i], '00:00:00:00:00:00', pop.v4[j]));
    if (kind < 9) return ether(dst, src, ETH_ARP, arpPacket(2, src, pop.v4[i], dst, pop.v4[j]));
    return ether(BCAST, src, ETH_ARP, arpPacket(2, src, pop.v4[i], BCAST, pop.v4[i]));
  }
  if (k < 820) { // ICMPv6 ND
    const type = r.pick([133, 134, 135, 135, 135, 136, 136] as const);
    const mcast = type === 133 ? 'ff02::2' : type === 134 ? 'ff02::1' : `ff02::1:ff10:${(j + 1).toString(16)}`;
    const unicast = type === 136 || (type === 135 && r.chance(0.3));
    const dmac = unicast ? dst : type === 133 ? '33:33:00:00:00:02' : type === 134 ? '33:33:00:00:00:01' : `33:33:ff:10:00:${hex2(j & 0xff)}`;
    const nd = ndMessage(type, pop.v6[j], type === 136 ? undefined : src);
    return ether(dmac, src, ETH_IPV6, ipv6Packet({ src: pop.ll6[i], dst: unicast ? pop.ll6[j] : mcast, next: 58, hopLimit: 255 }, nd));
  }
  if (k < 830) { // DHCPv4
    const client = r.chance(0.5);
    const l4 = client ? udpDatagram(68, 67, dhcpMessage(1, src, r.pick([1, 3]))) : udpDatagram(67, 68, dhcpMessage(2, dst, r.pick([2, 5])));
    return ether(client ? BCAST : dst, src, ETH_IPV4, ipv4Packet({ src: client ? '0.0.0.0' : '10.20.0.1', dst: client ? '255.255.255.255' : pop.v4[j], proto: 17 }, l4));
  }
  if (k < 890) { // DNS over IPv4 and IPv6
    const response = r.chance(0.5);
    const id = r.next() & 0xffff;
    const l4 = response ? udpDatagram(53, r.range(1024, 65535), dnsMessage(id, true)) : udpDatagram(r.range(1024, 65535), 53, dnsMessage(id, false));
    if (r.chance(0.5)) return ether(dst, src, ETH_IPV4, ipv4Packet({ src: response ? '10.20.0.1' : pop.v4[i], dst: response ? pop.v4[j] : '10.20.0.1', proto: 17 }, l4));
    return ether(dst, src, ETH_IPV6, ipv6Packet({ src: response ? '2001:db8:ff::1' : pop.v6[i], dst: response ? pop.v6[j] : '2001:db8:ff::1', next: 17 }, l4));
  }
  if (k < 950) { // multicast: mDNS v4/v6, SSDP, MLDv2 report behind hop-by-hop
    const m = r.int(4);
    if (m === 0) return ether('01:00:5e:00:00:fb', src, ETH_IPV4, ipv4Packet({ src: pop.v4[i], dst: '224.0.0.251', proto: 17, ttl: 255 }, udpDatagram(5353, 5353, dnsMessage(0, false))));
    if (m === 1) return ether('33:33:00:00:00:fb', src, ETH_IPV6, ipv6Packet({ src: pop.ll6[i], dst: 'ff02::fb', next: 17, hopLimit: 255 }, udpDatagram(5353, 5353, dnsMessage(0, r.chance(0.5)))));
    if (m === 2) return ether('01:00:5e:7f:ff:fa', src, ETH_IPV4, ipv4Packet({ src: pop.v4[i], dst: '239.255.255.250', proto: 17, ttl: 4 }, udpDatagram(r.range(1024, 65535), 1900, new Uint8Array(r.range(90, 300)))));
    return ether('33:33:00:00:00:16', src, ETH_IPV6, ipv6Packet({ src: pop.ll6[i], dst: 'ff02::16', next: 58, hopLimit: 1, ext: [{ type: 0 }] }, icmpMessage(143, 0, new Uint8Array(24))));
  }
  if (k < 970) { // batman-adv frames and other L2 broadcast
    return ether(r.chance(0.5) ? BCAST : dst, src, 0x4305, new Uint8Array(r.range(20, 120)));
  }
  // ICMP / ICMPv6 echo
  if (r.chance(0.5)) return ether(dst, src, ETH_IPV4, ipv4Packet({ src: pop.v4[i], dst: r.pick(SERVER_V4), proto: 1 }, icmpMessage(r.pick([0, 8]), 0, new Uint8Array(56))));
  return ether(dst, src, ETH_IPV6, ipv6Packet({ src: pop.v6[i], dst: r.pick(SERVER_V6), next: 58 }, icmpMessage(r.pick([128, 129]), 0, new Uint8Array(56))));
}

export function generateMix(count: number, seed = 20261127): PacketToWrite[] {
  const r = new Prng(seed);
  const pop = new Population(300);
  const out: PacketToWrite[] = [];
  for (let n = 0; n < count; n++) {
    const data = frame(r, pop);
    // Short frames are padded to the Ethernet minimum on the wire (60 bytes without FCS).
    const padded = data.length < 60 ? Uint8Array.from({ length: 60 }, (_, x) => (x < data.length ? data[x] : 0)) : data;
    out.push({ data: padded, tsSec: 1700000000 + Math.floor(n / 1000), tsFrac: (n % 1000) * 1000 });
  }
  return out;
}

/** Writes the mix unless a file of the expected size class is already there. */
export function ensureMix(path: string, count: number): void {
  if (existsSync(path) && statSync(path).size > count * 60) return;
  mkdirSync(dirname(path), { recursive: true });
  writePcapFile(path, generateMix(count), { linkType: 1, snaplen: 65535 });
}
