/**
 * Start-up trace for measurements (test/cross, bench): with BPFCOUNTD_TRACE_STARTUP=1 the daemon
 * writes one line per phase to stderr: ms since the process started (process.uptime()), RssAnon
 * from /proc/self/status, V8's heap, how many expressions libpcap checked and how many libpcap
 * handles were opened so far (each one pcap_compile()). Off by default: one environment lookup.
 */
import { readText } from './files';
import { writeLine } from './write-line';

const enabled = process.env.BPFCOUNTD_TRACE_STARTUP === '1';
const counts = { checked: 0, offline: 0, live: 0 };

export function traceStartup(phase: string): void {
  if (!enabled) return;
  let anon = '?';
  try {
    anon = /RssAnon:\s*(\d+)/.exec(readText('/proc/self/status', 'latin1'))?.[1] ?? '?';
  } catch {
    // not Linux
  }
  const m = process.memoryUsage();
  const kb = (n: number): number => Math.round(n / 1024);
  writeLine(2, `trace: ${(process.uptime() * 1000).toFixed(0)} ms RssAnon=${anon} kB heapUsed=${kb(m.heapUsed)} heapTotal=${kb(m.heapTotal)} `
    + `external=${kb(m.external)} checked=${counts.checked} offline=${counts.offline} live=${counts.live} ${phase}\n`);
}

/** libpcap checked an expression, or a handle was opened (a capture file or a live interface). */
export function traceHandle(kind: 'checked' | 'offline' | 'live'): void {
  if (enabled) counts[kind]++;
}

traceStartup('bundle loaded');
