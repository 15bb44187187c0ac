/** Tokenizer and parser: token kinds, error positions, precedence, qualifier inheritance. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { tokenize } from '../../../src/filter/tokenize';
import { parseFilter } from '../../../src/filter/parse';
import { FilterError, Unsupported } from '../../../src/filter/errors';
import type { Expr } from '../../../src/filter/ast';

const kinds = (s: string): string => tokenize(s).map((t) => `${t.kind}:${t.text}`).join(' ');

test('tokens: accessors, addresses, constants, names', () => {
  assert.equal(kinds('ether[12:2]'), 'kw:link op:[ num:12 op:: num:2 op:] eof:');
  assert.equal(kinds('ip6 host fe80::1'), 'kw:ip6 kw:host hid6:fe80::1 eof:');
  assert.equal(kinds('ether src 00:11:22:aa:bb:cc'), 'kw:link kw:src eid:00:11:22:aa:bb:cc eof:');
  assert.equal(kinds('tcp[tcpflags] & tcp-syn != 0'), 'kw:tcp op:[ num:tcpflags op:] op:& num:tcp-syn op:!= num:0 eof:');
  assert.equal(kinds('net 10.1/16'), 'kw:net hid:10.1 op:/ num:16 eof:');
  assert.equal(kinds('len-1'), 'id:len-1 eof:', 'a name may contain dashes, as in libpcap');
  assert.equal(kinds('a&&b||!c'), 'id:a kw:and id:b kw:or op:! id:c eof:');
  assert.equal(kinds('ip proto \\tcp'), 'kw:ip kw:proto id:tcp eof:');
  assert.equal(tokenize('0x1F 017 10').map((t) => t.value).slice(0, 3).join(','), '31,15,10');
});

test('tokenizer errors carry the character offset', () => {
  assert.throws(() => tokenize('ip and $x'), (e: unknown) => e instanceof FilterError && e.pos === 7);
  assert.throws(() => tokenize('port 99999999999'), (e: unknown) => e instanceof FilterError && e.pos === 5);
});

function show(e: Expr | null): string {
  if (e === null) return 'all';
  switch (e.kind) {
    case 'and': case 'or': return `(${show(e.left)} ${e.kind} ${show(e.right)})`;
    case 'not': return `!${show(e.arg)}`;
    case 'addr': return `[${e.q.proto ?? '-'} ${e.q.dir ?? '-'} ${e.q.addr ?? '-'} ${'text' in e.value ? e.value.text : ''}]`;
    case 'proto': return e.name;
    case 'shift': return e.what;
    case 'rel': return `rel${e.op}`;
    default: return e.kind;
  }
}

test('and/or share one precedence and group left; not binds tighter', () => {
  assert.equal(show(parseFilter('ip or vlan and ip')), '((ip or vlan) and ip)');
  assert.equal(show(parseFilter('ip and not tcp or udp')), '((ip and !tcp) or udp)');
  assert.equal(show(parseFilter('ip && (tcp || !udp)')), '(ip and (tcp or !udp))');
  assert.equal(show(parseFilter('')), 'all');
});

test('bare values inherit the qualifiers of the term before them', () => {
  assert.equal(show(parseFilter('host 1.1.1.1 or 2.2.2.2')), '([- - host 1.1.1.1] or [- - host 2.2.2.2])');
  assert.equal(show(parseFilter('tcp dst port 80 or 443 and not 22')),
    '(([tcp dst port 80] or [tcp dst port 443]) and ![tcp dst port 22])');
  assert.equal(show(parseFilter('src or dst port 53')), '[- src or dst port 53]');
  assert.equal(show(parseFilter('host 1.1.1.1 or (2.2.2.2 or 3.3.3.3)')),
    '([- - host 1.1.1.1] or ([- - host 2.2.2.2] or [- - host 3.3.3.3]))');
  assert.equal(show(parseFilter('host 1.1.1.1 or (tcp) or 2.2.2.2')), '(([- - host 1.1.1.1] or tcp) or [- - host 2.2.2.2])');
  assert.equal(show(parseFilter('ether src 1:2:3:4:5:6 and arp')), '([link src - 1:2:3:4:5:6] and arp)');
});

test('relations use C precedence inside and compare last', () => {
  const e = parseFilter('ip[0] & 0xf + 1 > 5');
  assert.ok(e && e.kind === 'rel' && e.left.kind === 'bin' && e.left.op === '&');
  const f = parseFilter('(ip[0] & 0xf) > 5 and (tcp)');
  assert.ok(f && f.kind === 'and' && f.left.kind === 'rel');
});

test('syntax errors: position of the offending token', () => {
  const at = (s: string): number => {
    try { parseFilter(s); } catch (e) { if (e instanceof FilterError) return e.pos; throw e; }
    return -2;
  };
  assert.equal(at('ip and'), 6);
  assert.equal(at('tcp and 80'), 8, 'a bare value after a protocol has no qualifiers');
  assert.equal(at('1.2.3.4'), 0);
  assert.equal(at('ip[1:3] = 1'), 0);
  assert.equal(at('host 1.1.1.1 )'), 13);
  assert.equal(at('(tcp'), 4);
});

test('families outside this engine are left to libpcap, not refused', () => {
  assert.throws(() => parseFilter('wlan addr1 1:2:3:4:5:6'), Unsupported);
});
