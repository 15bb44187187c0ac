/**
 * Asks libpcap whether it accepts an expression for a link type, without a
 * live interface: libpcap compiles it on a dead handle of that type (the
 * addon's check_filter(), openwrt/node-pcap/patches).
 *
 * Within a pass (a start or a reload: every section checks and compiles its
 * rules, and sections usually share one filter file), a verdict or a compiled
 * result is computed once per distinct input and remembered until the pass
 * ends; outside a pass nothing is remembered (host and port names may resolve
 * differently later).
 */
import { nativePcap } from './binding';
import { MAX_SNAPLEN } from './handle';
import { traceHandle } from '../startup-trace';

export class ExpressionChecker {
  private passes = 0;
  private readonly remembered = new Map<string, unknown>();

  /** Runs `work` as (part of) a pass: results are remembered until the outermost pass ends. */
  async inPass<T>(work: () => Promise<T>): Promise<T> {
    this.passes++;
    try {
      return await work();
    } finally {
      if (--this.passes === 0) this.remembered.clear();
    }
  }

  /** compute(), or within a pass the value it gave for the same key. `key` must name every input. */
  memo<T>(key: string, compute: () => T): T {
    if (this.passes === 0) return compute();
    if (this.remembered.has(key)) return this.remembered.get(key) as T;
    const value = compute();
    this.remembered.set(key, value);
    return value;
  }

  /** libpcap's error message, or undefined when the expression compiles. */
  check(expr: string, linkType: number): string | undefined {
    return this.memo(`check\0${linkType}\0${expr}`, () => this.compile(expr, linkType));
  }

  private compile(expr: string, linkType: number): string | undefined {
    traceHandle('checked');
    return nativePcap().check_filter(linkType, MAX_SNAPLEN, expr);
  }
}

/** Remembers a result by a key naming every input (ExpressionChecker.memo within a start or reload). */
export type Memo = <T>(key: string, compute: () => T) => T;
