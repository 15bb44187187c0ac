/** Pass 2 output: the syntax tree of one filter expression (libpcap's grammar). */

export type Dir = 'src' | 'dst' | 'src or dst' | 'src and dst' | 'addr1' | 'addr2' | 'addr3' | 'addr4' | 'ra' | 'ta';
export type AddrKind = 'host' | 'net' | 'port' | 'portrange' | 'gateway' | 'proto' | 'protochain';

/** Qualifiers in effect for an address value: `ip src host`, inherited by bare values after and/or. */
export interface Qualifiers {
  proto: string | null;
  dir: Dir | null;
  addr: AddrKind | null;
}

export type IdValue =
  | { type: 'num'; value: number; text: string }
  | { type: 'hid'; text: string }
  | { type: 'hid6'; text: string }
  | { type: 'eid'; text: string }
  | { type: 'id'; text: string }
  | { type: 'cidr'; text: string; bits: number }
  | { type: 'cidr6'; text: string; bits: number }
  | { type: 'masked'; text: string; mask: string };

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>';

export type Arith =
  | { kind: 'num'; value: number }
  | { kind: 'len' }
  | { kind: 'load'; proto: string; index: Arith; size: number; pos: number }
  | { kind: 'neg'; arg: Arith }
  | { kind: 'bin'; op: ArithOp; left: Arith; right: Arith; pos: number };

export type RelOp = '>' | '>=' | '=' | '<=' | '<' | '!=';

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; arg: Expr }
  | { kind: 'addr'; q: Qualifiers; value: IdValue; pos: number }
  /** `head` without value: `ip proto \tcp` needs a value, but `tcp` alone is a protocol test. */
  | { kind: 'proto'; name: string; pos: number }
  | { kind: 'rel'; op: RelOp; left: Arith; right: Arith }
  | { kind: 'broadcast' | 'multicast'; proto: string | null; pos: number }
  | { kind: 'less' | 'greater'; value: number }
  | { kind: 'byte'; index: number; op: string; value: number }
  | { kind: 'shift'; what: 'vlan' | 'mpls' | 'pppoes' | 'geneve'; value: number | null }
  | { kind: 'pppoed' }
  | { kind: 'llc'; sub: string | null }
  | { kind: 'kernel'; what: string };
