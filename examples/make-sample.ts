/**
 * Writes examples/sample.pcap: a small Freifunk-like mix (ARP, ICMPv6 ND,
 * DHCP, DNS over IPv4/IPv6, multicast, unicast TCP) for `npm run demo`.
 * Run: node build/examples/make-sample.js
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OWN = [0x02, 0xba, 0x7a, 0x00, 0x00, 0x01];
const PEER = [0x02, 0xba, 0x7a, 0x00, 0x00, 0x02];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const ALL_NODES6 = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
const ALL_ROUTERS6 = [0x33, 0x33, 0x00, 0x00, 0x00, 0x02];

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const ether = (dst: number[], src: number[], type: number, payload: number[]): number[] => [...dst, ...src, ...u16(type), ...payload];
const ipv4 = (proto: number, src: number[], dst: number[], payload: number[]): number[] =>
  [0x45, 0, ...u16(20 + payload.length), 0, 0, 0, 0, 64, proto, 0, 0, ...src, ...dst, ...payload];
const ipv6 = (next: number, src: number[], dst: number[], payload: number[]): number[] =>
  [0x60, 0, 0, 0, ...u16(payload.length), next, 255, ...src, ...dst, ...payload];
const udp = (sport: number, dport: number, payload: number[]): number[] => [...u16(sport), ...u16(dport), ...u16(8 + payload.length), 0, 0, ...payload];
const tcp = (sport: number, dport: number, flags: number, payload: number[]): number[] =>
  [...u16(sport), ...u16(dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0x20, 0, 0, 0, 0, 0, ...payload];
const arp = (op: number, sha: number[], spa: number[], tha: number[], tpa: number[]): number[] =>
  [0, 1, 8, 0, 6, 4, 0, op, ...sha, ...spa, ...tha, ...tpa];
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const fill = (n: number): number[] => Array.from({ length: n }, (_, i) => i & 0xff);
const ll6 = (last: number): number[] => [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
const ip4 = (last: number): number[] => [10, 0, 0, last];
const dns = (response: boolean): number[] => [0x12, 0x34, response ? 0x81 : 0x01, 0, 0, 1, 0, response ? 1 : 0, 0, 0, 0, 0, ...fill(20)];

const frames: number[][] = [];
for (let i = 0; i < 20; i++) {
  frames.push(ether(BCAST, PEER, 0x0806, arp(1, PEER, ip4(2), [0, 0, 0, 0, 0, 0], ip4(1))));
  frames.push(ether(PEER, OWN, 0x0806, arp(2, OWN, ip4(1), PEER, ip4(2))));
  frames.push(ether(BCAST, OWN, 0x0806, arp(1, OWN, ip4(1), [0, 0, 0, 0, 0, 0], ip4(3))));
  if (i % 5 === 0) frames.push(ether(BCAST, OWN, 0x0806, arp(2, OWN, ip4(1), BCAST, ip4(1))));
  frames.push(ether(ALL_ROUTERS6, PEER, 0x86dd, ipv6(58, ll6(2), [0xff, 2, ...zeros(13), 2], [133, 0, 0, 0, 0, 0, 0, 0])));
  frames.push(ether(ALL_NODES6, OWN, 0x86dd, ipv6(58, ll6(1), [0xff, 2, ...zeros(13), 1], [134, 0, 0, 0, 64, 0, 7, 8, ...fill(8)])));
  frames.push(ether(PEER, OWN, 0x86dd, ipv6(58, ll6(1), ll6(2), [135, 0, 0, 0, 0, 0, 0, 0, ...ll6(2)])));
  frames.push(ether(OWN, PEER, 0x86dd, ipv6(58, ll6(2), ll6(1), [136, 0, 0, 0, 0x60, 0, 0, 0, ...ll6(2)])));
  frames.push(ether(BCAST, PEER, 0x0800, ipv4(17, [0, 0, 0, 0], [255, 255, 255, 255], udp(68, 67, fill(240)))));
  frames.push(ether(PEER, OWN, 0x0800, ipv4(17, ip4(1), ip4(2), udp(67, 68, fill(260)))));
  frames.push(ether(OWN, PEER, 0x0800, ipv4(17, ip4(2), ip4(1), udp(40000 + i, 53, dns(false)))));
  frames.push(ether(PEER, OWN, 0x0800, ipv4(17, ip4(1), ip4(2), udp(53, 40000 + i, dns(true)))));
  frames.push(ether(OWN, PEER, 0x86dd, ipv6(17, ll6(2), ll6(1), udp(41000 + i, 53, dns(false)))));
  for (let k = 0; k < 3; k++) frames.push(ether(OWN, PEER, 0x0800, ipv4(6, ip4(2), ip4(9), tcp(50000, 443, 0x10, fill(1200)))));
}

const records: Buffer[] = [];
const header = Buffer.alloc(24);
header.writeUInt32LE(0xa1b2c3d4, 0);
header.writeUInt16LE(2, 4);
header.writeUInt16LE(4, 6);
header.writeUInt32LE(262144, 16);
header.writeUInt32LE(1, 20);
records.push(header);
frames.forEach((frame, i) => {
  const rec = Buffer.alloc(16);
  rec.writeUInt32LE(1764000000 + i, 0);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  records.push(rec, Buffer.from(frame));
});
writeFileSync(join(__dirname, '..', '..', 'examples', 'sample.pcap'), Buffer.concat(records));
