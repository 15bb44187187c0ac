/**
 * What a capture's link type means for lowering: where the network layer starts and
 * how a network protocol (EtherType) is recognised. Unknown link types are not evaluated here.
 */
import { and, eq, FALSE, load, maskedEq, type Cond } from './ir';

export interface LinkLayer {
  name: string;
  /** Offset of the network-layer header. */
  nl: number;
  /** Ethernet MAC addresses exist (ether host, broadcast, multicast). */
  hasMac: boolean;
  /** Test for a network protocol given as an EtherType above 1500; null: not expressible here. */
  ethertype(type: number): Cond | null;
}

const ETHERTYPE_IP = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

const ethernet: LinkLayer = {
  name: 'EN10MB', nl: 14, hasMac: true,
  ethertype: (t) => eq(load(12, 2), t),
};

/** Raw IP: the version nibble is the only protocol information. */
const rawIp = (name: string): LinkLayer => ({
  name, nl: 0, hasMac: false,
  ethertype: (t) => (t === ETHERTYPE_IP ? maskedEq(load(0, 1), 0xf0, 0x40, 1)
    : t === ETHERTYPE_IPV6 ? maskedEq(load(0, 1), 0xf0, 0x60, 1) : FALSE),
});

const sll: LinkLayer = {
  name: 'LINUX_SLL', nl: 16, hasMac: false,
  ethertype: (t) => eq(load(14, 2), t),
};

const sll2: LinkLayer = {
  name: 'LINUX_SLL2', nl: 20, hasMac: false,
  ethertype: (t) => eq(load(0, 2), t),
};

export function linkLayerFor(dlt: number): LinkLayer | null {
  switch (dlt) {
    case 1: return ethernet;
    case 12: case 14: case 101: return rawIp(dlt === 101 ? 'RAW' : `RAW(${dlt})`);
    case 113: return sll;
    case 276: return sll2;
    default: return null;
  }
}

export function describeLinkType(dlt: number): string {
  const names: Record<number, string> = {
    0: 'NULL', 1: 'EN10MB', 12: 'RAW', 14: 'RAW', 101: 'RAW', 108: 'LOOP', 113: 'LINUX_SLL', 276: 'LINUX_SLL2',
    105: 'IEEE802_11', 127: 'IEEE802_11_RADIO', 9: 'PPP', 50: 'PPP_SERIAL', 51: 'PPP_ETHER',
  };
  return names[dlt] ?? `DLT ${dlt}`;
}

export { and };
