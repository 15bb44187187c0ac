/**
 * Garbage collection on the daemon's own schedule.
 *
 * A full collection after a reload or a re-attach (rare events): V8 grows
 * its heap lazily and collects old objects only when it must, so the
 * captures, rule sets and compiled matchers a reload replaced would keep a
 * router's RSS up for minutes; collected at once, RSS stays where it was.
 * Coalesced: several reloads or sections in one tick cost one collection.
 *
 * While serving, a young-generation collection every ten seconds and a full
 * one every five minutes: the daemon allocates little (a few kB/s for poll
 * wake-ups and timers), so V8 on its own would fill its 1 MB young generation
 * over minutes (RSS climbing and falling by ~1 MB), and what the frequent
 * young collections move to the old generation would wait there for a full
 * collection that a small heap may not need for hours (RSS creeping up ~1 MB
 * per half hour). Measured here: a young collection ~0.7 ms, a full one of
 * the daemon's heap 2-4 ms on x86 (tens of ms on a router CPU, once in five
 * minutes); with both, RSS stays flat.
 *
 * V8's gc() (Node 18 and 20) runs a young collection for ANY options bag,
 * `{ type: 'major' }` included (seen with --trace-gc: "Scavenge"); only a call
 * without an argument collects the whole heap ("Mark-Compact"/"Mark-sweep").
 */
import { traceStartup } from '../startup-trace';

type Collector = (options?: { type: 'minor' }) => void;
let gc: Collector | undefined;
let pending = false;

function collector(): Collector {
  if (!gc) {
    // Loaded at the first collection, after the sections count: Debian's and OpenWrt's Node
    // compile their built-in modules from source, and node:v8 pulls in nine of them.
    const { setFlagsFromString } = require('node:v8') as typeof import('node:v8');
    const { runInNewContext } = require('node:vm') as typeof import('node:vm');
    // The documented way to reach V8's gc() without a command-line flag.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Collector;
  }
  return gc;
}

/** The whole heap now (full) or the young generation only (young). */
export function collectGarbage(kind: 'full' | 'young'): void {
  if (kind === 'full') collector()();
  else collector()({ type: 'minor' });
}

/** While the daemon starts, a requested collection waits (see holdCollections). */
let held = false;

export function collectGarbageSoon(): void {
  if (pending) return;
  pending = true;
  if (!held) setImmediate(collectNow);
}

function collectNow(): void {
  pending = false;
  collectGarbage('full');
  traceStartup('full GC done');
}

/**
 * From now until releaseCollections(), collections asked for wait: at start every section asks for
 * one as it attaches, and on a router CPU a full collection of the start's heap takes most of a
 * second (0.7 s on emulated mipsel), which would come between the sockets going up and their
 * first answers.
 */
export function holdCollections(): void {
  held = true;
}

/** The collection asked for while held runs `delayMs` from now (coalesced into one). */
export function releaseCollections(delayMs: number): void {
  held = false;
  if (pending) setTimeout(collectNow, delayMs);
}

const YOUNG_GENERATION_INTERVAL_MS = 10_000;
/** Every 30th collection (five minutes) is a full one. */
const FULL_EVERY = 30;

/** Starts the periodic collections; the timer does not keep the process alive. */
export function collectGarbagePeriodically(): void {
  let ticks = 0;
  setInterval(() => {
    ticks = (ticks + 1) % FULL_EVERY;
    collectGarbage(ticks === 0 ? 'full' : 'young');
  }, YOUNG_GENERATION_INTERVAL_MS).unref();
}
