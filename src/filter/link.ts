/**
 * What a capture's link type means for lowering: where the network layer starts and how a
 * network protocol (EtherType) is recognised there. `vlan`, `mpls` and `pppoes` move both
 * for everything after them in the expression, so lowering keeps a mutable LinkState.
 */
import { endianness } from 'node:os';
import { and, eq, FALSE, load, maskedEq, not, cmp, num, type Cond } from './ir';
import { fail } from './errors';

export type LinkFamily = 'ether' | 'sll' | 'sll2' | 'raw' | 'null' | 'loop';

export interface LinkLayer {
  family: LinkFamily;
  name: string;
  /** Ethernet MAC addresses exist (ether host, broadcast, multicast). */
  hasMac: boolean;
  /** Offset of the link-layer protocol field (EtherType-like), when there is one. */
  typeOff: number;
  /** Offset of the network-layer header before any vlan/mpls/pppoes. */
  nl: number;
}

/** The protocol field and network-layer offset in effect at a point of the expression text. */
export type LinkState =
  | { kind: 'ethertype'; typeOff: number; nl: number; vlanAllowed: boolean }
  | { kind: 'version' }                               // raw IP
  | { kind: 'af'; hostOrder: boolean; nl: number }    // BSD loopback: address family word
  | { kind: 'mpls'; nl: number }
  | { kind: 'ppp'; typeOff: number; nl: number };

export const ETH_IP = 0x0800, ETH_IP6 = 0x86dd;

const LINKS: Record<number, LinkLayer> = {
  1: { family: 'ether', name: 'EN10MB', hasMac: true, typeOff: 12, nl: 14 },
  12: { family: 'raw', name: 'RAW', hasMac: false, typeOff: -1, nl: 0 },
  14: { family: 'raw', name: 'RAW', hasMac: false, typeOff: -1, nl: 0 },
  101: { family: 'raw', name: 'RAW', hasMac: false, typeOff: -1, nl: 0 },
  113: { family: 'sll', name: 'LINUX_SLL', hasMac: false, typeOff: 14, nl: 16 },
  276: { family: 'sll2', name: 'LINUX_SLL2', hasMac: false, typeOff: 0, nl: 20 },
  0: { family: 'null', name: 'NULL', hasMac: false, typeOff: 0, nl: 4 },
  108: { family: 'loop', name: 'LOOP', hasMac: false, typeOff: 0, nl: 4 },
};

export function linkLayerFor(dlt: number): LinkLayer | null {
  return LINKS[dlt] ?? null;
}

export function initialState(link: LinkLayer): LinkState {
  switch (link.family) {
    case 'ether': return { kind: 'ethertype', typeOff: 12, nl: 14, vlanAllowed: true };
    case 'sll': case 'sll2': return { kind: 'ethertype', typeOff: link.typeOff, nl: link.nl, vlanAllowed: false };
    case 'raw': return { kind: 'version' };
    case 'null': return { kind: 'af', hostOrder: true, nl: 4 };
    case 'loop': return { kind: 'af', hostOrder: false, nl: 4 };
  }
}

export function networkOffset(s: LinkState): number {
  return s.kind === 'version' ? 0 : s.nl;
}

/** Address families as libpcap compiles them on Linux (AF_INET 2, AF_INET6 10). */
const AF_INET = 2, AF_INET6 = 10;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** PPP protocol numbers for the EtherTypes libpcap maps (others are compared as is). */
const PPP_FOR_ETHERTYPE: ReadonlyMap<number, number> = new Map([
  [ETH_IP, 0x0021], [ETH_IP6, 0x0057], [0x6003, 0x0027], [0x809b, 0x0029], [0x0600, 0x0025],
]);

/**
 * Test that the network protocol is `type` (an EtherType above 1500) in state s.
 * Returns null when this engine does not know the encoding (caller falls back to libpcap).
 */
export function ethertypeTest(s: LinkState, type: number): Cond | null {
  switch (s.kind) {
    case 'ethertype': return eq(load(s.typeOff, 2), type);
    case 'ppp': return eq(load(s.typeOff, 2), PPP_FOR_ETHERTYPE.get(type) ?? type);
    case 'version':
      return type === ETH_IP ? maskedEq(load(0, 1), 0xf0, 0x40, 1)
        : type === ETH_IP6 ? maskedEq(load(0, 1), 0xf0, 0x60, 1) : FALSE;
    case 'af': {
      const af = type === ETH_IP ? AF_INET : type === ETH_IP6 ? AF_INET6 : -1;
      if (af < 0) return FALSE;
      return eq(load(0, 4), s.hostOrder && LITTLE_ENDIAN_HOST ? swap32(af) : af);
    }
    case 'mpls': {
      const version = type === ETH_IP ? 0x40 : type === ETH_IP6 ? 0x60 : -1;
      if (version < 0) fail('unsupported protocol over mpls');
      // Bottom-of-stack bit of the last label, then the IP version nibble.
      return and(maskedEq(load(s.nl - 2, 1), 1, 1, 1), maskedEq(load(s.nl, 1), 0xf0, version, 1));
    }
  }
}

const TPIDS = [0x8100, 0x88a8, 0x9100];

/** `vlan [id]`: the test, and the state after it (4 more bytes of link header). */
export function vlanStep(link: LinkLayer, s: LinkState, id: number | null): { test: Cond; next: LinkState } {
  if (id !== null && id > 4095) fail(`VLAN tag ${id} greater than maximum 4095`);
  if (s.kind === 'mpls') fail('no VLAN match after MPLS');
  if (s.kind === 'ppp') fail('no VLAN support for PPP');
  if (s.kind !== 'ethertype' || !s.vlanAllowed) fail(`no VLAN support for ${linkDescription(link)}`);
  const tpid = load(s.typeOff, 2);
  let test: Cond = { k: 'or', a: { k: 'or', a: eq(tpid, TPIDS[0]), b: eq(tpid, TPIDS[1]) }, b: eq(tpid, TPIDS[2]) };
  if (id !== null) test = and(test, maskedEq(load(s.nl, 2), 0xfff, id, 2));
  return { test, next: { kind: 'ethertype', typeOff: s.typeOff + 4, nl: s.nl + 4, vlanAllowed: true } };
}

/** `mpls [label]`: the test, and the state after it (one more 4-byte label). */
export function mplsStep(link: LinkLayer, s: LinkState, label: number | null): { test: Cond | null; next: LinkState } {
  if (label !== null && label > 0xfffff) fail(`MPLS label ${label} greater than maximum 1048575`);
  let test: Cond | null;
  if (s.kind === 'mpls') test = not(cmp('set', load(s.nl - 2, 1), num(1)));
  else if (s.kind === 'ethertype' && s.vlanAllowed) test = eq(load(s.typeOff, 2), 0x8847);
  else if (s.kind === 'ethertype' || s.kind === 'version' || s.kind === 'af') return fail(`no MPLS support for ${linkDescription(link)}`);
  else test = null; // MPLS over PPP: not handled here
  if (test && label !== null) test = and(test, maskedEq(load(s.nl, 4), 0xfffff000, (label << 12) >>> 0, 4));
  return { test, next: { kind: 'mpls', nl: s.nl + 4 } };
}

/** `pppoes [session]`: the test, and the state after it (PPP protocol field behind the PPPoE header). */
export function pppoesStep(s: LinkState, session: number | null): { test: Cond | null; next: LinkState | null } {
  if (session !== null && session > 0xffff) fail(`PPPoE session number ${session} greater than maximum 65535`);
  if (s.kind !== 'ethertype') return { test: null, next: null };
  let test: Cond = eq(load(s.typeOff, 2), 0x8864);
  if (session !== null) test = and(test, maskedEq(load(s.nl, 4), 0xffff, session, 4));
  return { test, next: { kind: 'ppp', typeOff: s.nl + 6, nl: s.nl + 8 } };
}

function linkDescription(link: LinkLayer): string {
  switch (link.family) {
    case 'sll': return 'Linux cooked v1';
    case 'sll2': return 'Linux cooked v2';
    case 'raw': return 'Raw IP';
    case 'null': return 'BSD loopback';
    case 'loop': return 'OpenBSD loopback';
    default: return link.name;
  }
}

export function describeLinkType(dlt: number): string {
  const names: Record<number, string> = {
    0: 'NULL', 1: 'EN10MB', 12: 'RAW', 14: 'RAW', 101: 'RAW', 108: 'LOOP', 113: 'LINUX_SLL', 276: 'LINUX_SLL2',
    105: 'IEEE802_11', 127: 'IEEE802_11_RADIO', 9: 'PPP', 50: 'PPP_SERIAL', 51: 'PPP_ETHER',
  };
  return names[dlt] ?? `DLT ${dlt}`;
}
