/**
 * A memo that lasts one job (until the current microtask ends): a start or
 * reload parses and lowers each rule several times over (its plan, the kernel
 * filter's terms, their length guards), and on a router CPU each time is cold,
 * interpreted code. Forgetting after the job keeps nothing alive while serving.
 * What it remembers, results or thrown errors, must not be modified by callers.
 */
export type JobMemo<V> = (key: string, compute: () => V) => V;

export function jobMemo<V>(): JobMemo<V> {
  let known: Map<string, { value: V } | { error: unknown }> | undefined;
  return (key, compute) => {
    if (!known) {
      known = new Map();
      queueMicrotask(() => { known = undefined; });
    }
    let entry = known.get(key);
    if (!entry) {
      try {
        entry = { value: compute() };
      } catch (error) {
        entry = { error };
      }
      known.set(key, entry);
    }
    if ('error' in entry) throw entry.error;
    return entry.value;
  };
}
