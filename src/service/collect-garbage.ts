/**
 * Garbage collection on the daemon's own schedule.
 *
 * A full collection after a reload or a re-attach (rare events): V8 grows
 * its heap lazily and collects old objects only when it must, so the
 * captures, rule sets and compiled matchers a reload replaced would keep a
 * router's RSS up for minutes; collected at once, RSS stays where it was.
 * Coalesced: several reloads or sections in one tick cost one collection.
 *
 * A young-generation collection every ten seconds while serving: the
 * daemon allocates little (a few kB/s for poll wake-ups and timers), so V8
 * would otherwise fill its 1 MB young generation over minutes and RSS would
 * climb and fall by about 1 MB in a slow sawtooth. Collected often, the few
 * kB in it cost well under a millisecond and RSS stays flat.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { traceStartup } from '../startup-trace';

type Collector = (options?: { type: 'major' | 'minor' }) => void;
let gc: Collector | undefined;
let pending = false;

function collector(): Collector {
  if (!gc) {
    // The documented way to reach V8's gc() without a command-line flag.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Collector;
  }
  return gc;
}

export function collectGarbageSoon(): void {
  if (pending) return;
  pending = true;
  setImmediate(() => {
    pending = false;
    collector()();
    traceStartup('full GC done');
  });
}

const YOUNG_GENERATION_INTERVAL_MS = 10_000;

/** Starts the periodic young-generation collection; the timer does not keep the process alive. */
export function collectYoungGenerationPeriodically(): void {
  setInterval(() => collector()({ type: 'minor' }), YOUNG_GENERATION_INTERVAL_MS).unref();
}
