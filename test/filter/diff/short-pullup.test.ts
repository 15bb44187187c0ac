/**
 * Rule shapes whose tests libpcap's optimizer reorders (pull-ups, jump threading) against packets
 * cut at every length, whole (caplen = wirelen) and truncated, on Ethernet, Linux cooked and raw
 * IP. Every rule runs in JavaScript and must give libpcap's unoptimised verdict on every packet:
 * `ip and port 6697 or udp port 53` (the optimiser tests sport twice before loading dport),
 * `not ether[0] = 0 && !(ip6[0] > ip6[1])` on raw IP (a relation moved above the version test).
 * Where the optimised program differs is counted as information. About five seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcapFile, type CapturedPacket } from '../gen/pcap-file';
import { oracleMatch, oracleMatchOptimized } from '../gen/oracle';
import {
  concat, ether, ETH_ARP, ETH_IPV4, ETH_IPV6, ipv4Packet, ipv6Packet, tcpSegment, udpDatagram, type Bytes,
} from '../gen/packets';
import { runEngine } from './harness';

const PORTS = [53, 80, 6697];

/** `<p> and port A or <q> port B` and its relatives, over ports that the packets carry or not. */
function portShapes(): string[] {
  const out = new Set<string>();
  for (const p of ['ip', 'ip6', 'tcp', 'udp']) {
    for (const q of ['tcp ', 'udp ', '']) {
      for (const a of PORTS) {
        for (const b of PORTS) {
          if (a === b && q === '') continue;
          out.add(`${p} and port ${a} or ${q}port ${b}`);
          out.add(`${p} and port ${a} or ${q}src port ${b}`);
          out.add(`${p} and port ${a} or ${q}dst port ${b}`);
          out.add(`${p} and (port ${a} or ${q}port ${b})`);
          out.add(`${p} and src port ${a} or ${q}dst port ${b}`);
          out.add(`not ${p} and port ${a} or ${q}port ${b}`);
          out.add(`${q}port ${a} or ${p} and port ${b}`);
          out.add(`${p} and port ${a} and not ${q}port ${b}`);
          out.add(`${p} and host 10.0.0.2 or ${q}port ${b}`);
          out.add(`${p} and portrange ${Math.min(a, b)}-${Math.max(a, b)} or ${q}port ${a}`);
        }
      }
    }
  }
  return [...out];
}

/** A link-header byte (on raw IP: the IP version byte) next to a relation of IP bytes. */
function relationShapes(): string[] {
  const out: string[] = [];
  const relations = ['ip6[0] > ip6[1]', 'ip[0] > ip[1]', 'ip6[0] = ip6[2]', 'ip[0] & 0xf0 = ip[1]', 'ip[0] > ip[9]', 'ip6[0] > ip6[6]'];
  const firsts = ['ether[0] = 0', 'ether[0] = 0x45', 'ether[0] & 1 = 0', 'ether[0] > 0x50', 'ether[14] = 0x45'];
  for (const r of relations) {
    for (const f of firsts) {
      for (const [x, y] of [['not ', '!'], ['', '!'], ['not ', ''], ['', '']]) out.push(`${x}${f} && ${y}(${r})`, `${x}${f} || ${y}(${r})`);
    }
  }
  return out;
}

/** IPv4/IPv6 UDP/TCP between ports of PORTS (and not), IPv4 with options, IPv6 with a fragment header. */
function networkPackets(): { type: number; bytes: Bytes }[] {
  const payload = new Uint8Array(12).fill(0x41);
  const out: { type: number; bytes: Bytes }[] = [];
  for (const [s, d] of [[53, 80], [80, 53], [53, 53], [6697, 5353], [1234, 6697]]) {
    out.push({ type: ETH_IPV4, bytes: ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udpDatagram(s, d, payload)) });
    out.push({ type: ETH_IPV4, bytes: ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6 }, tcpSegment(s, d, 0x12, payload)) });
    out.push({ type: ETH_IPV6, bytes: ipv6Packet({ src: 'fe80::1', dst: 'ff02::1', next: 17 }, udpDatagram(s, d, payload)) });
    out.push({ type: ETH_IPV6, bytes: ipv6Packet({ src: 'fe80::1', dst: 'ff02::1', next: 6 }, tcpSegment(s, d, 0x12, payload)) });
  }
  out.push({ type: ETH_IPV4, bytes: ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, options: Uint8Array.of(1, 1, 1, 1) }, udpDatagram(53, 80, payload)) });
  out.push({ type: ETH_IPV6, bytes: ipv6Packet({ src: 'fe80::1', dst: 'ff02::1', next: 17, ext: [{ type: 44 }] }, udpDatagram(53, 80, payload)) });
  // Ten header bytes with chosen first bytes (version, header length) under every EtherType here.
  for (const a of [0, 1, 0x45, 0x46, 0x50, 0x60, 0x61, 0xe6, 0xff]) {
    for (const b of [0, 0x45, 0xff]) {
      for (const c of [0, 0x11]) {
        const bytes = Uint8Array.of(a, b, 0, 0x28, 0, 0, 0, 0, 64, c);
        for (const type of [ETH_IPV4, ETH_IPV6, ETH_ARP]) out.push({ type, bytes });
      }
    }
  }
  return out;
}

/** Linux cooked header (DLT 113): incoming, Ethernet, a 6-byte address, the protocol. */
function sll(type: number, payload: Bytes): Bytes {
  return concat(Uint8Array.of(0, 0, 0, 1, 0, 6, 2, 0xca, 0xfe, 0, 0, 1, 0, 0, type >> 8, type & 0xff), payload);
}

/** The frames of one link type, each cut at every length: whole, and (below full length) truncated. */
function cutPackets(dlt: 1 | 113 | 12): CapturedPacket[] {
  const frames: Bytes[] = [];
  const seen = new Set<string>();
  for (const { type, bytes } of networkPackets()) {
    const frame = dlt === 1 ? ether(bytes[0] & 1 ? '01:00:5e:00:00:01' : 'ff:ff:ff:ff:ff:ff', '02:ca:fe:00:00:01', type, bytes)
      : dlt === 113 ? sll(type, bytes) : bytes;
    const key = Buffer.from(frame).toString('hex');
    if (!seen.has(key)) { seen.add(key); frames.push(frame); }
  }
  const out: CapturedPacket[] = [];
  for (const f of frames) {
    for (let n = 1; n <= f.length; n++) {
      const data = f.subarray(0, n);
      out.push({ data, caplen: n, wirelen: n, tsSec: 0, tsFrac: 0 });
      if (n < f.length) out.push({ data, caplen: n, wirelen: f.length, tsSec: 0, tsFrac: 0 });
    }
  }
  return out;
}

test('rules libpcap\'s optimiser reorders, on packets cut at every length: the unoptimised verdict', () => {
  const exprs = [...portShapes(), ...relationShapes()];
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-pullup-'));
  try {
    const problems: string[] = [];
    let decisions = 0, pairs = 0, reordered = 0;
    for (const dlt of [1, 113, 12] as const) {
      const packets = cutPackets(dlt);
      const path = join(dir, `cut-${dlt}.pcap`);
      writePcapFile(path, packets.map((p) => ({ data: p.data, wirelen: p.wirelen })), { linkType: dlt === 12 ? 101 : dlt });
      const run = runEngine(exprs, dlt, packets);
      problems.push(...run.counterErrors);
      const unoptimized = oracleMatch(path, exprs);
      const optimized = oracleMatchOptimized(path, exprs);
      exprs.forEach((e, i) => {
        const want = unoptimized[i];
        const got = run.bits[i];
        const o = optimized[i];
        if (!want.ok) { problems.push(`DLT ${dlt} ${e}: libpcap refuses it: ${want.error}`); return; }
        if (got === null) { problems.push(`DLT ${dlt} ${e}: not evaluated in JavaScript`); return; }
        pairs++;
        decisions += want.value.length;
        if (!o.ok || o.value !== want.value) reordered++;
        const k = [...want.value].findIndex((v, j) => v !== got[j]);
        if (k >= 0) {
          const p = packets[k];
          problems.push(`DLT ${dlt} ${e}: caplen ${p.caplen} wirelen ${p.wirelen} ${Buffer.from(p.data).toString('hex')}: libpcap ${want.value[k]}, engine ${got[k]}`);
        }
      });
    }
    console.log(`${pairs} rule/link-type pairs, ${decisions} decisions compared (none excused); libpcap's optimiser decides ${reordered} of the pairs otherwise on some packet (information)`);
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
    assert.equal(pairs, 3 * exprs.length);
    assert.ok(decisions >= 1_000_000, `only ${decisions} decisions compared`);
    assert.ok(reordered >= 100, `libpcap's optimizer changed the verdicts of only ${reordered} pairs: the sweep lost its class`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
