/**
 * A Freifunk-style rule set composed with `${id}` (as the C original's users
 * write them), plus shapes libpcap's optimiser miscompiles, proves empty or
 * refuses: every rule must run in JavaScript (`--check` shows no own libpcap
 * handle), and `-r` must count what libpcap's UNOPTIMISED program counts
 * (the C original's answer) on every shared capture, generated runts included.
 */
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CORPUS_CAPTURES } from '../support/paths';
import { expandRuleSet } from '../support/oracle';
import { writeEthernetPcap } from '../support/pcap';
import { Prng } from '../filter/gen/prng';
import { randomEthernetFrame } from '../filter/gen/random-packets';
import { readCaptureFile } from '../filter/gen/pcap-file';
import { buildOracle, oracleCounts, parseCounterLines, ROOT, runDaemon, capturesOfLinkType } from './helpers';

const MAC = '02:ba:7a:00:00:01';

const RULES: readonly [string, string][] = [
  ['arp', 'arp'], ['arp-req', 'arp[6:2] == 1'], ['arp-rep', 'arp[6:2] == 2'],
  ['arp-grat', '${arp-rep} and ether broadcast'], ['arp-me', '${arp} and ether src $MAC'],
  ['nd-rs', 'icmp6 and ip6[40] == 133'], ['nd-ra', 'icmp6 and ip6[40] == 134'], ['nd-ns', 'icmp6 and ip6[40] == 135'], ['nd-na', 'icmp6 and ip6[40] == 136'],
  ['nd', '${nd-rs} or ${nd-ra} or ${nd-ns} or ${nd-na}'], ['nd-not-me', '${nd} and not ether src $MAC'],
  ['dhcp', 'udp and (port 67 or port 68)'], ['dhcp6', 'udp and (port 546 or port 547)'], ['dns', 'port 53'],
  ['mdns', 'udp port 5353'], ['llmnr', 'udp port 5355'], ['bcast', 'ether broadcast'],
  ['bcast-other', '${bcast} and not ${arp} and not ${dhcp}'], ['mcast', 'ether multicast and not ether broadcast'],
  ['mcast-ip6', 'ip6 multicast'], ['mcast-ip6-other', '${mcast-ip6} and not (${nd} or ${mdns} or ${llmnr} or ${dhcp6})'],
  ['mcast-other', '${mcast} and not ${mcast-ip6} and not ip multicast'], ['batadv', 'ether proto 0x4305'],
  ['overhead', '${arp} or ${nd} or ${dhcp} or ${dhcp6} or ${dns} or ${mdns}'],
  ['to-me', 'ether dst $MAC and not ${overhead}'],
  // Shapes libpcap 1.10.3's optimiser compiles wrongly, proves empty or refuses.
  ['opt-1', 'udp or ip6 or len > 100 or ip'], ['opt-2', 'net 10.0.0.0/8 or ip6 or ether multicast or arp'],
  ['opt-3', 'udp[13] & 0 != 0 or udp[9] <= 1'], ['opt-4', 'ip and port 6697 or udp port 53'],
  ['opt-5', 'not host 10.0.0.1 and not ip and not ether multicast and not arp'], ['opt-6', 'ip or not ip'],
  ['opt-7', 'tcp and (port 53 or not port 53)'], ['opt-8', 'ip[len - 40] & 0 != 0 and not icmp[0] & 0 != 0 or not ip[len - 40] > 10'],
  ['never-1', 'tcp and udp'], ['never-2', 'arp and ip6'], ['div-0', 'ip[0] / (1 - 1) > 0 or udp'],
];

function ruleFile(dir: string): string {
  const path = join(dir, 'composed.filters');
  writeFileSync(path, RULES.map(([id, expr]) => `${id};${expr}`).join('\n') + '\n');
  return path;
}

/** Random frames, a third of them malformed runts (shorter on the wire than their headers claim). */
function generated(dir: string): string {
  const r = new Prng(20261206);
  const frames = Array.from({ length: 2000 }, () => {
    const f = Buffer.from(randomEthernetFrame(r));
    return r.chance(0.33) ? f.subarray(0, r.int(f.length + 1)) : f;
  });
  const path = join(dir, 'generated.pcap');
  writeEthernetPcap(path, frames);
  return path;
}

/** Shapes libpcap's optimiser changes, for link types the engine leaves to libpcap (own handles). */
const SENSITIVE = [
  'udp or ip6 or len > 100 or ip', 'ip or not ip', 'udp[13] & 0 != 0 or udp[9] <= 1', 'ip and port 6697 or udp port 53', 'tcp and udp',
  'ip[len - 40] & 0 != 0 and not icmp[0] & 0 != 0 or not ip[len - 40] > 10', 'net 10.0.0.0/8 or ip6 or arp', 'tcp and (port 53 or not port 53)',
  'ip[0] / (1 - 1) > 0 or udp', 'arp or ip', 'udp port 53', 'len >= 0',
];

/** libpcap's noopt verdict per rule on a capture: packets and bytes, or null where libpcap refuses the rule there. */
function unoptimisedCounts(capture: string, exprs: readonly string[]): ({ packets: number; bytes: number } | null)[] {
  const out = execFileSync(join(ROOT, 'build', 'pcap-oracle'), ['count', capture, '-'], { input: exprs.join('\n') + '\n', encoding: 'utf8' });
  return out.trimEnd().split('\n').map((line) => {
    const m = /^OK (\d+) (\d+)$/.exec(line);
    return m ? { packets: Number(m[1]), bytes: Number(m[2]) } : null;
  });
}

before(buildOracle);

describe('composed Freifunk-style rules and optimiser-sensitive shapes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfc-composed-'));
  const file = ruleFile(dir);
  const exprs = expandRuleSet(RULES.map(([id, expr]) => ({ id, expr })), MAC);
  // libpcap's own filter-test captures of Ethernet (the rules test MAC addresses: other link types refuse them).
  const corpus = readdirSync(CORPUS_CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(CORPUS_CAPTURES, f))
    .filter((f) => readCaptureFile(f).linkType === 1);
  const captures = [...capturesOfLinkType('EN10MB'), ...corpus, generated(dir), join(ROOT, 'examples', 'sample.pcap')];

  it('every rule runs in JavaScript, live and with -r', () => {
    for (const args of [['-i', 'lo'], ['-r', captures[0]]]) {
      const run = runDaemon(['--check', ...args, '-f', file, '--mac', MAC]);
      assert.equal(run.status, 0, run.stderr);
      const byLibpcap = run.stdout.split('\n').filter((l) => l.includes('evaluated by: libpcap'));
      assert.deepEqual(byLibpcap, [], `${args.join(' ')}: rules left to libpcap`);
      assert.equal(run.stdout.split('\n').filter((l) => l.includes('evaluated by: javascript')).length, RULES.length);
    }
  });

  it('-r counts equal libpcap\'s unoptimised counts on every capture', () => {
    let compared = 0, nonZero = 0;
    for (const capture of captures) {
      const run = runDaemon(['-r', capture, '-f', file, '--mac', MAC]);
      assert.equal(run.status, 0, `${basename(capture)}: ${run.stderr}`);
      const got = parseCounterLines(run.stdout);
      const want = oracleCounts(capture, exprs);
      RULES.forEach(([id], i) => {
        assert.deepEqual(got.get(id), want[i], `${basename(capture)}: rule ${id} (${exprs[i]})`);
        compared++;
        if (want[i].packets > 0) nonZero++;
      });
    }
    assert.ok(compared >= 40 * RULES.length, `only ${compared} counts compared`);
    assert.ok(nonZero >= 300, `only ${nonZero} non-zero counts compared`);
  });
});

describe('rules on own libpcap handles with -r: the unoptimised meaning too', () => {
  // Link types the engine does not cover: every rule runs on its own libpcap handle, which the
  // daemon compiles without the optimiser for capture files (802.11, radiotap and PPI refuse the
  // protochain term, but libpcap does not optimise what reads behind their variable headers).
  const captures = readdirSync(CORPUS_CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(CORPUS_CAPTURES, f))
    .filter((f) => readCaptureFile(f).linkType !== 1);

  it('-r counts equal libpcap\'s unoptimised counts on every other capture', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfc-own-'));
    let compared = 0, differsOptimised = 0;
    for (const capture of captures) {
      const want = unoptimisedCounts(capture, SENSITIVE);
      const rules = SENSITIVE.map((expr, i) => ({ id: `r${i}`, expr, want: want[i] })).filter((r) => r.want !== null);
      if (rules.length === 0) continue;
      const file = join(dir, `${basename(capture)}.filters`);
      writeFileSync(file, rules.map((r) => `${r.id};${r.expr}`).join('\n') + '\n');
      const run = runDaemon(['-r', capture, '-f', file]);
      assert.equal(run.status, 0, `${basename(capture)}: ${run.stderr}`);
      const got = parseCounterLines(run.stdout);
      const optimised = execFileSync(join(ROOT, 'build', 'pcap-oracle'), ['count-opt', capture, '-'], { input: rules.map((r) => r.expr).join('\n') + '\n', encoding: 'utf8' })
        .trimEnd().split('\n');
      rules.forEach((r, i) => {
        assert.deepEqual(got.get(r.id), r.want, `${basename(capture)}: ${r.expr}`);
        compared++;
        if (optimised[i] !== `OK ${r.want?.packets} ${r.want?.bytes}`) differsOptimised++;
      });
    }
    console.log(`own handles with -r: ${compared} counts compared on ${captures.length} captures; libpcap's optimiser counts ${differsOptimised} of them otherwise (information)`);
    assert.ok(captures.length >= 15 && compared >= 100, `only ${compared} counts on ${captures.length} captures`);
  });
});
