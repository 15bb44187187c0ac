/**
 * tcpreplay from the sending namespace, with what the benchmark needs from
 * it: frames sent, the rate it reached (its "Rated: ... pps") and its own
 * CPU seconds (bash's `times` for its children: softirq work done in the
 * sender's context lands here).
 */
import { runAsync, type VethLink } from '../../test/support/netns';

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

export async function replayRun(link: VethLink, pcap: string, speed: ReplaySpeed): Promise<ReplayRun> {
  const argv = ['tcpreplay', '-i', link.sendIf, speed.pps !== undefined ? `--pps=${speed.pps}` : '--topspeed'];
  if (speed.loop > 1) argv.push(`--loop=${speed.loop}`, '--preload-pcap');
  argv.push(pcap);
  const script = `${argv.map(quote).join(' ')} || exit $?; times`;
  const out = await runAsync(['ip', 'netns', 'exec', link.sendNs, 'bash', '-c', script]);
  const sent = /Actual: (\d+) packets \(\d+ bytes\) sent in ([\d.]+) seconds/.exec(out);
  const rated = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(out);
  const failed = /Failed packets:\s+(\d+)/.exec(out);
  const times = [...out.matchAll(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/g)].at(-1);
  if (!sent || !rated || !times) throw new Error(`tcpreplay output not understood:\n${out}`);
  if (failed && failed[1] !== '0') throw new Error(`tcpreplay failed to send ${failed[1]} frames:\n${out}`);
  return {
    sent: Number(sent[1]),
    seconds: Number(sent[2]),
    pps: Number(rated[1]),
    senderCpuSeconds: Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]),
  };
}
