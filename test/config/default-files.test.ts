/**
 * The shipped default files: every default rule compiles with libpcap and
 * matches what its name says on real captures (libpcap is the judge), the
 * default UCI file parses, and the feed Makefile installs files that exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandRules } from '../../src/config/expand';
import { readFilterFile } from '../../src/config/filter-file';
import { readUciFile } from '../../src/config/uci';
import { ensureOracle, oracleCount } from '../support/oracle';
import { run } from '../support/netns';
import { ORACLE, REPO_ROOT, TEST_PCAPS } from '../support/paths';

const filtersPath = join(REPO_ROOT, 'files', 'etc', 'bpfcountd.filters');

function defaultRules(): Map<string, string> {
  const rules = expandRules(readFilterFile(filtersPath), '02:00:00:00:00:01');
  return new Map(rules.map((r) => [r.id, r.expr]));
}

test('every default rule compiles with libpcap on Ethernet (DLT 1)', () => {
  ensureOracle();
  const rules = defaultRules();
  assert.ok(rules.size >= 20, `only ${rules.size} rules`);
  const exprs = [...rules.values()];
  const answers = run([ORACLE, 'compile', '1', '-'], exprs.map((e) => `${e}\n`).join('')).split('\n').filter((l) => l !== '');
  assert.equal(answers.length, exprs.length);
  answers.forEach((answer, i) => assert.match(answer, /^OK \d+$/, `${[...rules.keys()][i]}: ${exprs[i]}`));
});

test('the default rules catch what they are named for, on real captures', () => {
  const rules = defaultRules();
  const count = (capture: string, ...ids: string[]): number[] =>
    oracleCount(join(TEST_PCAPS, capture), ids.map((id) => {
      const expr = rules.get(id);
      assert.ok(expr !== undefined, id);
      return expr;
    })).map((c) => {
      assert.ok(c.ok, `${capture}: ${JSON.stringify(c)}`);
      return c.packets;
    });
  // Per capture: [rules that must match something]; INDEX.tsv says what each holds.
  const expectations: [string, string[]][] = [
    ['bgp-4byte-asn.pcap', ['bcast']],
    ['eapon1.pcap', ['dhcp', 'ssdp', 'bcast', 'mcast-eth']],
    ['icmpv6.pcap', ['nd-ra', 'mld', 'mcast-ip6']],
    ['dcb_ets.pcap', ['nd-rs', 'nd-ns', 'mld']],
    ['icmpv6-ns-nonce.pcap', ['nd-ns']],
    ['dhcp-rfc3004.pcap', ['dhcp']],
    ['dhcpv4v6-rfc5970-rfc8572.pcap', ['dhcp', 'dhcp6']],
    ['dns_tcp.pcap', ['dns']],
    ['IGMP_V2.pcap', ['mcast-ip4']],
  ];
  for (const [capture, ids] of expectations) {
    count(capture, ...ids).forEach((packets, i) => assert.ok(packets > 0, `${ids[i]} matches nothing in ${capture}`));
  }
  // ARP: requests + replies = all ARP.
  const [req, norm, grat] = count('eapon1.pcap', 'arp-req', 'arp-rep-norm', 'arp-rep-grat');
  const [allArp] = oracleCount(join(TEST_PCAPS, 'eapon1.pcap'), ['arp']).map((c) => (c.ok ? c.packets : -1));
  assert.ok(allArp > 0);
  assert.equal(req + norm + grat, allArp);
  // icmpv6.pcap: one router advertisement, the rest MLD; "other" IPv6 multicast is then empty.
  const [ra, mld, mcast6, other6] = count('icmpv6.pcap', 'nd-ra', 'mld', 'mcast-ip6', 'mcast-ip6-other');
  assert.equal(ra + mld, mcast6);
  assert.equal(other6, 0);
});

test('the default UCI file: two disabled sections like the C package', () => {
  const pkg = readUciFile(join(REPO_ROOT, 'files', 'etc', 'config', 'bpfcountd'));
  const summary = pkg.sections.map((s) => {
    const get = (k: string): string | undefined => {
      const o = s.options.get(k);
      return o?.kind === 'option' ? o.value : undefined;
    };
    return [s.type, s.name, get('disabled'), get('ifname'), get('prefilter'), get('filterfile'), get('buffersize')];
  });
  assert.deepEqual(summary, [
    ['bpfcountd', 'eth0_in', '1', 'eth0', 'inbound', '/etc/bpfcountd.filters', '2097152'],
    ['bpfcountd', 'eth0_out', '1', 'eth0', 'outbound', '/etc/bpfcountd.filters', '2097152'],
  ]);
});

test('feed Makefile: installed project files exist, conffiles are installed, recipes use tabs', () => {
  const makefile = readFileSync(join(REPO_ROOT, 'openwrt', 'bpfcountd', 'Makefile'), 'utf8');
  const sources = [...makefile.matchAll(/\$\(PKG_BUILD_DIR\)\/(files\/[^\s\\]+)/g)].map((m) => m[1]);
  assert.ok(sources.length >= 4, sources.join(' '));
  for (const source of sources) assert.ok(existsSync(join(REPO_ROOT, source)), `${source} is installed but missing`);
  const conffiles = /define Package\/bpfcountd\/conffiles\n([\s\S]*?)\nendef/.exec(makefile);
  assert.ok(conffiles !== null);
  for (const path of conffiles[1].split('\n')) {
    assert.ok(sources.includes(`files${path}`), `conffile ${path} is not installed from files/`);
  }
  // Inside define ... endef blocks that are recipes, make needs a leading tab.
  for (const block of makefile.matchAll(/define (Build\/\w+|Package\/bpfcountd\/install)\n([\s\S]*?)\nendef/g)) {
    for (const line of block[2].split('\n')) assert.ok(line === '' || line.startsWith('\t'), `${block[1]}: '${line}'`);
  }
});
