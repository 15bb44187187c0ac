/**
 * Grammar-driven random expressions (some mutated into near-misses) on every supported link type:
 * 'error' only where libpcap refuses, 'javascript' only where libpcap compiles (or finds that the
 * expression rejects every packet, which the daemon counts as an empty rule).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { planRule } from '../../../src/filter';
import { oracleBuilt } from './harness';

function generator(seed: number): () => string {
  let s = seed;
  const rnd = (n: number): number => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s % n; };
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)];
  const protos = ['', 'ip ', 'ip6 ', 'tcp ', 'udp ', 'arp ', 'rarp ', 'ether ', 'sctp ', 'icmp ', 'link '];
  const dirs = ['', 'src ', 'dst ', 'src or dst ', 'src and dst '];
  const aquals = ['host ', 'net ', 'port ', 'portrange ', 'proto ', 'protochain ', 'gateway ', ''];
  // Names only where libpcap looks up services/protocols: as host names it would ask DNS (slow, offline).
  const vals = ['1.2.3.4', '10', '10.1', '10.0.0.0/8', '10.0.0.0 mask 255.0.0.0', 'fe80::1', 'fe80::/10', '00:11:22:33:44:55',
    '53', '17', '0', '65536', '10.0.0.1/8'];
  const names = ['domain', '1-100', 'http', '\\tcp', 'udp', 'bootps-bootpc'];
  const accs = ['ether', 'ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'igmp', 'vrrp', 'sctp', 'pim', 'link'];
  const simple = ['ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6', 'arp', 'vlan', 'vlan 10', 'mpls', 'mpls 5', 'pppoes', 'pppoes 3',
    'pppoed', 'llc', 'stp', 'iso', 'ipx', 'ether broadcast', 'ether multicast', 'ip multicast', 'ip6 multicast', 'ip broadcast',
    'less 100', 'greater 100', 'byte 1 = 2', 'l1', 'isis', 'decnet', 'atalk'];
  const arith = (d: number): string => {
    const k = rnd(d > 0 ? 6 : 3);
    if (k === 0) return String(pick([0, 1, 2, 4, 13, 0x80, 255, 1500, 40, 32]));
    if (k === 1) return `${pick(accs)}[${d > 0 && rnd(3) === 0 ? arith(d - 1) : rnd(60)}${rnd(2) ? ':' + pick([1, 2, 4, 3]) : ''}]`;
    if (k === 2) return 'len';
    if (k === 3) return `(${arith(d - 1)})`;
    if (k === 4) return `-${arith(d - 1)}`;
    return `${arith(d - 1)} ${pick(['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>'])} ${arith(d - 1)}`;
  };
  const prim = (): string => {
    const k = rnd(6);
    if (k === 0) return `${arith(2)} ${pick(['=', '!=', '>', '<', '>=', '<=', '=='])} ${arith(2)}`;
    if (k === 1) return pick(simple);
    const aqual = pick(aquals);
    const named = aqual === 'port ' || aqual === 'portrange ' || aqual === 'proto ' || aqual === 'protochain ';
    return `${pick(protos)}${pick(dirs)}${aqual}${named && rnd(2) ? pick(names) : pick(vals)}`;
  };
  const expr = (d: number): string => {
    if (d <= 0 || rnd(3) === 0) return prim();
    const k = rnd(5);
    if (k === 0) return `not ${expr(d - 1)}`;
    if (k === 1) return `(${expr(d - 1)})`;
    if (k === 2) return `${expr(d - 1)} ${pick(['and', 'or', '&&', '||'])} ${pick(vals)}`;
    return `${expr(d - 1)} ${pick(['and', 'or', '&&', '||'])} ${expr(d - 1)}`;
  };
  const mutate = (e: string): string => {
    const t = e.split(' ');
    const k = rnd(4), i = rnd(t.length);
    if (k === 0) t.splice(i, 1);
    else if (k === 1) t.splice(i, 0, pick(['and', 'or', 'not', '(', ')', 'host', '1.2.3.4', 'port', '[', ']']));
    else if (k === 2 && t.length > 1) { const j = rnd(t.length); [t[i], t[j]] = [t[j], t[i]]; }
    return t.join(' ');
  };
  return () => { const e = expr(3); return rnd(3) === 0 ? mutate(e) : e; };
}

test('random expressions: refused and accepted as libpcap does', () => {
  const next = generator(20261127);
  const exprs = Array.from({ length: 1500 }, next);
  const wrong: string[] = [];
  let evaluated = 0, refused = 0;
  for (const dlt of [1, 113, 276, 12, 108]) {
    const verdicts = execFileSync(oracleBuilt(), ['compile', String(dlt), '-'], { input: exprs.join('\n') + '\n', maxBuffer: 1 << 24 })
      .toString().trimEnd().split('\n');
    exprs.forEach((e, i) => {
      const plan = planRule({ slot: 0, expr: e }, dlt).plan;
      const ok = verdicts[i].startsWith('OK');
      const rejectsAll = verdicts[i].includes('rejects all packets');
      if (plan.engine === 'error') { refused++; if (ok) wrong.push(`DLT ${dlt}: ${e}: we refuse (${plan.message}), libpcap compiles`); }
      if (plan.engine === 'javascript') { evaluated++; if (!ok && !rejectsAll) wrong.push(`DLT ${dlt}: ${e}: libpcap says ${verdicts[i]}`); }
    });
  }
  assert.deepEqual(wrong, []);
  assert.ok(evaluated > 1000 && refused > 1000, `evaluated ${evaluated}, refused ${refused}`);
});
