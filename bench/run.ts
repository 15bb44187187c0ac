/**
 * Runs all benchmarks and prints their tables (npm run bench).
 * Environment: BENCH_MIN_SECONDS (per timed measurement, default 1),
 * BENCH_REPEATS (measurements per side, best kept, default 3),
 * BENCH_MIX_PACKETS (default 1000000), BENCH_RUNS (whole-process runs per
 * side, default 3), BENCH_SKIP_PROCESS=1 skips the whole-process comparison.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureMix, BENCH_MAC } from './mix';
import { BENCH_OUT, ROOT } from './peers';
import { TEST_PCAPS } from '../test/support/paths';
import { C_EXAMPLE, acceptCorpusRules, benchOne, formatFilterTable, freifunkRules, headOfCapture, table, type FilterBenchRow, type PacketSet } from './filter-bench';
import { runProcessBench } from './process-bench';

function wholeProcess(capture: string, filters: string, label: string, runs: number): void {
  try {
    const r = runProcessBench(capture, filters, BENCH_MAC, runs);
    console.log(`\nWhole process, -r ${capture.replace(`${ROOT}/`, '')} -f ${label} (median of ${r.runs} alternating runs each):`);
    console.log(table(['program', 'CPU s (user+sys)', 'wall s', 'max RSS MB'], [
      ['node dist/bpfcountd.js', r.node.cpu.toFixed(2), r.node.wall.toFixed(2), (r.node.rssKb / 1024).toFixed(0)],
      ['C loop (bench/peer/bpfcountd-c.c)', r.c.cpu.toFixed(2), r.c.wall.toFixed(2), (r.c.rssKb / 1024).toFixed(0)],
    ]));
    console.log(`CPU ratio node/C (medians): ${(r.node.cpu / r.c.cpu).toFixed(2)}; outputs ${r.outputsAgree ? 'identical' : 'DIFFER'}; ` +
      `runs: node ${r.nodeCpu.map((x) => x.toFixed(2)).join(' ')} s, C ${r.cCpu.map((x) => x.toFixed(2)).join(' ')} s`);
    if (!r.outputsAgree) { console.log(r.detail); process.exitCode = 1; }
  } catch (err) {
    console.log(`\nWhole-process comparison (${label}) not run: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

function main(): void {
  const minSeconds = Number(process.env.BENCH_MIN_SECONDS ?? '1');
  const mixPackets = Number(process.env.BENCH_MIX_PACKETS ?? '1000000');
  const runs = Number(process.env.BENCH_RUNS ?? '3');
  const repeats = Number(process.env.BENCH_REPEATS ?? '3');
  const mixPath = join(BENCH_OUT, mixPackets === 1000000 ? 'mix-1m.pcap' : `mix-${mixPackets}.pcap`);
  const t0 = Date.now();
  ensureMix(mixPath, mixPackets);
  console.log(`mix: ${mixPath} (${mixPackets} packets, ready after ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const mix: PacketSet = { name: 'mix', path: mixPath };
  const afs: PacketSet = { name: 'afs.pcap', path: join(TEST_PCAPS, 'afs.pcap') };
  // The accept corpus has ~200 rules: a 20k-packet head of the mix keeps it within seconds.
  const mixHead = headOfCapture(mixPath, Math.min(20000, mixPackets), join(BENCH_OUT, 'mix-head.pcap'));
  const ff = freifunkRules();
  const corpus = acceptCorpusRules();
  // The 1M mix (390 MB) streams from memory on both sides; its 20k head stays in cache, as packets
  // do in the daemon (live: copied into one buffer by the binding; -r: read 1 MiB at a time).
  const plan: [typeof ff, PacketSet][] = [[C_EXAMPLE, mix], [C_EXAMPLE, mixHead], [C_EXAMPLE, afs],
    [ff, mix], [ff, mixHead], [ff, afs], [corpus, mixHead], [corpus, afs]];
  const rows: FilterBenchRow[] = [];
  for (const [rules, packets] of plan) {
    const row = benchOne(rules, packets, minSeconds, repeats);
    rows.push(row);
    console.log(`  ${rules.name} on ${packets.name}: engine ${row.engineNs.toFixed(2)} ns, libpcap ${row.libpcapNs.toFixed(2)} ns per packet x rule`);
  }
  console.log(`\nFilter evaluation, packets in memory, best of ${repeats} alternating runs of >= ${minSeconds} s per side (libpcap/engine > 1: the engine is faster):`);
  console.log(formatFilterTable(rows));

  if (process.env.BENCH_SKIP_PROCESS === '1') return;
  // The accept corpus as a filter file (inbound/outbound cannot run on a file): many rules, some left to libpcap.
  const acceptFilters = join(BENCH_OUT, 'accept-corpus.filters');
  writeFileSync(acceptFilters, corpus.exprs.map((e, i) => `c${i};${e}\n`).join(''));
  const exampleFilters = join(BENCH_OUT, 'c-example.filters');
  writeFileSync(exampleFilters, C_EXAMPLE.exprs.map((e, i) => `e${i};${e}\n`).join(''));
  const whole: [string, string, string][] = [
    [mixPath, join(ROOT, 'bench', 'freifunk.filters'), 'bench/freifunk.filters'],
    [mixPath, exampleFilters, 'the C original\'s 3 example rules'],
    [headOfCapture(mixPath, Math.min(200000, mixPackets), join(BENCH_OUT, 'mix-200k.pcap')).path, acceptFilters, `the accept corpus (${corpus.exprs.length} rules)`],
  ];
  for (const [capture, filters, label] of whole) wholeProcess(capture, filters, label, runs);
  if (rows.some((r) => !r.countsAgree)) process.exitCode = 1;
}

main();
