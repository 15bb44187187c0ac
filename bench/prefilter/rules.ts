/**
 * The benchmark's rule sets: the 18 Freifunk rules (bench/freifunk.filters)
 * and 100 varied control-traffic rules (ports, ICMP/ICMPv6 types, multicast
 * groups, ARP kinds, ethertypes, TCP handshake flags, routing protocols), as
 * an operator of a mesh router would count them. None is meant to match
 * bulk unicast TCP data; the benchmark checks that with libpcap.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchRule {
  id: string;
  expr: string;
}

export function readRuleFile(path: string): BenchRule[] {
  return readFileSync(path, 'utf8').split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ id: l.slice(0, l.indexOf(';')), expr: l.slice(l.indexOf(';') + 1) }));
}

export function freifunkRules(root: string): BenchRule[] {
  return readRuleFile(join(root, 'bench', 'freifunk.filters'));
}

const UDP_PORTS: ReadonlyArray<[string, number]> = [
  ['dhcp-s', 67], ['dhcp-c', 68], ['dns', 53], ['ntp', 123], ['netbios-ns', 137], ['snmp', 161],
  ['syslog', 514], ['dhcp6-c', 546], ['dhcp6-s', 547], ['ssdp', 1900], ['mdns', 5353], ['llmnr', 5355], ['openvpn', 1194],
  ['wireguard', 51820], ['vxlan', 4789], ['babel', 6696], ['olsr', 698], ['fastd', 10000], ['respondd', 1001], 
];
const TCP_PORTS: ReadonlyArray<[string, number]> = [
  ['ssh', 22], ['telnet', 23], ['dns', 53], ['http-alt', 8080], ['bgp', 179], ['luci', 80],
];
const TCP_FLAGS = ['tcp-syn', 'tcp-fin', 'tcp-rst'];
const ICMP_TYPES = [0, 3, 5, 8, 11, 12, 13, 14];
const ICMP6_TYPES = [1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143];
const IP4_GROUPS = ['224.0.0.1', '224.0.0.2', '224.0.0.5', '224.0.0.6', '224.0.0.9', '224.0.0.18', '224.0.0.22', '224.0.0.251', '239.255.255.250'];
const IP6_GROUPS = ['ff02::1', 'ff02::2', 'ff02::5', 'ff02::6', 'ff02::9', 'ff02::a', 'ff02::16', 'ff02::fb', 'ff02::1:2'];
const ETHER_DSTS = ['01:80:c2:00:00:00', '01:80:c2:00:00:0e', '01:00:0c:cc:cc:cc'];
const ETHERTYPES: ReadonlyArray<[string, string]> = [
  ['batman', '0x4305'], ['lldp', '0x88cc'], ['eapol', '0x888e'], ['pppoe-disc', '0x8863'], ['slow', '0x8809'],
  ['ptp', '0x88f7'], ['cfm', '0x8902'], ['ieee1905', '0x893a'],
];
const IP_PROTOS: ReadonlyArray<[string, string]> = [
  ['igmp', 'ip proto 2'], ['ospf', 'ip proto 89'], ['vrrp', 'ip proto 112'], ['gre', 'ip proto 47'], ['esp', 'ip proto 50'],
  ['ospf6', 'ip6 proto 89'], ['vrrp6', 'ip6 proto 112'],
];
const ARP_KINDS: ReadonlyArray<[string, string]> = [
  ['arp-req', 'arp and arp[6:2] == 1'], ['arp-rep', 'arp and arp[6:2] == 2'],
  ['arp-grat', 'arp and arp[14:4] == arp[24:4]'], ['arp-probe', 'arp and arp[14:4] == 0'],
  ['arp-own', 'arp and ether src $MAC'], ['arp-bcast-rep', 'ether broadcast and arp and arp[6:2] == 2'],
];
const MISC: ReadonlyArray<[string, string]> = [
  ['bcast', 'ether broadcast'], ['mcast', 'ether multicast and not ether broadcast'], ['ip-mcast', 'ip multicast'],
  ['ip6-mcast', 'ip6 multicast'], ['ip-frag', 'ip and ip[6:2] & 0x1fff != 0'], ['own-mcast', 'ether multicast and ether src $MAC'],
  ['small-udp-own', 'udp and ether src $MAC and less 128'],
];

/** The 100 rules of the kinds above. */
export function variedRules(): BenchRule[] {
  const all: BenchRule[] = [];
  for (const [name, p] of UDP_PORTS) all.push({ id: `udp-${name}`, expr: `udp port ${p}` });
  for (const [name, p] of TCP_PORTS) all.push({ id: `tcp-${name}`, expr: `tcp dst port ${p}` });
  for (const f of TCP_FLAGS) all.push({ id: `tcp-flag-${f}`, expr: `tcp[tcpflags] & ${f} != 0` });
  for (const t of ICMP_TYPES) all.push({ id: `icmp-${t}`, expr: `icmp[icmptype] == ${t}` });
  for (const t of ICMP6_TYPES) all.push({ id: `icmp6-${t}`, expr: `icmp6 and ip6[40] == ${t}` });
  for (const g of IP4_GROUPS) all.push({ id: `grp-${g}`, expr: `ip dst ${g}` });
  for (const g of IP6_GROUPS) all.push({ id: `grp6-${g}`, expr: `ip6 dst ${g}` });
  for (const d of ETHER_DSTS) all.push({ id: `l2-${d}`, expr: `ether dst ${d}` });
  for (const [name, t] of ETHERTYPES) all.push({ id: `et-${name}`, expr: `ether proto ${t}` });
  for (const [name, e] of IP_PROTOS) all.push({ id: `proto-${name}`, expr: e });
  for (const [name, e] of ARP_KINDS) all.push({ id: name, expr: e });
  for (const [name, e] of MISC) all.push({ id: name, expr: e });
  if (all.length !== 100) throw new Error(`the varied set has ${all.length} rules, not 100`);
  return all;
}

export function ruleFileText(rules: readonly BenchRule[]): string {
  return rules.map((r) => `${r.id};${r.expr}\n`).join('');
}
