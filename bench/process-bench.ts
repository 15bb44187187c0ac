/**
 * Whole-process comparison: CPU time (user+sys, from /usr/bin/time) of
 * `node dist/bpfcountd.js -r <capture> -f <filters> --mac <mac>` against
 * bench/peer/bpfcountd-c.c (the C original's pcap_loop + pcap_offline_filter
 * loop) on the same file; runs alternate, medians reported. Both must print
 * the same `id:bytes:packets` lines.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_OUT, ROOT, buildPeer } from './peers';

export interface ProcessSample { wall: number; cpu: number; rssKb: number }
export interface ProcessBenchResult {
  runs: number;
  node: ProcessSample;
  c: ProcessSample;
  outputsAgree: boolean;
  detail: string;
  /** Every run's CPU seconds, in order, per side. */
  nodeCpu: number[];
  cCpu: number[];
}

function timed(cmd: string, args: readonly string[]): { sample: ProcessSample; stdout: string } {
  const timeFile = join(BENCH_OUT, 'time.txt');
  rmSync(timeFile, { force: true });
  const res = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, cwd: ROOT });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}: ${res.stderr.slice(0, 2000)}`);
  const [wall, user, sys, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { sample: { wall, cpu: user + sys, rssKb: rss }, stdout: res.stdout };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function runProcessBench(capture: string, filters: string, mac: string, runs: number): ProcessBenchResult {
  const daemon = join(ROOT, 'dist', 'bpfcountd.js');
  if (!existsSync(daemon)) throw new Error('dist/bpfcountd.js missing: run ./build.sh');
  const peer = buildPeer('bpfcountd-c');
  const nodeSamples: ProcessSample[] = [];
  const cSamples: ProcessSample[] = [];
  let nodeOut = '';
  let cOut = '';
  for (let i = 0; i < runs; i++) {
    const n = timed(process.execPath, [daemon, '-r', capture, '-f', filters, '--mac', mac]);
    const c = timed(peer, ['-r', capture, '-f', filters, '--mac', mac]);
    nodeSamples.push(n.sample);
    cSamples.push(c.sample);
    nodeOut = n.stdout;
    cOut = c.stdout;
  }
  const med = (xs: ProcessSample[]): ProcessSample => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)), rssKb: median(xs.map((x) => x.rssKb)) });
  const agree = nodeOut.trim() === cOut.trim();
  return {
    runs, node: med(nodeSamples), c: med(cSamples), outputsAgree: agree,
    nodeCpu: nodeSamples.map((x) => x.cpu), cCpu: cSamples.map((x) => x.cpu),
    detail: agree ? '' : `outputs differ:\n--- node\n${nodeOut}--- C\n${cOut}`,
  };
}
