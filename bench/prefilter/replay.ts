/**
 * tcpreplay from the sending namespace, with what the benchmark needs from
 * it: frames sent, the rate it reached (its "Rated: ... pps") and its own
 * CPU seconds (bash's `times` for its children: softirq work done in the
 * sender's context lands here).
 */
import { spawn } from 'node:child_process';
import type { VethLink } from '../../test/support/netns';

export interface ReplayRun {
  sent: number;
  pps: number;
  seconds: number;
  senderCpuSeconds: number;
}

export interface ReplaySpeed {
  /** Packets per second; undefined = --topspeed. */
  pps?: number;
  /** tcpreplay --loop (the file is preloaded into memory first). */
  loop: number;
}

function quote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

export function replayRun(link: VethLink, pcap: string, speed: ReplaySpeed): Promise<ReplayRun> {
  const argv = ['tcpreplay', '-i', link.sendIf, speed.pps !== undefined ? `--pps=${speed.pps}` : '--topspeed'];
  if (speed.loop > 1) argv.push(`--loop=${speed.loop}`, '--preload-pcap');
  argv.push(pcap);
  const script = `${argv.map(quote).join(' ')} || exit $?; times`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', link.sendNs, 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) { reject(new Error(`tcpreplay exited with ${code}: ${err.trim()} ${out.trim()}`)); return; }
      const sent = /Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds/.exec(out);
      const rated = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(out);
      const failed = /Failed packets:\s+(\d+)/.exec(out);
      const times = [...out.matchAll(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/g)].at(-1);
      if (!sent || !rated || !times) { reject(new Error(`tcpreplay output not understood:\n${out}`)); return; }
      if (failed && failed[1] !== '0') { reject(new Error(`tcpreplay failed to send ${failed[1]} frames:\n${out}`)); return; }
      resolve({
        sent: Number(sent[1]),
        seconds: Number(sent[2]),
        pps: Number(rated[1]),
        senderCpuSeconds: Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]),
      });
    });
  });
}
