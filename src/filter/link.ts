/**
 * What a capture's link type means for lowering: where the network layer starts and how a
 * network protocol (EtherType) is recognised there. `vlan`, `mpls` and `pppoes` move both
 * for everything after them in the expression, so lowering keeps a mutable LinkState.
 */
import { and, eq, FALSE, load, maskedEq, not, cmp, num, or, type Cond } from './ir';
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
  /**
   * A 2-byte protocol field. llc says how values up to 1500 (802.2 SAPs) are found:
   * 'ether': the field is an 802.3 length and an LLC header follows; 'sll': protocol 4 means LLC;
   * 'none': compared as they are (LINUX_SLL2).
   */
  | { kind: 'ethertype'; typeOff: number; nl: number; vlanAllowed: boolean; llc: 'ether' | 'sll' | 'none' }
  | { kind: 'version' }                               // raw IP
  | { kind: 'af'; hostOrder: boolean; nl: number }    // BSD loopback: address family word
  /** under: the state below the label stack; libpcap's `llc` still tests that link header. */
  | { kind: 'mpls'; nl: number; under: LinkState }
  | { kind: 'ppp'; typeOff: number; nl: number };

export const ETH_IP = 0x0800, ETH_IP6 = 0x86dd;
export const ETH_ATALK = 0x809b, ETH_AARP = 0x80f3, ETH_IPX = 0x8137;
/** 802.2 SAPs with special encodings in libpcap. */
export const SAP_IP = 0x06, SAP_ISONS = 0xfe, SAP_NETBEUI = 0xf0, SAP_IPX = 0xe0, SAP_8021D = 0x42;
const ETHERMTU = 1500;

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
    case 'ether': return { kind: 'ethertype', typeOff: 12, nl: 14, vlanAllowed: true, llc: 'ether' };
    case 'sll': return { kind: 'ethertype', typeOff: link.typeOff, nl: link.nl, vlanAllowed: false, llc: 'sll' };
    case 'sll2': return { kind: 'ethertype', typeOff: link.typeOff, nl: link.nl, vlanAllowed: false, llc: 'none' };
    case 'raw': return { kind: 'version' };
    case 'null': return { kind: 'af', hostOrder: true, nl: 4 };
    case 'loop': return { kind: 'af', hostOrder: false, nl: 4 };
  }
}

export function networkOffset(s: LinkState): number {
  return s.kind === 'version' ? 0 : s.nl;
}

/** Address families libpcap tests in loopback headers read from files: AF_INET, and the BSDs' AF_INET6 values. */
const AF_INET = 2;
const BSD_AF_INET6 = [30, 24, 28];

/** PPP protocol numbers for the EtherTypes and SAPs libpcap maps (others are compared as is). */
const PPP_FOR_ETHERTYPE: ReadonlyMap<number, number> = new Map([
  [ETH_IP, 0x0021], [ETH_IP6, 0x0057], [0x6003, 0x0027], [0x809b, 0x0029], [0x0600, 0x0025],
  [SAP_ISONS, 0x0023], [SAP_8021D, 0x0031], [SAP_IPX, 0x002b],
]);

/**
 * Test that the network protocol is `type` (an EtherType above 1500) in state s.
 * Returns null when this engine does not know the encoding (caller falls back to libpcap).
 */
export function ethertypeTest(s: LinkState, type: number, insideHost = false): Cond | null {
  switch (s.kind) {
    case 'ethertype': return s.llc === 'ether' ? etherLinkType(s, type) : s.llc === 'sll' ? sllLinkType(s, type) : eq(load(s.typeOff, 2), type);
    case 'ppp': return eq(load(s.typeOff, 2), PPP_FOR_ETHERTYPE.get(type) ?? type);
    case 'version':
      return type === ETH_IP ? maskedEq(load(0, 1), 0xf0, 0x40, 1)
        : type === ETH_IP6 ? maskedEq(load(0, 1), 0xf0, 0x60, 1) : FALSE;
    case 'af': {
      // Capture files only (Linux never captures these live): the word is in the byte order of
      // the host that wrote the file, which this engine is not told; OpenBSD LOOP is big-endian.
      if (s.hostOrder) return null;
      if (type === ETH_IP) return eq(load(0, 4), AF_INET);
      if (type !== ETH_IP6) return FALSE;
      const af = load(0, 4);
      return or(or(eq(af, BSD_AF_INET6[0]), eq(af, BSD_AF_INET6[1])), eq(af, BSD_AF_INET6[2]));
    }
    case 'mpls': {
      const version = type === ETH_IP ? 0x40 : type === ETH_IP6 ? 0x60 : -1;
      // `host`/`net` after mpls test only IPv4 (their ARP/RARP parts vanish); `arp` alone is refused.
      if (version < 0) return insideHost ? FALSE : fail('unsupported protocol over mpls');
      // Bottom-of-stack bit of the last label, then the IP version nibble.
      return and(maskedEq(load(s.nl - 2, 1), 1, 1, 1), maskedEq(load(s.nl, 1), 0xf0, version, 1));
    }
  }
}

/** libpcap's Ethernet protocol test: EtherTypes, or 802.3 + LLC (SAPs, SNAP, Novell raw) for small values. */
function etherLinkType(s: { typeOff: number; nl: number }, type: number): Cond {
  const field = load(s.typeOff, 2);
  const is8023 = not(cmp('gt', field, num(ETHERMTU)));
  switch (type) {
    case SAP_ISONS: case SAP_IP: case SAP_NETBEUI:
      return and(is8023, eq(load(s.nl, 2), (type << 8) | type));
    case SAP_IPX:
      return or(eq(field, ETH_IPX), and(is8023, or(
        and(eq(load(s.nl + 4, 4), ETH_IPX), eq(load(s.nl, 4), 0xaaaa0300)),
        or(eq(load(s.nl, 1), SAP_IPX), eq(load(s.nl, 2), 0xffff)))));
    case ETH_ATALK: case ETH_AARP:
      return or(eq(field, type), and(is8023, and(
        eq(load(s.nl + 4, 4), type === ETH_ATALK ? 0x0007809b : ETH_AARP),
        eq(load(s.nl, 4), type === ETH_ATALK ? 0xaaaa0308 : 0xaaaa0300))));
    default:
      return type <= ETHERMTU ? and(is8023, eq(load(s.nl, 1), type)) : eq(field, type);
  }
}

/** The same for Linux cooked v1: protocol 4 is 802.2 LLC, 1 is Novell 802.3. */
function sllLinkType(s: { typeOff: number; nl: number }, type: number): Cond {
  const field = load(s.typeOff, 2);
  const llc = eq(field, 4);
  switch (type) {
    case SAP_ISONS: case SAP_IP: case SAP_NETBEUI:
      return and(llc, eq(load(s.nl, 2), (type << 8) | type));
    case SAP_IPX:
      return or(eq(field, ETH_IPX), or(eq(field, 1), and(llc, or(eq(load(s.nl, 1), SAP_IPX),
        and(eq(load(s.nl + 4, 4), ETH_IPX), eq(load(s.nl, 4), 0xaaaa0300))))));
    case ETH_ATALK: case ETH_AARP:
      return or(eq(field, type), and(llc, and(
        eq(load(s.nl + 4, 4), type === ETH_ATALK ? 0x0007809b : ETH_AARP),
        eq(load(s.nl, 4), type === ETH_ATALK ? 0xaaaa0308 : 0xaaaa0300))));
    default:
      return type <= ETHERMTU ? and(llc, eq(load(s.nl, 1), type)) : eq(field, type);
  }
}

/** `llc [subtype]` on Ethernet (libpcap refuses it on Linux cooked captures). */
export function llcTest(link: LinkLayer, s: LinkState, sub: string | null): Cond | null {
  // MPLS moves only the network layer: `mpls and llc` tests the link header below the labels.
  if (s.kind === 'mpls') return llcTest(link, s.under, sub);
  if (s.kind === 'ppp') fail("'llc' not supported for PPP");
  if (s.kind === 'ethertype' && s.llc !== 'ether') fail(`'llc' not supported for ${linkDescription(link)}`);
  if (s.kind !== 'ethertype') return null;
  const base = and(not(cmp('gt', load(s.typeOff, 2), num(ETHERMTU))), not(eq(load(s.nl, 2), 0xffff)));
  if (sub === null) return base;
  const control = load(s.nl + 2, 1);
  if (sub === 'i') return and(base, not(cmp('set', control, num(1))));
  if (sub === 's') return and(base, maskedEq(control, 3, 1, 1));
  if (sub === 'u') return and(base, maskedEq(control, 3, 3, 1));
  const sType = LLC_S.get(sub);
  if (sType !== undefined) return and(base, maskedEq(control, 0x0f, sType, 1));
  const uType = LLC_U.get(sub);
  if (uType !== undefined) return and(base, maskedEq(control, 0xef, uType, 1));
  return fail(`unknown LLC type name "${sub}"`);
}

const LLC_S: ReadonlyMap<string, number> = new Map([['rr', 0x01], ['rnr', 0x05], ['rej', 0x09]]);
const LLC_U: ReadonlyMap<string, number> = new Map([
  ['ui', 0x03], ['ua', 0x63], ['disc', 0x43], ['dm', 0x0f], ['sabme', 0x6f], ['test', 0xe3], ['xid', 0xaf], ['frmr', 0x87],
]);

/** Offset of the NLPID of an ISO packet behind an LLC header without SNAP. */
export function isoNlpidOffset(s: LinkState): number | null {
  // Ethernet: behind the 3-byte 802.2 header; Linux cooked: the payload starts with it.
  if (s.kind === 'ethertype') return s.llc === 'ether' ? s.nl + 3 : s.nl;
  return null;
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
  return { test, next: { kind: 'ethertype', typeOff: s.typeOff + 4, nl: s.nl + 4, vlanAllowed: true, llc: 'ether' } };
}

/** `mpls [label]`: the test, and the state after it (one more 4-byte label). */
export function mplsStep(link: LinkLayer, s: LinkState, label: number | null): { test: Cond | null; next: LinkState } {
  if (label !== null && label > 0xfffff) fail(`MPLS label ${label} greater than maximum 1048575`);
  let test: Cond | null;
  if (s.kind === 'mpls') test = not(cmp('set', load(s.nl - 2, 1), num(1)));
  else if (s.kind === 'ethertype' && s.vlanAllowed) test = eq(load(s.typeOff, 2), 0x8847);
  else if (s.kind === 'ethertype' || s.kind === 'version' || s.kind === 'af') return fail(`no MPLS support for ${linkDescription(link)}`);
  // Behind PPPoE: the PPP protocol number of MPLS unicast.
  else if (s.kind === 'ppp') test = eq(load(s.typeOff, 2), 0x0281);
  else test = null;
  if (test && label !== null) test = and(test, maskedEq(load(s.nl, 4), 0xfffff000, (label << 12) >>> 0, 4));
  return { test, next: { kind: 'mpls', nl: s.nl + 4, under: s.kind === 'mpls' ? s.under : s } };
}

/** `pppoes [session]`: the test, and the state after it (PPP protocol field behind the PPPoE header). */
export function pppoesStep(s: LinkState, session: number | null): { test: Cond | null; next: LinkState | null } {
  if (session !== null && session > 0xffff) fail(`PPPoE session number ${session} greater than maximum 65535`);
  if (s.kind === 'version' || s.kind === 'af') {
    // No EtherType here (raw IP, loopback): libpcap's constant false, and offsets behind a PPPoE
    // header at the network layer for whatever follows in the text.
    const at = networkOffset(s);
    return { test: FALSE, next: { kind: 'ppp', typeOff: at + 6, nl: at + 8 } };
  }
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
