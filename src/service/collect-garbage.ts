/**
 * A full garbage collection after a reload or a re-attach (rare events).
 * V8 grows its heap lazily and collects old objects only when it must, so the
 * captures, rule sets and compiled matchers a reload replaced would keep a
 * router's RSS up for minutes; collected at once, RSS stays where it was.
 * Coalesced: several reloads or sections in one tick cost one collection.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { traceStartup } from '../startup-trace';

let gc: (() => void) | undefined;
let pending = false;

export function collectGarbageSoon(): void {
  if (pending) return;
  pending = true;
  setImmediate(() => {
    pending = false;
    if (!gc) {
      // The documented way to reach V8's gc() without a command-line flag.
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
    gc();
    traceStartup('full GC done');
  });
}
