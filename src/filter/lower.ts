/**
 * Pass 3: syntax tree -> loads and tests for one link type (ir.ts), following the
 * order in which libpcap's code generator tests things, so that a load past the
 * captured length aborts the rule at the same point as in BPF.
 */
import type { Arith, ArithOp, Expr, IdValue, Qualifiers } from './ast';
import { fail, unsupported } from './errors';
import {
  and, andAll, cmp, eq, FALSE, TRUE, load, maskedEq, not, num, or, orAll, type Cond, type Val,
} from './ir';
import {
  ethertypeTest, initialState, isoNlpidOffset, llcTest, SAP_8021D, SAP_IPX, SAP_ISONS, SAP_NETBEUI, mplsStep, networkOffset, pppoesStep, vlanStep, type LinkLayer, type LinkState,
} from './link';
import { ETHER_PROTOS, lookupPort, lookupProtocol } from './names';
import { parseIPv6 } from './tokenize';

const IPPROTO = { icmp: 1, igmp: 2, tcp: 6, igrp: 9, udp: 17, esp: 50, ah: 51, icmp6: 58, pim: 103, vrrp: 112, carp: 112, sctp: 132 } as const;
const FRAGMENT_HEADER = 44;
/** IS-IS PDU types of libpcap's l1/l2/iih/lsp/snp/csnp/psnp. */
const ISIS_PDU_TYPES: Readonly<Record<string, readonly number[]>> = {
  l1: [0x1a, 0x18, 0x12, 0x0f, 0x11], l2: [0x1b, 0x19, 0x14, 0x10, 0x11], iih: [0x11, 0x0f, 0x10],
  lsp: [0x12, 0x14], snp: [0x1b, 0x1a, 0x18, 0x19], csnp: [0x18, 0x19], psnp: [0x1a, 0x1b],
};
/** The OSI network-layer protocol ids libpcap names in `iso proto \\name`. */
const ISO_NLPID_NAMES: ReadonlyMap<string, number> = new Map([['clnp', 0x81], ['esis', 0x82], ['isis', 0x83]]);
/** libpcap's names for 802.2 SAPs in `ether proto \\name`. */
const LLC_SAP_NAMES: ReadonlyMap<string, number> = new Map([['iso', 0xfe], ['stp', 0x42], ['ipx', 0xe0], ['netbeui', 0xf0]]);
const ETH_IP = 0x0800, ETH_IP6 = 0x86dd, ETH_ARP = 0x0806, ETH_RARP = 0x8035;

type PortProto = 'tcp' | 'udp' | 'sctp' | 'any';

export class Lowering {
  /** Link state at the current point of the text: vlan/mpls/pppoes change it for all that follows. */
  private state: LinkState;
  /** Whether the expression used an offset-shifting primitive. */
  shifted = false;
  /** Where `ether[]`/`byte` count from, and whether MAC addresses exist there (PPPoE moves both). */
  private linkHdr = 0;
  private macLink: boolean;

  constructor(private readonly link: LinkLayer) {
    this.state = initialState(link);
    this.macLink = link.hasMac;
  }

  private get nl(): number { return networkOffset(this.state); }

  lower(e: Expr): Cond {
    switch (e.kind) {
      case 'and': return and(this.lower(e.left), this.lower(e.right));
      case 'or': return or(this.lower(e.left), this.lower(e.right));
      case 'not': return not(this.lower(e.arg));
      default: {
        const c = this.primitive(e);
        this.codeBefore = true;
        return c;
      }
    }
  }

  /** Whether code of an earlier primitive runs before the current one (it leaves its value in A). */
  private codeBefore = false;

  private primitive(e: Exclude<Expr, { kind: 'and' | 'or' | 'not' }>): Cond {
    switch (e.kind) {
      case 'proto': return this.protoAbbrev(e.name);
      case 'rel': return this.relation(e.op, e.left, e.right);
      case 'less': return not(cmp('gt', { k: 'len' }, num(e.value)));
      case 'greater': return cmp('ge', { k: 'len' }, num(e.value));
      case 'broadcast': return this.broadcast(e.proto);
      case 'multicast': return this.multicast(e.proto);
      case 'addr': return this.address(e.q, e.value);
      case 'byte': return this.byteOp(e.index, e.op, e.value);
      case 'shift': return this.shift(e.what, e.value);
      case 'pppoed': return this.ethertype(0x8863);
      case 'llc': {
        const c = llcTest(this.link, this.state, e.sub);
        return c ?? unsupported('llc here not supported');
      }
      case 'kernel': return unsupported(`${e.what} needs kernel metadata`);
    }
  }

  private shift(what: 'vlan' | 'mpls' | 'pppoes' | 'geneve', value: number | null): Cond {
    this.shifted = true;
    switch (what) {
      case 'vlan': {
        const { test, next } = vlanStep(this.link, this.state, value);
        this.state = next;
        return test;
      }
      case 'mpls': {
        const { test, next } = mplsStep(this.link, this.state, value);
        if (!test) return unsupported('mpls here not supported yet');
        this.state = next;
        return test;
      }
      case 'pppoes': {
        const before = this.nl;
        const { test, next } = pppoesStep(this.state, value);
        if (!test || !next) return unsupported('pppoes here not supported yet');
        this.state = next;
        // Behind PPPoE the "link layer" is PPP: link accessors count from the PPP header, no MACs.
        this.linkHdr = before + 6;
        this.macLink = false;
        return test;
      }
      case 'geneve': return unsupported('geneve (variable offsets) not supported yet');
    }
  }

  /**
   * `byte N op V`: a byte at offset N of the packet. libpcap 1.10.3 forgets the load for & and |:
   * they test the accumulator, 0 at the start of the program, else whatever the code before left
   * there (`ip and byte 0 & 0x800` tests the EtherType): only libpcap knows that value.
   */
  private byteOp(index: number, op: string, value: number): Cond {
    if ((op === '&' || op === '|') && this.codeBefore) return unsupported(`'byte ${op}' tests the value the code before it left`);
    const b = load(this.linkHdr + index, 1);
    switch (op) {
      case '=': return eq(b, value);
      case '>': return cmp('gt', b, num(value));
      case '<': return not(cmp('ge', b, num(value)));
      case '&': return FALSE;
      default: return value === 0 ? FALSE : TRUE;
    }
  }

  // ---- protocols ----
  private ethertype(t: number, insideHost = false): Cond {
    const c = ethertypeTest(this.state, t, insideHost);
    if (!c) unsupported(`EtherType 0x${t.toString(16)} on ${this.link.name}`);
    return c;
  }
  private ipv4(): Cond { return this.ethertype(ETH_IP); }
  private ipv6(): Cond { return this.ethertype(ETH_IP6); }
  private ipProto(p: number): Cond { return and(this.ipv4(), eq(load(this.nl + 9, 1), p)); }
  /** IPv6 next header p, directly or behind one Fragment header (libpcap's gen_proto for ip6). */
  private ip6Proto(p: number): Cond {
    const nh = load(this.nl + 6, 1);
    return and(this.ipv6(), or(eq(nh, p), and(eq(nh, FRAGMENT_HEADER), eq(load(this.nl + 40, 1), p))));
  }
  private notFragment(): Cond {
    return not(cmp('set', load(this.nl + 6, 2), num(0x1fff)));
  }

  private protoAbbrev(name: string): Cond {
    switch (name) {
      case 'ip': return this.ipv4();
      case 'ip6': return this.ipv6();
      case 'arp': return this.ethertype(ETH_ARP);
      case 'rarp': return this.ethertype(ETH_RARP);
      case 'tcp': case 'udp': case 'sctp': case 'pim': case 'ah': case 'esp':
        return or(this.ipProto(IPPROTO[name]), this.ip6Proto(IPPROTO[name]));
      case 'icmp': case 'igmp': case 'igrp': case 'vrrp': case 'carp':
        return this.ipProto(IPPROTO[name]);
      case 'icmp6': return this.ip6Proto(IPPROTO.icmp6);
      case 'link': return fail('link layer applied in wrong context');
      case 'stp': return this.ethertype(SAP_8021D);
      case 'ipx': return this.ethertype(SAP_IPX);
      case 'netbeui': return this.ethertype(SAP_NETBEUI);
      case 'iso': return this.ethertype(SAP_ISONS);
      case 'clnp': case 'esis': case 'isis': {
        const iso = this.ethertype(SAP_ISONS);
        // No 802.2 header on this link (raw IP, loopback): libpcap's constant false, no loads after it.
        if (iso.k === 'false') return FALSE;
        const at = isoNlpidOffset(this.state);
        if (at === null) return unsupported(`${name} here not supported`);
        return and(iso, eq(load(at, 1), name === 'clnp' ? 0x81 : name === 'esis' ? 0x82 : 0x83));
      }
      case 'l1': case 'l2': case 'iih': case 'lsp': case 'snp': case 'csnp': case 'psnp':
        return this.isisPdu(ISIS_PDU_TYPES[name]);
      case 'decnet': return this.ethertype(0x6003);
      case 'lat': return this.ethertype(0x6004);
      case 'sca': return this.ethertype(0x6007);
      case 'moprc': return this.ethertype(0x6002);
      case 'mopdl': return this.ethertype(0x6001);
      case 'atalk': return this.ethertype(0x809b);
      case 'aarp': return this.ethertype(0x80f3);
      default: return unsupported(`'${name}' not supported yet`);
    }
  }

  /** IS-IS with one of the given PDU types (the byte 4 after the NLPID). */
  private isisPdu(types: readonly number[]): Cond {
    const isis = this.protoAbbrev('isis');
    if (isis.k === 'false') return FALSE;
    const at = isoNlpidOffset(this.state);
    if (at === null) return unsupported('IS-IS here not supported');
    const pdu = load(at + 4, 1);
    return and(isis, orAll(types.map((t) => eq(pdu, t))));
  }

  // ---- addresses ----
  private address(q: Qualifiers, v: IdValue): Cond {
    const addr = q.addr ?? 'host';
    switch (addr) {
      case 'host': case 'net': return this.hostOrNet(q, addr, v);
      case 'port': return this.port(q, v, false);
      case 'portrange': return this.port(q, v, true);
      case 'proto': return this.protoNumber(q, v);
      case 'gateway': return unsupported('gateway not supported');
      case 'protochain': return this.protochain(q, v);
    }
  }

  private dirTest(dir: Qualifiers['dir'], src: () => Cond, dst: () => Cond): Cond {
    switch (dir) {
      case 'src': return src();
      case 'dst': return dst();
      case 'src and dst': return and(src(), dst());
      case null: case 'src or dst': return or(src(), dst());
      default: return unsupported(`'${dir}' qualifier not supported`);
    }
  }

  private hostOrNet(q: Qualifiers, addr: 'host' | 'net', v: IdValue): Cond {
    if (v.type === 'eid') {
      if (q.proto !== 'link') fail('ethernet address used in non-ether expression');
      if (addr !== 'host') unsupported('MAC address with this qualifier');
      if (!this.macLink) fail('ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel');
      return this.etherHost(q.dir, macBytes(v.text));
    }
    if (q.proto === 'decnet' && (v.type === 'num' || v.type === 'hid')) return this.decnetHost(q.dir, v);
    if (v.type === 'hid6' || v.type === 'cidr6') {
      if (q.proto !== null && q.proto !== 'ip6') unsupported('IPv6 address with this qualifier');
      // A full-length prefix is allowed on a host (libpcap's gen_mcode6 lets /128 through), and
      // `net ADDR` without a length is the /128 network (the grammar passes 128 for both).
      if (v.type === 'cidr6' && addr !== 'net' && v.bits !== 128) fail('Mask syntax for networks only');
      const bits = v.type === 'cidr6' ? v.bits : 128;
      if (bits > 128) fail(`mask length must be <= 128`);
      const groups = parseIPv6(v.text);
      if (!groups) return fail(`invalid ip6 address ${v.text}`);
      const words = [0, 1, 2, 3].map((i) => ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0);
      const masks = [0, 1, 2, 3].map((i) => prefixMask(Math.max(0, Math.min(32, bits - 32 * i))));
      if (words.some((w, i) => (w & ~masks[i]) !== 0)) unsupported('IPv6 address with non-network bits');
      // libpcap's code generator loads and tests all four words, also those the prefix masks out
      // entirely (`x & 0 == 0`): their loads can still reject a packet cut short.
      const match = (off: number): Cond =>
        andAll([0, 1, 2, 3].map((i) => maskedEq(load(this.nl + off + 4 * i, 4), masks[i], words[i], 4)));
      return and(this.ipv6(), this.dirTest(q.dir, () => match(8), () => match(24)));
    }
    let address: number, mask: number;
    if (v.type === 'hid') {
      // Partial dotted addresses mean the leading bytes, for `host` as for `net`.
      const d = dottedValue(v.text);
      if (!d) return unsupported('address byte above 255');
      address = d.value; mask = d.mask;
    } else if (v.type === 'cidr' || v.type === 'masked') {
      if (addr !== 'net') unsupported('address with mask outside net');
      const d = dottedValue(v.text);
      if (!d) return unsupported('address byte above 255');
      address = d.value;
      if (v.type === 'cidr') {
        if (v.bits > 32) fail(`mask length must be <= 32`);
        mask = prefixMask(v.bits);
      } else {
        const m = dottedValue(v.mask);
        if (!m) return unsupported('unusual netmask');
        mask = m.value;
      }
      if ((address & ~mask) >>> 0 !== 0) fail(`non-network bits set in "${v.text}"`);
    } else if (v.type === 'num') {
      address = v.value; mask = 0xffffffff;
      if (addr === 'net') {
        // A short network number is promoted to the leading bytes (`net 10` is 10.0.0.0/8).
        while (address !== 0 && (address & 0xff000000) === 0) { address = (address << 8) >>> 0; mask = (mask << 8) >>> 0; }
      }
    } else if (v.type === 'id') {
      return unsupported('host names are resolved by libpcap');
    } else {
      return unsupported('this address form');
    }
    const a = address >>> 0, m = mask >>> 0;
    // A /0 network still loads the address (the load can reject a short packet).
    const addrTest = (off: number): Cond => maskedEq(load(this.nl + off, 4), m, a, 4);
    const ip = (): Cond => and(this.ipv4(), this.dirTest(q.dir,
      () => addrTest(12), () => addrTest(16)));
    const arpLike = (type: number): Cond => and(this.ethertype(type, q.proto === null), this.dirTest(q.dir,
      () => addrTest(14), () => addrTest(24)));
    switch (q.proto) {
      case null: return orAll([ip(), arpLike(ETH_ARP), arpLike(ETH_RARP)]);
      case 'ip': return ip();
      case 'arp': return arpLike(ETH_ARP);
      case 'rarp': return arpLike(ETH_RARP);
      default: return unsupported(`'${q.proto}' with an IPv4 address`);
    }
  }

  /**
   * `decnet [src|dst] host AREA.NODE` (or a number): the 16-bit address (area << 10 | node), stored
   * little-endian, at the offset the header's first byte implies: short or long header (flags & 7
   * = 2 or 6), with or without a padding byte (flags 0x81 then the header). Tested in libpcap's order.
   */
  private decnetHost(dir: Qualifiers['dir'], v: Extract<IdValue, { type: 'num' | 'hid' }>): Cond {
    let address: number;
    if (v.type === 'num') address = v.value & 0xffff;
    else {
      const [area, node] = v.text.split('.').map(Number);
      address = ((area << 10) | node) & 0xffff;
    }
    const swapped = ((address & 0xff) << 8) | (address >>> 8);
    const flags = this.nl + 2;
    const at = (shortHdr: number, longHdr: number): Cond => andAll([this.ethertype(0x6003), orAll([
      and(maskedEq(load(flags, 1), 0x7, 0x2, 1), eq(load(flags + shortHdr, 2), swapped)),
      and(maskedEq(load(flags, 2), 0xff07, 0x8102, 2), eq(load(flags + 1 + shortHdr, 2), swapped)),
      and(maskedEq(load(flags, 1), 0x7, 0x6, 1), eq(load(flags + longHdr, 2), swapped)),
      and(maskedEq(load(flags, 2), 0xff07, 0x8106, 2), eq(load(flags + 1 + longHdr, 2), swapped)),
    ])]);
    return this.dirTest(dir, () => at(3, 15), () => at(1, 7));
  }

  private etherHost(dir: Qualifiers['dir'], mac: number[]): Cond {
    const at = (off: number): Cond => (and(
      eq(load(off + 2, 4), ((mac[2] << 24) | (mac[3] << 16) | (mac[4] << 8) | mac[5]) >>> 0),
      eq(load(off, 2), (mac[0] << 8) | mac[1])));
    return this.dirTest(dir, () => at(6), () => at(0));
  }

  private port(q: Qualifiers, v: IdValue, range: boolean): Cond {
    let proto: PortProto;
    switch (q.proto) {
      case null: proto = 'any'; break;
      case 'tcp': case 'udp': case 'sctp': proto = q.proto; break;
      default: return unsupported(`'${q.proto}' with port`);
    }
    let lo: number, hi: number;
    if (range) {
      if (v.type === 'num') { lo = hi = v.value; }
      else if (v.type === 'id') {
        const range = portRange(v.text);
        if (!range) return unsupported(`port range '${v.text}' left to libpcap`);
        [lo, hi] = range.lo <= range.hi ? [range.lo, range.hi] : [range.hi, range.lo];
        // Both ends naming services of one protocol restrict the range to it (libpcap's rule).
        if (range.proto !== 'any') {
          if (proto === 'any') proto = range.proto;
          else if (proto !== range.proto) return unsupported(`port range '${v.text}' is ${range.proto} only`);
        }
      } else return unsupported('portrange with an address');
    } else if (v.type === 'num') {
      lo = hi = v.value;
    } else if (v.type === 'id') {
      const named = lookupPort(v.text);
      if (!named) return unsupported(`port name '${v.text}' left to libpcap`);
      if (named.proto !== 'any') {
        if (proto === 'any') proto = named.proto;
        else if (proto !== named.proto) return unsupported(`port name '${v.text}' is not a ${proto} service`);
      }
      lo = hi = named.port;
    } else {
      return fail("'port' modifier applied to IP address");
    }
    if (hi > 65535) fail(`illegal port number ${hi} > 65535`);
    const test = (off: Val): Cond => (lo === hi ? eq(load(off, 2), lo)
      : and(cmp('ge', load(off, 2), num(lo)), not(cmp('gt', load(off, 2), num(hi)))));
    const transport = (nh: Val): Cond => (proto === 'any'
      ? orAll([eq(nh, IPPROTO.sctp), eq(nh, IPPROTO.tcp), eq(nh, IPPROTO.udp)]) : eq(nh, IPPROTO[proto]));
    const th: Val = { k: 'bin', op: '+', a: { k: 'ihl', off: this.nl }, b: num(this.nl) };
    const v4 = andAll([this.ipv4(), transport(load(this.nl + 9, 1)), this.notFragment(),
      this.dirTest(q.dir, () => test(th), () => test({ k: 'bin', op: '+', a: th, b: num(2) }))]);
    const v6 = andAll([this.ipv6(), transport(load(this.nl + 6, 1)),
      this.dirTest(q.dir, () => test(num(this.nl + 40)), () => test(num(this.nl + 42)))]);
    return or(v4, v6);
  }

  private protoNumber(q: Qualifiers, v: IdValue): Cond {
    let n: number;
    if (v.type === 'num') n = v.value;
    else if (v.type === 'id') {
      const found = q.proto === 'link' ? ETHER_PROTOS.get(v.text) ?? LLC_SAP_NAMES.get(v.text) ?? null
        : q.proto === 'iso' ? ISO_NLPID_NAMES.get(v.text) ?? null : lookupProtocol(v.text);
      if (found === null) return unsupported(`protocol name '${v.text}' left to libpcap`);
      n = found;
    } else return unsupported('proto with an address');
    switch (q.proto) {
      case 'ip': return this.ipProto(n);
      case 'ip6': return this.ip6Proto(n);
      case null: return or(this.ipProto(n), this.ip6Proto(n));
      case 'isis': return this.isisPdu([n]);
      case 'iso': {
        // The NLPID byte after the 802.2 header, as clnp/esis/isis test it.
        const iso = this.ethertype(SAP_ISONS);
        if (iso.k === 'false') return FALSE;
        const at = isoNlpidOffset(this.state);
        if (at === null) return unsupported('iso proto here not supported');
        return and(iso, eq(load(at, 1), n));
      }
      case 'link':
        return this.ethertype(n);
      default: return unsupported(`'${q.proto} proto' not supported yet`);
    }
  }

  private protochain(q: Qualifiers, v: IdValue): Cond {
    let n: number;
    if (v.type === 'num') n = v.value;
    else if (v.type === 'id') {
      const found = lookupProtocol(v.text);
      if (found === null) return unsupported(`protocol name '${v.text}' left to libpcap`);
      n = found;
    } else return unsupported('protochain with an address');
    const v4 = (): Cond => and(this.ipv4(), { k: 'chain', v6: false, nl: this.nl, proto: n });
    const v6 = (): Cond => and(this.ipv6(), { k: 'chain', v6: true, nl: this.nl, proto: n });
    switch (q.proto) {
      case 'ip': return v4();
      case 'ip6': return v6();
      case null: return or(v4(), v6());
      default: return unsupported(`'${q.proto} protochain' not supported`);
    }
  }

  // ---- broadcast / multicast ----
  private broadcast(proto: string | null): Cond {
    if (proto === null || proto === 'link') {
      if (!this.macLink) fail('not a broadcast link');
      return and(eq(load(2, 4), 0xffffffff), eq(load(0, 2), 0xffff));
    }
    if (proto === 'ip') return fail("netmask not known, so 'ip broadcast' not supported");
    return unsupported(`${proto} broadcast`);
  }

  private multicast(proto: string | null): Cond {
    if (proto === null || proto === 'link') {
      if (!this.macLink) fail('link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel');
      return cmp('set', load(0, 1), num(1));
    }
    if (proto === 'ip') return and(this.ipv4(), cmp('ge', load(this.nl + 16, 1), num(224)));
    if (proto === 'ip6') return and(this.ipv6(), eq(load(this.nl + 24, 1), 255));
    return unsupported(`${proto} multicast`);
  }

  // ---- relations and accessors ----
  private relation(op: string, left: Arith, right: Arith): Cond {
    const leftChecks: Cond[] = [], rightChecks: Cond[] = [];
    const a = this.arith(left, leftChecks);
    const b = this.arith(right, rightChecks);
    let test: Cond;
    switch (op) {
      case '>': test = cmp('gt', a, b); break;
      case '>=': test = cmp('ge', a, b); break;
      case '=': test = cmp('eq', a, b); break;
      case '<=': test = not(cmp('gt', a, b)); break;
      case '<': test = not(cmp('ge', a, b)); break;
      default: test = not(cmp('eq', a, b)); break;
    }
    return checks(leftChecks, rightChecks, test);
  }

  private arith(x: Arith, checks: Cond[]): Val {
    switch (x.kind) {
      case 'num': return num(x.value);
      case 'len': return { k: 'len' };
      case 'neg': {
        const a = this.arith(x.arg, checks);
        return a.k === 'const' ? num((-a.v) >>> 0) : { k: 'neg', a };
      }
      case 'bin': {
        const a = this.arith(x.left, checks);
        // libpcap's gen_arth keeps only the left operand's protocol checks; the right operand's
        // loads still happen, at the offsets its protocol implies, without their checks.
        const b = this.arith(x.right, []);
        if (x.op === '/' || x.op === '%' || x.op === '<<' || x.op === '>>') checkDivisor(x.op, x.right, x.pos);
        return foldConstants(x.op, a, b);
      }
      case 'load': return this.accessor(x.proto, x.index, x.size as 1 | 2 | 4, checks);
    }
  }

  private accessor(proto: string, index: Arith, size: 1 | 2 | 4, checks: Cond[]): Val {
    const inner: Cond[] = [];
    const idx = this.arith(index, inner);
    // BPF's indexed load [x + k] adds the constant offset k without wrapping (it checks bounds
    // instead), while the index x itself is uint32 arithmetic, IPv4 header length included.
    const at = (base: number, ihl = false): Val => {
      // libpcap loads through X: a constant index is added to the header length in 32 bits, and
      // `[x + k]` does not wrap (`arp[4294967295]` reads past the packet, `vrrp[-1]` on raw IP
      // reads byte ihl - 1). Folded into the constant offset only where no sum can wrap.
      const keepIndex = idx.k === 'const' && idx.v + Math.max(base, ihl ? 60 : 0) > 0xffffffff;
      const x: Val | null = ihl
        ? (idx.k === 'const' && !keepIndex ? { k: 'ihl', off: this.nl } : { k: 'bin', op: '+', a: idx, b: { k: 'ihl', off: this.nl } })
        : (idx.k === 'const' && !keepIndex ? null : idx);
      const k = idx.k === 'const' && !keepIndex ? base + idx.v : base;
      if (x === null) return load(k, size);
      return load({ k: 'bin', op: '+', a: x, b: num(k), exact: true }, size);
    };
    switch (proto) {
      case 'link':
        checks.push(...inner);
        return at(this.linkHdr);
      case 'ip': case 'ip6': case 'arp': case 'rarp': case 'atalk': case 'decnet': case 'lat': case 'sca':
      case 'moprc': case 'mopdl':
        // Relative to the network-layer offset, even where AppleTalk sits behind SNAP (as libpcap does).
        // The index's own checks come first (gen_load ANDs the protocol test after them).
        checks.push(...inner, this.protoAbbrev(proto));
        return at(this.nl);
      case 'esp': case 'ah': case 'aarp': case 'stp': case 'ipx': case 'netbeui': case 'iso': case 'clnp':
      case 'esis': case 'isis': case 'l1': case 'l2': case 'iih': case 'lsp': case 'snp': case 'csnp': case 'psnp':
        return fail('unsupported index operation');
      case 'tcp': case 'udp': case 'sctp': case 'icmp': case 'igmp': case 'igrp': case 'pim': case 'vrrp': case 'carp':
        checks.push(this.ipv4(), ...inner, eq(load(this.nl + 9, 1), IPPROTO[proto]), this.notFragment());
        return at(this.nl, true);
      case 'icmp6':
        // gen_load: the index's checks, then IPv6, then the next header.
        checks.push(...inner, this.ipv6(), eq(load(this.nl + 6, 1), IPPROTO.icmp6));
        return at(this.nl + 40);
      default:
        return unsupported(`${proto}[] not supported yet`);
    }
  }
}

/** libpcap tests the protocols of the left operand's accessors, then the right's, then loads. */
function checks(left: Cond[], right: Cond[], test: Cond): Cond {
  const all = [...left, ...right];
  return all.length ? and(andAll(all), test) : test;
}

/**
 * libpcap's code generator refuses a division/modulus whose divisor's code starts with loading the
 * constant 0, and a shift whose count's code starts with a constant above 31 (`ether[0]` as divisor
 * starts with its index 0). Anything else is computed at run time: a zero divisor rejects the
 * packet, a shift by 32 or more gives 0.
 */
function checkDivisor(op: '/' | '%' | '<<' | '>>', src: Arith, pos: number): void {
  const first = leadingConstant(src);
  if (first === null) return;
  const shift = op === '<<' || op === '>>';
  if (!shift && first === 0) fail(op === '/' ? 'division by zero' : 'modulus by zero', pos);
  if (shift && first > 31) fail('shift by more than 31 bits', pos);
}

/** The constant libpcap's code for x starts with (its leftmost leaf), if any. */
function leadingConstant(x: Arith): number | null {
  switch (x.kind) {
    case 'num': return x.value;
    case 'len': return null;
    case 'load': return leadingConstant(x.index);
    case 'neg': return leadingConstant(x.arg);
    case 'bin': return leadingConstant(x.left);
  }
}

/**
 * Only constant operands folded (no loads disappear), as the program libpcap generates computes
 * them; a division by a constant 0 stays, to reject every packet at run time as BPF does.
 */
function foldConstants(op: ArithOp, a: Val, b: Val): Val {
  const zeroDivisor = (op === '/' || op === '%') && b.k === 'const' && b.v === 0;
  return a.k === 'const' && b.k === 'const' && !zeroDivisor ? num(foldConstant(op, a.v, b.v)) : { k: 'bin', op, a, b };
}

/** uint32 arithmetic on constants, as BPF computes it (shifts by 32 or more give 0). */
function foldConstant(op: string, a: number, b: number): number {
  switch (op) {
    case '+': return (a + b) >>> 0;
    case '-': return (a - b) >>> 0;
    case '*': return Math.imul(a, b) >>> 0;
    case '/': return Math.floor(a / b) >>> 0;
    case '%': return a % b;
    case '&': return (a & b) >>> 0;
    case '|': return (a | b) >>> 0;
    case '^': return (a ^ b) >>> 0;
    case '<<': return b > 31 ? 0 : (a << b) >>> 0;
    default: return b > 31 ? 0 : a >>> b;
  }
}

/** `a-b` with numbers or service names; the protocol both named ends agree on, else 'any'. */
function portRange(text: string): { lo: number; hi: number; proto: 'tcp' | 'udp' | 'any' } | null {
  // libpcap splits at the first dash; names with dashes of their own are left to it.
  const m = /^([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)$/.exec(text);
  if (!m) return null;
  const end = (s: string): { port: number; proto: 'tcp' | 'udp' | 'any' | 'number' } | null => {
    if (/^\d+$/.test(s)) return { port: Number(s), proto: 'number' };
    const named = lookupPort(s);
    return named ? { port: named.port, proto: named.proto } : null;
  };
  const a = end(m[1]), b = end(m[2]);
  if (!a || !b || a.port > 65535 || b.port > 65535) return null;
  const proto = a.proto === b.proto && a.proto !== 'number' ? a.proto : 'any';
  return { lo: a.port, hi: b.port, proto };
}

function ipv4Word(p: number[]): number {
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** a, a.b, a.b.c or a.b.c.d as the leading bytes of an address, with the mask of the bytes given. */
function dottedValue(text: string): { value: number; mask: number } | null {
  const parts = text.split('.').map(Number);
  if (parts.length > 4 || parts.some((p) => !(p <= 255))) return null;
  const full = [...parts, 0, 0, 0].slice(0, 4);
  return { value: ipv4Word(full), mask: prefixMask(8 * parts.length) };
}

function prefixMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** A MAC address in one of the forms the tokenizer takes (isMac) as its six bytes. */
function macBytes(text: string): number[] {
  const sep = text.includes(':') ? ':' : text.includes('-') ? '-' : '.';
  const groups = text.split(sep);
  // Six groups are bytes (`a:b:..`, `a.b.c.d.e.f`); three are 16-bit words (`aabb.ccdd.eeff`).
  const hex = groups.length === 6 ? groups.map((b) => b.padStart(2, '0')).join('') : groups.join('');
  const out: number[] = [];
  for (let i = 0; i < 12; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  return out;
}

