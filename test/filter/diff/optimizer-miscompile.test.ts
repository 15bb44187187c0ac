/**
 * Rules built from a small pool of primitives, repeats and negations included: the shapes libpcap
 * 1.10.3's optimiser compiles wrongly (and_pullup/or_pullup with stale dominators, an X register
 * load deleted with a folded `x & 0`). The daemon counts what the unoptimised program means (the
 * C original's), so every rule must run in JavaScript and give libpcap's UNOPTIMISED verdict on
 * every frame. The optimised verdicts are only reported, and show the set holds rules the
 * optimiser miscompiles (else the check would prove less than it claims).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../gen/prng';
import { writePcapFile } from '../gen/pcap-file';
import { randomFrameFor } from '../gen/random-packets';
import { oracleMatch, oracleMatchOptimized } from '../gen/oracle';
import { runEngine } from './harness';

const POOL = [
  'ip', 'ip6', 'arp', 'udp', 'tcp', 'len > 100', 'less 60', 'port 53', 'host 10.0.0.1', 'net 10.0.0.0/8', 'ether multicast',
  'ether[0] = 1', 'ip[2:2] > 100', 'ip[9] = 17', 'tcp[13] & 2 != 0', 'udp[13] & 0 != 0', 'udp[9] <= 1', 'arp[6:2] = 1', 'vlan',
];
const SEED = 20261128;
const RULES = 1500;

function rule(r: Prng): string {
  const pool = Array.from({ length: r.range(2, 4) }, () => r.pick(POOL));
  const primitive = (): string => (r.chance(0.25) ? 'not ' : '') + r.pick(pool);
  let out = primitive();
  for (let i = r.range(2, 5); i > 1; i--) {
    const rhs = r.chance(0.3) ? `(${primitive()} ${r.pick(['and', 'or'])} ${primitive()})` : primitive();
    out += ` ${r.pick(['and', 'or', 'and not', 'or not'])} ${rhs}`;
    if (r.chance(0.15)) out = r.chance(0.5) ? `(${out})` : `not (${out})`;
  }
  return out;
}

test('rules libpcap\'s optimiser miscompiles run in JavaScript with the unoptimised verdicts', () => {
  const r = new Prng(SEED);
  const exprs = [...new Set(Array.from({ length: RULES }, () => rule(r)))];
  const whole = Array.from({ length: 300 }, () => {
    const f = randomFrameFor(1, r);
    const d = new Uint8Array(Math.max(f.length, 200));
    d.set(f);
    return d;
  });
  // The same frames as they come off the wire, shorter than 200 bytes too.
  const frames = [...whole, ...Array.from({ length: 100 }, () => randomFrameFor(1, r))];
  const dir = mkdtempSync(join(tmpdir(), 'bpfcountd-miscompile-'));
  try {
    const path = join(dir, 'frames.pcap');
    writePcapFile(path, frames.map((data) => ({ data })), { linkType: 1 });
    const unopt = oracleMatch(path, exprs);
    const opt = oracleMatchOptimized(path, exprs);
    const run = runEngine(exprs, 1, frames.map((data) => ({ data, caplen: data.length, wirelen: data.length, tsSec: 0, tsFrac: 0 })));
    const problems: string[] = [...run.counterErrors];
    let miscompiled = 0, decisions = 0;
    exprs.forEach((e, i) => {
      const u = unopt[i], o = opt[i];
      if (!u.ok) { problems.push(`${e}: libpcap refuses it: ${u.error}`); return; }
      if (!o.ok || o.value !== u.value) miscompiled++;
      if (run.plans[i].engine !== 'javascript') { problems.push(`${e}: not evaluated in JavaScript`); return; }
      const got = run.bits[i] ?? '';
      for (let k = 0; k < u.value.length; k++) {
        if (u.value[k] === 'H') continue;
        decisions++;
        if (u.value[k] !== got[k]) { problems.push(`${e}: packet ${k} libpcap (unoptimised) ${u.value[k]}, optimised ${o.ok ? o.value[k] : o.error}, engine ${got[k]}`); break; }
      }
    });
    console.log(`optimiser-sensitive rules: ${exprs.length} rules on ${frames.length} frames, ${decisions} decisions compared (none excused); ` +
      `libpcap's optimiser changes ${miscompiled} of them (information)`);
    assert.deepEqual(problems.slice(0, 10), []);
    assert.equal(decisions, exprs.length * frames.length);
    assert.ok(miscompiled >= 3, `only ${miscompiled} rules the optimiser changes: the set lost the shapes it is about`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
