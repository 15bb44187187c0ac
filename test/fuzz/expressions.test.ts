/**
 * Filter expressions: random token sequences and mutated corpus expressions.
 * The compiler never throws and never fails internally; it refuses only what
 * libpcap refuses, and evaluates in JavaScript only what libpcap accepts
 * (libpcap compiles each one for Ethernet: the oracle, never our parser).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { planRule } from '../../src/filter';
import { oracleCompile } from '../filter/gen/oracle';
import { randomExpression } from '../filter/gen/random-exprs';
import type { Prng } from '../filter/gen/prng';
import { TEST_CORPUS } from '../support/paths';
import { fuzzInputs, fuzzPrng, isOneLine, mutateText } from './budget';

const WORDS = [
  'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'ether', 'vlan', 'mpls', 'pppoes', 'host', 'net', 'port', 'portrange',
  'src', 'dst', 'and', 'or', 'not', '!', '&&', '||', 'proto', 'protochain', 'broadcast', 'multicast', 'less', 'greater', 'len',
  'mask', 'gateway', 'inbound', 'outbound', 'ifindex', 'llc', 'stp', 'sca', 'decnet', 'tcpflags', 'tcp-syn', 'icmptype',
  '(', ')', '[', ']', ':', '=', '==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>',
  '0', '1', '2', '4', '53', '80', '255', '256', '65535', '4294967295', '0x10', '0xffffffff', '10.0.0.1', '10.0.0.0/8',
  '192.168.1', 'fe80::1', '::/0', '2001:db8::/32', '00:11:22:33:44:55', 'ff:ff:ff:ff:ff:ff', 'eth0', 'echo', 'domain',
];

function tokenSoup(prng: Prng): string {
  const n = prng.range(1, 12);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[prng.int(WORDS.length)]);
  return out.join(prng.chance(0.9) ? ' ' : '');
}

test('fuzz: filter expressions against libpcap\'s accept/refuse', () => {
  const prng = fuzzPrng(4);
  const corpus = readFileSync(join(TEST_CORPUS, 'accept-en10mb.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const total = fuzzInputs(3000);
  const exprs: string[] = [];
  for (let i = 0; i < total; i++) {
    // A third each: the grammar's own shapes (mostly valid), token soup, mutated corpus expressions.
    const kind = prng.int(3);
    const e = kind === 0 ? randomExpression(prng, prng.range(1, 6))
      : kind === 1 ? tokenSoup(prng)
        : mutateText(prng, corpus[prng.int(corpus.length)], ' ()[]:=&|!<>0123456789abcdefhostportnetipudptcp');
    exprs.push(e.replace(/[\n\r\0]/g, ' '));
  }
  // In batches: one oracle process compiles a few thousand expressions well within its time limit.
  const libpcap = [];
  for (let at = 0; at < exprs.length; at += 5000) libpcap.push(...oracleCompile(1, exprs.slice(at, at + 5000)));
  const counts = { javascript: 0, libpcap: 0, error: 0 };
  const disagreements: string[] = [];
  for (const [slot, expr] of exprs.entries()) {
    const { plan } = planRule({ slot, expr }, 1);
    counts[plan.engine]++;
    const oracle = libpcap[slot];
    if (plan.engine === 'error') {
      assert.ok(isOneLine(plan.message), JSON.stringify(plan.message));
      if (oracle.ok) disagreements.push(`engine refuses, libpcap accepts: ${JSON.stringify(expr)}: ${plan.message}`);
    } else if (plan.engine === 'libpcap') {
      assert.doesNotMatch(plan.reason, /internal/, `internal compiler failure on ${JSON.stringify(expr)}: ${plan.reason}`);
    } else if (!oracle.ok && !/rejects all packets/.test(oracle.error)) {
      // libpcap's optimiser refuses a rule it reduces to "reject"; its unoptimised meaning is valid (and counts 0).
      disagreements.push(`engine evaluates, libpcap refuses: ${JSON.stringify(expr)}: ${oracle.error}`);
    }
  }
  const refusedByLibpcap = libpcap.filter((a) => !a.ok).length;
  console.log(`fuzz expressions: ${total} inputs, libpcap refused ${refusedByLibpcap}; engine: ${JSON.stringify(counts)}; ${disagreements.length} disagreements`);
  assert.deepEqual(disagreements.slice(0, 20), []);
  assert.ok(counts.javascript > total / 10 && counts.error > total / 10, 'the inputs reach both outcomes');
});
