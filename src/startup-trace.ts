/**
 * Start-up trace for measurements (test/cross, bench): with BPFCOUNTD_TRACE_STARTUP=1 the daemon
 * writes one line per phase to stderr: ms since the process started (process.uptime()), RssAnon
 * from /proc/self/status, V8's heap, and how many libpcap handles (each one pcap_compile) were
 * opened so far. Off by default: one environment lookup.
 */
import { readFileSync } from 'node:fs';
import { writeLine } from './write-line';

const enabled = process.env.BPFCOUNTD_TRACE_STARTUP === '1';
const counts = { offline: 0, live: 0 };

export function traceStartup(phase: string): void {
  if (!enabled) return;
  let anon = '?';
  try {
    anon = /RssAnon:\s*(\d+)/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? '?';
  } catch {
    // not Linux
  }
  const m = process.memoryUsage();
  const kb = (n: number): number => Math.round(n / 1024);
  writeLine(2, `trace: ${(process.uptime() * 1000).toFixed(0)} ms RssAnon=${anon} kB heapUsed=${kb(m.heapUsed)} heapTotal=${kb(m.heapTotal)} `
    + `external=${kb(m.external)} offline=${counts.offline} live=${counts.live} ${phase}\n`);
}

/** A libpcap handle was opened (a capture file or a live interface): one pcap_compile each. */
export function traceHandle(kind: 'offline' | 'live'): void {
  if (enabled) counts[kind]++;
}

traceStartup('bundle loaded');
