/**
 * Pass 1: expression text -> tokens, with the character offset of each.
 * Mirrors libpcap's scanner: longest match wins, keywords win ties with names,
 * and `tcp-syn` style constants are numbers.
 */
import { allChars, hexGroups, isAlnum, isDigit, isHexDigit, isNameChar, isOctalDigit, runEnd } from '../chars';
import { fail } from './errors';

export type TokenKind = 'num' | 'hid' | 'hid6' | 'eid' | 'id' | 'kw' | 'op' | 'eof';

export interface Token {
  kind: TokenKind;
  /** keyword: canonical name; op: the operator; others: the source text. */
  text: string;
  /** num: the value (uint32). */
  value: number;
  pos: number;
}

/** Keyword spellings -> canonical keyword. */
const KEYWORDS: ReadonlyMap<string, string> = new Map<string, string>([
  ...['dst', 'src', 'host', 'net', 'mask', 'port', 'portrange', 'proto', 'protochain', 'gateway',
    'type', 'subtype', 'ra', 'ta', 'less', 'greater', 'byte', 'broadcast', 'multicast',
    'and', 'or', 'not', 'inbound', 'outbound', 'ifindex', 'vlan', 'mpls', 'pppoed', 'pppoes',
    'geneve', 'arp', 'rarp', 'ip', 'sctp', 'tcp', 'udp', 'icmp', 'igmp',
    'igrp', 'pim', 'vrrp', 'carp', 'radio', 'ip6', 'icmp6', 'ah', 'esp', 'atalk', 'aarp',
    'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'iso', 'esis', 'isis', 'l1', 'l2', 'iih', 'lsp',
    'snp', 'csnp', 'psnp', 'clnp', 'stp', 'ipx', 'netbeui', 'llc', 'lane', 'metac', 'bcc', 'oam',
    'oamf4', 'oamf4ec', 'oamf4sc', 'sc', 'ilmic', 'vpi', 'vci', 'connectmsg', 'metaconnect',
    'reason', 'action', 'fisu', 'lssu', 'lsu', 'msu', 'hfisu', 'hlssu', 'hmsu', 'sio', 'opc',
    'dpc', 'sls', 'hsio', 'hopc', 'hdpc', 'hsls'].map((k): [string, string] => [k, k]),
  ['link', 'link'], ['ether', 'link'], ['ppp', 'link'], ['slip', 'link'],
  // libpcap reads these as the link layer too; on the link types this engine covers they mean `ether`.
  ['fddi', 'link'], ['tr', 'link'], ['wlan', 'link'],
  ['es-is', 'esis'], ['is-is', 'isis'], ['len', 'len'], ['length', 'len'],
  ['dir', 'dir'], ['direction', 'dir'],
  ['addr1', 'addr1'], ['address1', 'addr1'], ['addr2', 'addr2'], ['address2', 'addr2'],
  ['addr3', 'addr3'], ['address3', 'addr3'], ['addr4', 'addr4'], ['address4', 'addr4'],
  ['on', 'ifname'], ['ifname', 'ifname'], ['rset', 'rset'], ['ruleset', 'rset'],
  ['rnr', 'rnr'], ['rulenum', 'rnr'], ['srnr', 'srnr'], ['subrulenum', 'srnr'],
]);

/** Named constants the scanner turns into numbers. */
export const NUMBER_WORDS: ReadonlyMap<string, number> = new Map<string, number>([
  ['icmptype', 0], ['icmpcode', 1], ['icmp-echoreply', 0], ['icmp-unreach', 3],
  ['icmp-sourcequench', 4], ['icmp-redirect', 5], ['icmp-echo', 8], ['icmp-routeradvert', 9],
  ['icmp-routersolicit', 10], ['icmp-timxceed', 11], ['icmp-paramprob', 12], ['icmp-tstamp', 13],
  ['icmp-tstampreply', 14], ['icmp-ireq', 15], ['icmp-ireqreply', 16], ['icmp-maskreq', 17],
  ['icmp-maskreply', 18],
  ['icmp6type', 0], ['icmp6code', 1], ['icmp6-destinationunreach', 1], ['icmp6-packettoobig', 2],
  ['icmp6-timeexceeded', 3], ['icmp6-parameterproblem', 4],
  ['icmp6-echo', 128], ['icmp6-echoreply', 129], ['icmp6-multicastlistenerquery', 130],
  ['icmp6-multicastlistenerreportv1', 131], ['icmp6-multicastlistenerdone', 132],
  ['icmp6-routersolicit', 133], ['icmp6-routeradvert', 134], ['icmp6-neighborsolicit', 135],
  ['icmp6-neighboradvert', 136], ['icmp6-redirect', 137], ['icmp6-routerrenum', 138],
  ['icmp6-nodeinformationquery', 139], ['icmp6-nodeinformationresponse', 140],
  ['icmp6-ineighbordiscoverysolicit', 141], ['icmp6-ineighbordiscoveryadvert', 142],
  ['icmp6-multicastlistenerreportv2', 143], ['icmp6-homeagentdiscoveryrequest', 144],
  ['icmp6-homeagentdiscoveryreply', 145], ['icmp6-mobileprefixsolicit', 146],
  ['icmp6-mobileprefixadvert', 147], ['icmp6-certpathsolicit', 148], ['icmp6-certpathadvert', 149],
  ['icmp6-multicastrouteradvert', 151], ['icmp6-multicastroutersolicit', 152],
  ['icmp6-multicastrouterterm', 153],
  ['tcpflags', 13], ['tcp-fin', 0x01], ['tcp-syn', 0x02], ['tcp-rst', 0x04], ['tcp-push', 0x08],
  ['tcp-ack', 0x10], ['tcp-urg', 0x20], ['tcp-ece', 0x40], ['tcp-cwr', 0x80],
]);

const TWO_CHAR_OPS = ['>=', '<=', '!=', '==', '<<', '>>', '&&', '||'];
/** First characters of TWO_CHAR_OPS: other positions skip the two-character test. */
const TWO_CHAR_STARTS = '><!=&|';
const ONE_CHAR_OPS = '+-*/%&|^!<>=()[]:';

/** The name at `at` (libpcap's ID: [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?), or ''. */
function nameAt(s: string, at: number): string {
  if (!isAlnum(s.charCodeAt(at))) return '';
  let end = runEnd(s, at + 1, isNameChar);
  // It cannot end in '-' or '_'.
  while (end > at + 1 && (s.charCodeAt(end - 1) === 45 || s.charCodeAt(end - 1) === 95)) end--;
  return s.slice(at, end);
}

/** The run of [0-9A-Fa-f:.] at `at`: the longest text that may be a MAC or IPv6 address. */
function addressRunAt(s: string, at: number): string {
  return s.slice(at, runEnd(s, at, (c) => isHexDigit(c) || c === 58 || c === 46));
}

/** The number at `at` as libpcap's scanner reads it: 0x hex, 0 octal or decimal (first that fits), or ''. */
function numberAt(s: string, at: number): string {
  const c = s.charCodeAt(at);
  if (c === 48) {
    const x = s.charCodeAt(at + 1);
    if ((x === 120 || x === 88) && isHexDigit(s.charCodeAt(at + 2))) return s.slice(at, runEnd(s, at + 2, isHexDigit));
    return s.slice(at, runEnd(s, at + 1, isOctalDigit));
  }
  return isDigit(c) ? s.slice(at, runEnd(s, at, isDigit)) : '';
}

/** Two to four dot-separated digit groups at `at` (`10.1`, `192.168.0.1`), or ''. */
function dottedAt(s: string, at: number): string {
  let end = runEnd(s, at, isDigit);
  if (end === at) return '';
  let groups = 0;
  while (groups < 3 && s.charCodeAt(end) === 46 && isDigit(s.charCodeAt(end + 1))) {
    end = runEnd(s, end + 1, isDigit);
    groups++;
  }
  return groups === 0 ? '' : s.slice(at, end);
}

/** aa:bb:cc:dd:ee:ff with ':', '-' or '.' (1-2 digits a byte), aabb.ccdd.eeff, or 12 hex digits. */
export function isMac(text: string): boolean {
  return hexGroups(text, ':', 6, 1, 2) || hexGroups(text, '-', 6, 1, 2) || hexGroups(text, '.', 6, 1, 2)
    || hexGroups(text, '.', 3, 4, 4) || allChars(text, isHexDigit, 12, 12);
}

/** Parses IPv6 text (with optional embedded IPv4) into 8 16-bit groups, or null. */
export function parseIPv6(text: string): number[] | null {
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    const v4 = parseDottedQuad(text.slice(lastColon + 1));
    if (!v4) return null;
    tail4 = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    head = text.slice(0, lastColon + 1);
    if (head.endsWith('::')) { /* keep */ } else head = head.slice(0, -1);
    if (head === '') return null;
  }
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!allChars(g, isHexDigit, 1, 4)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const want = 8 - tail4.length;
  const dbl = head.indexOf('::');
  let groups: number[];
  if (dbl >= 0) {
    if (head.indexOf('::', dbl + 1) >= 0) return null;
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length > want - 1) return null;
    groups = [...left, ...new Array<number>(want - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== want) return null;
    groups = all;
  }
  return [...groups, ...tail4];
}

function parseDottedQuad(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!allChars(p, isDigit, 1, 3) || Number(p) > 255) return null;
    out.push(Number(p));
  }
  return out;
}

/** Value of a libpcap number token: hex, octal (leading 0) or decimal; uint32 wraps like strtoul would not, so refuse. */
function numberValue(text: string, pos: number): number {
  let v: number;
  if (text[0] === '0' && (text[1] === 'x' || text[1] === 'X')) v = parseInt(text.slice(2), 16);
  else if (text.length > 1 && text[0] === '0') v = parseInt(text, 8);
  else v = parseInt(text, 10);
  if (!(v <= 0xffffffff)) fail(`number ${text} does not fit in 32 bits`, pos);
  return v;
}

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const two = TWO_CHAR_STARTS.includes(c) ? src.slice(i, i + 2) : '';
    if (two !== '' && TWO_CHAR_OPS.includes(two)) {
      if (two === '&&') out.push({ kind: 'kw', text: 'and', value: 0, pos: i });
      else if (two === '||') out.push({ kind: 'kw', text: 'or', value: 0, pos: i });
      else out.push({ kind: 'op', text: two === '==' ? '=' : two, value: 0, pos: i });
      i += 2;
      continue;
    }
    if (c === '\\') {
      // A backslash makes the following word a plain name (`ip proto \tcp`).
      const word = nameAt(src, i + 1);
      if (!word) fail('syntax error', i);
      out.push({ kind: 'id', text: word, value: 0, pos: i });
      i += 1 + word.length;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === ':') {
      const word = nameAt(src, i);
      const hexc = addressRunAt(src, i);
      if (hexc.includes(':') && hexc.length > word.length) {
        // Longest address-looking run: MAC or IPv6. Otherwise retry shorter runs (`12:2` in accessors).
        if (isMac(hexc)) { out.push({ kind: 'eid', text: hexc, value: 0, pos: i }); i += hexc.length; continue; }
        if (parseIPv6(hexc)) { out.push({ kind: 'hid6', text: hexc, value: 0, pos: i }); i += hexc.length; continue; }
      }
      if (c === ':') { out.push({ kind: 'op', text: ':', value: 0, pos: i }); i++; continue; }
      // Twelve hex digits are a MAC address even when they are all decimal digits (libpcap's lexer).
      // So are three dot-separated groups of exactly four hex digits (`0001.0203.0405`): the
      // scanner's MAC rule comes before its dotted-number rule and wins the tie in length.
      if (allChars(word, isHexDigit, 12, 12) || (word.length === 14 && hexGroups(word, '.', 3, 4, 4))) {
        out.push({ kind: 'eid', text: word, value: 0, pos: i }); i += word.length; continue;
      }
      // Numbers and dotted numbers start with a digit: a word starting with a letter is neither.
      const digit = c >= '0' && c <= '9';
      const num = digit ? numberAt(src, i) : '';
      const hid = digit ? dottedAt(src, i) : '';
      if (hid.length >= word.length && hid.length > num.length) {
        out.push({ kind: 'hid', text: hid, value: 0, pos: i });
        i += hid.length;
        continue;
      }
      if (num.length >= word.length) {
        out.push({ kind: 'num', text: num, value: numberValue(num, i), pos: i });
        i += num.length;
        continue;
      }
      // A word has no ':': only the '-', '.' and twelve-digit forms of a MAC address can match it.
      if ((word.length === 12 || word.includes('-') || word.includes('.')) && isMac(word)) {
        out.push({ kind: 'eid', text: word, value: 0, pos: i }); i += word.length; continue;
      }
      const kw = KEYWORDS.get(word);
      const constant = NUMBER_WORDS.get(word);
      if (kw !== undefined) out.push({ kind: 'kw', text: kw, value: 0, pos: i });
      else if (constant !== undefined) out.push({ kind: 'num', text: word, value: constant, pos: i });
      else out.push({ kind: 'id', text: word, value: 0, pos: i });
      i += word.length;
      continue;
    }
    if (ONE_CHAR_OPS.includes(c)) {
      out.push({ kind: 'op', text: c, value: 0, pos: i });
      i++;
      continue;
    }
    fail(`illegal character '${c}'`, i);
  }
  out.push({ kind: 'eof', text: '', value: 0, pos: src.length });
  return out;
}
