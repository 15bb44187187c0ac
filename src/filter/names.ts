/**
 * Names users may write instead of numbers: services (ports), IP protocols, EtherTypes.
 * libpcap asks the host databases; so do we when they exist (same machine, same answer),
 * and use the built-in table when they do not (minimal router images).
 */
import { readText } from '../files';

export interface PortName { port: number; proto: 'tcp' | 'udp' | 'any' }

const BUILTIN_SERVICES: ReadonlyArray<[string, number, 'tcp' | 'udp' | 'any']> = [
  ['ftp-data', 20, 'tcp'], ['ftp', 21, 'tcp'], ['ssh', 22, 'tcp'], ['telnet', 23, 'tcp'], ['smtp', 25, 'tcp'],
  ['domain', 53, 'any'], ['bootps', 67, 'udp'], ['bootpc', 68, 'udp'], ['tftp', 69, 'udp'], ['http', 80, 'tcp'],
  ['pop3', 110, 'tcp'], ['sunrpc', 111, 'any'], ['ntp', 123, 'udp'], ['imap2', 143, 'tcp'], ['snmp', 161, 'udp'],
  ['snmp-trap', 162, 'udp'], ['bgp', 179, 'tcp'], ['https', 443, 'tcp'], ['syslog', 514, 'udp'],
  ['dhcpv6-client', 546, 'udp'], ['dhcpv6-server', 547, 'udp'], ['babel', 6696, 'udp'],
];

const BUILTIN_PROTOCOLS: ReadonlyArray<[string, number]> = [
  ['ip', 0], ['icmp', 1], ['igmp', 2], ['ipencap', 4], ['tcp', 6], ['egp', 8], ['igp', 9], ['udp', 17],
  ['ipv6', 41], ['ipv6-route', 43], ['ipv6-frag', 44], ['gre', 47], ['esp', 50], ['ah', 51],
  ['ipv6-icmp', 58], ['ipv6-nonxt', 59], ['ipv6-opts', 60], ['ospf', 89], ['pim', 103], ['vrrp', 112],
  ['l2tp', 115], ['sctp', 132], ['udplite', 136],
];

/** libpcap's own EtherType names (`ether proto \ip`). */
export const ETHER_PROTOS: ReadonlyMap<string, number> = new Map([
  ['ip', 0x0800], ['ip6', 0x86dd], ['arp', 0x0806], ['rarp', 0x8035], ['atalk', 0x809b],
  ['aarp', 0x80f3], ['decnet', 0x6003], ['lat', 0x6004], ['sca', 0x6007], ['moprc', 0x6002],
  ['mopdl', 0x6001], ['loopback', 0x9000],
]);

let services: Map<string, PortName> | null = null;
let protocols: Map<string, number> | null = null;

function readLines(path: string): string[] | null {
  try {
    return readText(path, 'latin1').split('\n');
  } catch {
    return null;
  }
}

function loadServices(): Map<string, PortName> {
  const m = new Map<string, PortName>();
  const lines = readLines('/etc/services');
  if (!lines) {
    for (const [n, port, proto] of BUILTIN_SERVICES) m.set(n, { port, proto });
    return m;
  }
  const tcp = new Map<string, number>();
  const udp = new Map<string, number>();
  for (const raw of lines) {
    const line = raw.replace(/#.*/, '').trim();
    const f = line.split(/\s+/);
    const pp = /^(\d+)\/(\w+)$/.exec(f[1] ?? '');
    if (!pp) continue;
    const table = pp[2] === 'tcp' ? tcp : pp[2] === 'udp' ? udp : null;
    if (!table) continue;
    for (const name of [f[0], ...f.slice(2)]) if (!table.has(name)) table.set(name, Number(pp[1]));
  }
  for (const name of new Set([...tcp.keys(), ...udp.keys()])) {
    const t = tcp.get(name), u = udp.get(name);
    if (t !== undefined && u !== undefined && t !== u) continue; // ambiguous: left to libpcap
    m.set(name, { port: (t ?? u) as number, proto: t !== undefined && u !== undefined ? 'any' : t !== undefined ? 'tcp' : 'udp' });
  }
  return m;
}

function loadProtocols(): Map<string, number> {
  const m = new Map<string, number>();
  const lines = readLines('/etc/protocols');
  if (!lines) {
    for (const [n, v] of BUILTIN_PROTOCOLS) m.set(n, v);
    return m;
  }
  for (const raw of lines) {
    const f = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (f.length < 2 || !/^\d+$/.test(f[1])) continue;
    for (const name of [f[0], ...f.slice(2)]) if (!m.has(name)) m.set(name, Number(f[1]));
  }
  return m;
}

export function lookupPort(name: string): PortName | null {
  services ??= loadServices();
  return services.get(name) ?? null;
}

export function lookupProtocol(name: string): number | null {
  protocols ??= loadProtocols();
  return protocols.get(name) ?? null;
}
