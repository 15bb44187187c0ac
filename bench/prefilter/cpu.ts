/**
 * CPU accounting from /proc: the whole machine (/proc/stat jiffies), one
 * process (utime+stime of /proc/<pid>/stat) and the ksoftirqd threads (the
 * kernel runs packet filters in softirq context: in the sender's time slice
 * when it can, on ksoftirqd when it falls behind).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Linux's USER_HZ (getconf CLK_TCK), which /proc reports times in. */
export const CLOCK_TICKS = 100;

export interface MachineJiffies {
  busy: number;
  total: number;
  /** Where the busy time went (user incl. nice, system, softirq). */
  user: number;
  system: number;
  softirq: number;
}

export function machineJiffies(): MachineJiffies {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total, user: user + nice, system: system + irq, softirq };
}

export function machineDelta(a: MachineJiffies, b: MachineJiffies): MachineJiffies {
  return { busy: b.busy - a.busy, total: b.total - a.total, user: b.user - a.user, system: b.system - a.system, softirq: b.softirq - a.softirq };
}

/** utime+stime of a process in ticks; NaN once it is gone. */
export function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN;
  }
}

/**
 * On-CPU time of a process in seconds, nanosecond-precise: the sum of its
 * threads' /proc/<pid>/task/<tid>/schedstat run time (utime+stime come in
 * 10 ms ticks). Threads that exited are not counted, so it is meant for
 * processes whose threads live as long as they do (Node's workers, a C
 * loop). NaN once the process is gone.
 */
export function processCpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch { /* thread exited meanwhile */ }
    }
    return ns / 1e9;
  } catch {
    return NaN;
  }
}

export function ksoftirqdPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').startsWith('ksoftirqd/')) pids.push(Number(name));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

export function ticksOf(pids: readonly number[]): number {
  let sum = 0;
  for (const p of pids) {
    const t = processTicks(p);
    if (!Number.isNaN(t)) sum += t;
  }
  return sum;
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
