/**
 * The capture side of one instance: a packet source (interface or capture
 * file), a prefilter and its expanded rules. Rules the JavaScript engine takes share one
 * capture handle and one compiled function; every other rule gets a libpcap
 * handle of its own whose kernel filter is the rule itself.
 *
 *   batch -> CaptureHandle -> compiled matchAt() per packet -> Counters   (javascript rules)
 *   batch -> CaptureHandle(kernel filter = rule) -> Counters              (libpcap rules)
 */
import type { Rule } from '../config/expand';
import { ConfigError } from '../config/errors';
import { DLT } from '../capture/binding';
import { CaptureHandle, MAX_SNAPLEN, type BatchSink } from '../capture/handle';
import { ExpressionChecker } from '../capture/validate';
import { sharedKernelFilter, type KernelTerm } from '../capture/prefilter';
import { isLiveOnlyRefusal, isRejectsAllRefusal, usesKernelMetadata } from '../capture/live-only';
import { interfaceLinkType } from '../capture/interface';
import { layoutOfFile, readSavefile, SavefileError, type SavefileLayout } from '../capture/savefile';
import { planRule, type MatchAtFn } from '../filter';
import { Counters } from './counters';
import { planJavaScript, validUnoptimised, type EnginePlan } from './js-engine';
import { joinPrefilter } from './prefilter-join';
import { traceStartup } from '../startup-trace';
import { buildLater, buildMemo } from './deferred-builds';
import { writeLine } from '../write-line';

export type Source =
  | { kind: 'live'; ifname: string; bufferSize: number }
  | { kind: 'file'; path: string };

export interface CaptureSetSpec {
  name: string;
  source: Source;
  prefilter: string;
  rules: readonly Rule[];
}

export interface RulePlanInfo {
  rule: Rule;
  plan: EnginePlan;
  /** The libpcap handle's filter, for 'libpcap' rules. */
  kernelFilter?: string;
  warning?: string;
  /** For --check: how libpcap's optimiser treats the rule, where that matters. */
  note?: string;
}

/** libpcap's buffer timeout: a few wake-ups a second at low rates, batches at high rates. */
const LIVE_TIMEOUT_MS = 250;

/**
 * Buffered mode (TPACKET_V3) splits the buffer into blocks of 256 KiB, and
 * the kernel drops what arrives while every block is full or being read: a
 * buffer of one or two blocks (Gluon uses 128 KiB) loses packets at every
 * read. Below this size immediate mode is used: its ring has one slot per
 * packet, sized by the snap length, and every slot is free as soon as read.
 */
const BUFFERED_MIN_BYTES = 1024 * 1024;

/**
 * The patched binding attaches kernel filters to the socket itself, so no
 * packet goes through libpcap's user-space re-filter (where kernel metadata,
 * inbound/outbound/ifindex, reads as "no match"). Cooked sockets (SLL) still
 * use pcap_setfilter(), which re-filters the first ring block (buffered mode)
 * or frame (immediate mode): there immediate mode limits that to one packet.
 */
function timeoutFor(filter: string, linkType: number, bufferSize: number): number {
  if (isCooked(linkType) && usesKernelMetadata(filter)) return 0;
  return bufferSize < BUFFERED_MIN_BYTES ? 0 : LIVE_TIMEOUT_MS;
}

/** Sockets whose link header libpcap rewrites: their filters go through pcap_setfilter(). */
function isCooked(linkType: number): boolean {
  return linkType === DLT.LINUX_SLL || linkType === DLT.LINUX_SLL2;
}

/**
 * A rule's own handle counts only the wire length. Immediate mode's
 * TPACKET_V2 ring has one fixed-size frame per packet, sized from the snap
 * length (up to 64 KiB with offloads): a full snap length would leave a
 * 2 MiB ring 32 frames. Such filters read kernel metadata, which only the
 * kernel can evaluate, and the kernel sees the whole packet, so a short snap
 * length changes no result. Buffered (V3) rings pack packets by size.
 */
function ruleHandleSnapLength(filter: string): number {
  return usesKernelMetadata(filter) ? METADATA_RULE_SNAPLEN : MAX_SNAPLEN;
}
const METADATA_RULE_SNAPLEN = 128;

export class CaptureSet {
  readonly plans: RulePlanInfo[] = [];
  linkType = -1;
  /** The shared capture's kernel filter and snap length (for --check and the rules output). */
  kernelFilter = '';
  kernelFilterNote = '';
  snapLength = MAX_SNAPLEN;
  private main?: CaptureHandle;
  /** Capture files libpcap need not read for the JavaScript rules: read in JavaScript. */
  private fileReader?: { path: string; layout: SavefileLayout; matchAt: MatchAtFn };
  private ruleHandles: CaptureHandle[] = [];
  private opened = false;

  /**
   * `counters` has one slot per rule, in rule order; the caller keeps it across reloads.
   * `serving`: a live capture that counts at once and gets its generated code and narrow kernel
   * filter a little later (deferred-builds.ts); otherwise (--check) both are built by open().
   */
  constructor(readonly spec: CaptureSetSpec, readonly counters: Counters, private readonly serving = false) {
    if (counters.size !== spec.rules.length) throw new Error('one counter slot per rule');
  }

  /**
   * Opens every handle and compiles every rule. Throws ConfigError naming the
   * rule (or the prefilter) when libpcap refuses an expression.
   */
  open(checker: ExpressionChecker, donor?: CaptureSet): void {
    if (this.opened) return;
    this.opened = true;
    this.donor = donor;
    try {
      this.openHandles(checker);
    } catch (err) {
      this.giveBack();
      this.close();
      throw err;
    } finally {
      this.donor = undefined;
    }
  }

  /**
   * After a successful open() with a donor: closes the donor's handles this
   * set did not take over.
   */
  closeUnused(): void {
    this.close();
  }

  /** Handles taken over from the donor, with where their packets went before. */
  private borrowed: { handle: CaptureHandle; sink: BatchSink; key: string; wasMain: boolean }[] = [];
  private donor?: CaptureSet;

  private giveBack(): void {
    for (const { handle, sink, key, wasMain } of this.borrowed) {
      handle.retarget(sink);
      this.donor?.adopt(handle, key, wasMain);
    }
    const taken = new Set(this.borrowed.map((b) => b.handle));
    this.main = this.main && taken.has(this.main) ? undefined : this.main;
    this.ruleHandles = this.ruleHandles.filter((h) => !taken.has(h));
    this.borrowed = [];
  }

  /** A reload keeps a capture whose filter, snap length and buffer are unchanged: no gap, no new socket. */
  private takeOver(key: string, sink: BatchSink): CaptureHandle | undefined {
    const donor = this.donor;
    if (!donor) return undefined;
    const released = donor.release(key);
    if (!released) return undefined;
    this.borrowed.push({ handle: released.handle, sink: released.handle.retarget(sink), key, wasMain: released.wasMain });
    return released.handle;
  }

  private adopt(handle: CaptureHandle, key: string, asMain: boolean): void {
    if (asMain) this.main = handle;
    else this.ruleHandles.push(handle);
    const same = this.keyed.get(key);
    if (same) same.push(handle);
    else this.keyed.set(key, [handle]);
  }

  /** Gives up the handle opened with `key` to a successor. */
  private release(key: string): { handle: CaptureHandle; wasMain: boolean } | undefined {
    const same = this.keyed.get(key) ?? [];
    const at = same.findIndex((h) => h === this.main || this.ruleHandles.includes(h));
    if (at < 0) return undefined;
    const [handle] = same.splice(at, 1);
    const wasMain = this.main === handle;
    if (wasMain) this.main = undefined;
    this.ruleHandles = this.ruleHandles.filter((h) => h !== handle);
    return { handle, wasMain };
  }

  /** Live handles by what they were opened with. */
  private readonly keyed = new Map<string, CaptureHandle[]>();

  private openHandles(checker: ExpressionChecker): void {
    const { spec, counters } = this;
    this.learnLinkType(checker);

    // libpcap has the last word on what is valid; its message names the rule.
    const valid: number[] = [];
    const refused = new Map<number, string>();
    /** Rules only libpcap's optimiser refuses: valid, evaluated in JavaScript (see validUnoptimised). */
    const optimiserRefused = new Map<number, string>();
    spec.rules.forEach((rule, slot) => {
      const message = checker.check(rule.expr, this.linkType);
      if (message === undefined) valid.push(slot);
      else if (validUnoptimised(message, rule.expr, this.linkType)) {
        valid.push(slot);
        optimiserRefused.set(slot, message);
      } else refused.set(slot, message);
    });
    traceStartup(`${spec.name}: link type, prefilter and ${spec.rules.length} rules checked by libpcap`);
    const memo = checker.memo.bind(checker);
    // Live: counting starts with the rules' trees, the generated code follows (deferred-builds.ts).
    const js = planJavaScript(valid.map((slot) => spec.rules[slot].expr), valid, this.linkType, counters, memo,
      this.serving && spec.source.kind === 'live');
    traceStartup(`${spec.name}: JavaScript matcher ${js.generated ? 'planned (code deferred)' : 'compiled'}`);
    const planOf = new Map<number, EnginePlan>();
    valid.forEach((slot, i) => planOf.set(slot, js.plans[i]));

    const ruleFilters: { rule: Rule; slot: number; filter: string }[] = [];
    spec.rules.forEach((rule, slot) => {
      const plan: EnginePlan = planOf.get(slot) ?? { engine: 'libpcap', reason: 'needs a live capture' };
      const info: RulePlanInfo = { rule, plan };
      this.plans.push(info);
      const optimiserMessage = optimiserRefused.get(slot);
      if (optimiserMessage !== undefined) {
        info.note = `libpcap's optimiser refuses it (${optimiserMessage}); its unoptimised program, counted here, accepts it`;
      }
      if (plan.engine === 'javascript') return;
      if (isRejectsAllRefusal(refused.get(slot) ?? '')) {
        // libpcap's optimizer proved it: keep the rule (a filter file is often shared by
        // interfaces of several link types) and let it count nothing.
        info.plan = { engine: 'libpcap', reason: 'never matches on this link type (libpcap: expression rejects all packets)' };
        return;
      }
      // The binding always optimises a live handle's filter (see openFileUnoptimised for files).
      info.note = spec.source.kind === 'file'
        ? 'libpcap evaluates it without its optimiser (a protochain term that never runs turns it off; 802.11, radiotap and PPI captures refuse that term, but libpcap does not optimise what reads behind their variable-length headers)'
        : 'libpcap evaluates it with its optimiser on (the binding always optimises); that can differ from the unoptimised meaning on shapes the optimiser miscompiles';
      const joined = joinPrefilter(spec.prefilter, rule.expr);
      info.kernelFilter = joined.filter;
      info.warning = joined.warning;
      ruleFilters.push({ rule, slot, filter: joined.filter });
    });

    const layout = js.matchAt && spec.source.kind === 'file' && spec.prefilter.trim() === ''
      ? layoutOfFile(spec.source.path, this.linkType) : undefined;
    if (js.matchAt && layout && spec.source.kind === 'file') {
      this.fileReader = { path: spec.source.path, layout, matchAt: js.matchAt };
      this.kernelFilter = '';
      this.kernelFilterNote = 'read in JavaScript';
    } else if (js.matchAt) {
      const terms = this.kernelTerms(optimiserRefused);
      // A first start reads with the prefilter and narrows to the OR of the rules later
      // (deferred-builds.ts); a reload builds it now, to take over the running capture.
      const narrowLater = spec.source.kind === 'live' && !this.donor && js.generated !== undefined
        && !isCooked(this.linkType) && CaptureHandle.canReplaceFilter();
      // Reading a file, libpcap would run the OR in user space: only cost, no saving.
      const shared = spec.source.kind === 'file'
        ? { filter: spec.prefilter, note: 'read by libpcap, kernel filter = the prefilter' }
        : narrowLater ? { filter: spec.prefilter.trim(), note: 'the prefilter until the OR of the rules is built, a second after the start' }
          : sharedKernelFilter(spec.prefilter, terms, this.linkType, memo);
      this.kernelFilter = shared.filter;
      this.kernelFilterNote = shared.note;
      this.snapLength = this.sharedSnapLength(js.plans);
      traceStartup(`${spec.name}: shared kernel filter built (${this.kernelFilter.length} chars)`);
      this.matchAt = js.matchAt;
      this.main = this.openMain(this.kernelFilter, this.countShared, this.snapLength);
      traceStartup(`${spec.name}: shared capture opened`);
      const { generated } = js;
      if (generated) buildLater(() => this.useGenerated(generated));
      if (narrowLater) buildLater(() => this.narrowKernelFilter(terms));
    }
    for (const { rule, slot, filter } of ruleFilters) {
      try {
        this.ruleHandles.push(this.openHandle(filter, ruleHandleSnapLength(filter), countInto(counters, slot)));
      } catch (err) {
        const message = (err as Error).message;
        // Refused by the check but maybe fine live: libpcap's live verdict. A capture file opened
        // already (learnLinkType), so there the rule is at fault (`inbound` on a file...).
        if (refused.has(slot) || spec.source.kind === 'file') throw new ConfigError(rule.where, `rule '${rule.id}': ${message}`);
        throw this.sourceError(message);
      }
    }
  }

  /**
   * The JavaScript rules as terms of the shared kernel filter, which the binding compiles with
   * libpcap's optimiser: a rule it proves empty is left out (it counts nothing, and an OR of such
   * rules alone would be refused), one it refuses otherwise (a divisor folded to 0) goes in
   * coarse, without its comparisons.
   */
  private kernelTerms(optimiserRefused: ReadonlyMap<number, string>): KernelTerm[] {
    const terms: KernelTerm[] = [];
    this.plans.forEach((p, slot) => {
      if (p.plan.engine !== 'javascript') return;
      const message = optimiserRefused.get(slot);
      if (message === undefined) terms.push({ expr: p.rule.expr, coarse: false });
      else if (!isRejectsAllRefusal(message)) terms.push({ expr: p.rule.expr, coarse: true });
    });
    return terms;
  }

  /** From sysfs where that is certain; otherwise from a first handle, which also checks the prefilter. */
  private learnLinkType(checker: ExpressionChecker): void {
    const { source, prefilter } = this.spec;
    const known = source.kind === 'live' ? interfaceLinkType(source.ifname) : undefined;
    if (known === undefined) {
      const probe = this.openMain(prefilter, ignorePacket, MAX_SNAPLEN);
      this.linkType = probe.linkType;
      probe.close();
      return;
    }
    this.linkType = known;
    const message = prefilter.trim() === '' ? undefined : checker.check(prefilter, known);
    if (message !== undefined && !isLiveOnlyRefusal(message)) throw new ConfigError('prefilter', `'${prefilter}': ${message}`);
  }

  private sourceError(message: string): ConfigError {
    const { source } = this.spec;
    return new ConfigError(source.kind === 'file' ? source.path : source.ifname, `cannot capture: ${message}`);
  }

  /**
   * The most bytes any rule (or the prefilter, which libpcap may re-run in
   * user space on the first ring block) can read: a shorter capture keeps
   * more packets in the ring and copies less.
   */
  private sharedSnapLength(plans: readonly EnginePlan[]): number {
    let snap = 0;
    for (const plan of plans) if (plan.engine === 'javascript') snap = Math.max(snap, plan.snapNeeded);
    if (this.spec.prefilter.trim() !== '') {
      const prefilterPlan = planRule({ slot: 0, expr: this.spec.prefilter }, this.linkType).plan;
      if (prefilterPlan.engine === 'javascript') snap = Math.max(snap, prefilterPlan.snapNeeded);
    }
    return Math.min(Math.max(snap, 1), MAX_SNAPLEN);
  }

  private openHandle(filter: string, snapLength: number, sink: BatchSink): CaptureHandle {
    const { source } = this.spec;
    if (source.kind === 'file') return openFileUnoptimised(source.path, filter, sink);
    const key = this.keyOf(source, filter, snapLength);
    const handle = this.takeOver(key, sink) ?? CaptureHandle.openLive(source.ifname,
      { filter, snapLength, bufferSize: source.bufferSize, timeoutMs: timeoutFor(filter, this.linkType, source.bufferSize) }, sink);
    const same = this.keyed.get(key);
    if (same) same.push(handle);
    else this.keyed.set(key, [handle]);
    return handle;
  }

  /** The first handle of a source: tells whether the source or the prefilter is at fault when libpcap refuses. */
  private openMain(filter: string, sink: BatchSink, snapLength: number): CaptureHandle {
    const { prefilter } = this.spec;
    try {
      return this.openHandle(filter, snapLength, sink);
    } catch (err) {
      const message = (err as Error).message;
      if (prefilter.trim() !== '') {
        let sourceWorks = false;
        try {
          this.openHandle('', snapLength, ignorePacket).close();
          sourceWorks = true;
        } catch {
          // the source itself is refused: report the first message
        }
        if (sourceWorks) throw new ConfigError('prefilter', `'${prefilter}': ${message}`);
      }
      throw this.sourceError(message);
    }
  }

  /** What the shared capture counts with: the rules' trees, then their generated code. */
  private matchAt: MatchAtFn = ignorePacket;

  private readonly countShared: BatchSink = (data, headers, count) => {
    const matchAt = this.matchAt;
    for (let i = 0, h = 0; i < count; i++, h += 3) matchAt(data, headers[h], headers[h + 1], headers[h + 2]);
  };

  /** Swaps in the generated code between two batches, unless this set was closed meanwhile. */
  private useGenerated(generated: () => MatchAtFn | undefined): void {
    if (!this.main) return;
    const matchAt = generated();
    if (matchAt) this.matchAt = matchAt;
    // A defect, never the user's rules: the counts stay exact, only slower to make.
    else writeLine(2, `${this.spec.name}: internal code generation error: the rules are evaluated without generated code\n`);
    traceStartup(`${this.spec.name}: generated matcher ${matchAt ? 'in use' : 'failed'}`);
  }

  /**
   * The OR of the rules becomes the shared capture's kernel filter, replacing the prefilter it
   * was opened with; the kernel swaps it in between two packets. Where that fails the
   * prefilter stays (a superset: the counts are the same, only more packets reach user space).
   */
  private narrowKernelFilter(terms: readonly KernelTerm[]): void {
    const { main, spec } = this;
    if (!main || spec.source.kind !== 'live') return;
    const shared = sharedKernelFilter(spec.prefilter, terms, this.linkType, buildMemo);
    let refusal = '';
    if (shared.filter !== this.kernelFilter) {
      try {
        if (!main.replaceFilter(shared.filter)) refusal = 'the kernel refused it';
      } catch (err) {
        refusal = `libpcap: ${(err as Error).message}`;
      }
    }
    if (refusal === '') {
      this.rekey(main, this.keyOf(spec.source, this.kernelFilter, this.snapLength), this.keyOf(spec.source, shared.filter, this.snapLength));
      this.kernelFilter = shared.filter;
      this.kernelFilterNote = shared.note;
    } else {
      this.kernelFilterNote = `the prefilter: the OR of the rules could not be set (${refusal})`;
    }
    traceStartup(`${spec.name}: kernel filter ${refusal === '' ? `narrowed (${this.kernelFilter.length} chars)` : 'left as the prefilter'}`);
  }

  private rekey(handle: CaptureHandle, from: string, to: string): void {
    const same = this.keyed.get(from) ?? [];
    const at = same.indexOf(handle);
    if (at >= 0) same.splice(at, 1);
    if (same.length === 0) this.keyed.delete(from);
    const now = this.keyed.get(to);
    if (now) now.push(handle);
    else this.keyed.set(to, [handle]);
  }

  /** What a live handle is opened with: a reload takes over a handle with the same key. */
  private keyOf(source: Extract<Source, { kind: 'live' }>, filter: string, snapLength: number): string {
    return `${source.ifname}\0${filter}\0${snapLength}\0${source.bufferSize}`;
  }

  /** Capture-file mode: reads the whole file through every handle. */
  readAll(): void {
    const reader = this.fileReader;
    if (reader) {
      try {
        readSavefile(reader.path, reader.layout, reader.matchAt);
      } catch (err) {
        if (err instanceof SavefileError) throw new ConfigError(reader.path, err.message);
        throw err;
      }
    }
    this.main?.readAll();
    for (const handle of this.ruleHandles) handle.readAll();
  }

  startLive(onError: (message: string) => void): void {
    const taken = new Set(this.borrowed.map((b) => b.handle));
    for (const handle of this.handles()) {
      // A handle taken over keeps polling; only its error handler is the new one's.
      handle.startLive(onError, taken.has(handle));
    }
    this.borrowed = [];
  }

  /** Whether the JavaScript rules have the shared capture open. */
  sharesCapture(): boolean {
    return this.main !== undefined;
  }

  handles(): CaptureHandle[] {
    return this.main ? [this.main, ...this.ruleHandles] : [...this.ruleHandles];
  }

  close(): void {
    this.fileReader = undefined;
    this.main?.close();
    for (const handle of this.ruleHandles) handle.close();
    this.main = undefined;
    this.ruleHandles = [];
    this.keyed.clear();
  }
}

/**
 * A capture file's handle. libpcap runs its filter in user space, so the filter can be compiled
 * without libpcap's optimiser (the meaning counted; the binding always optimises otherwise): a
 * program with `protochain` is never optimised, and the joined term never runs its loop nor loads
 * a byte (`len < 0` is false). Link types with variable-length headers (802.11, radiotap, PPI)
 * refuse protochain: there the filter is compiled as is (libpcap skips its optimiser for code that
 * reads behind such a header anyway).
 */
function openFileUnoptimised(path: string, filter: string, sink: BatchSink): CaptureHandle {
  if (filter.trim() === '') return CaptureHandle.openFile(path, filter, sink);
  try {
    return CaptureHandle.openFile(path, `(${filter}) or (len < 0 and ip6 protochain 255)`, sink);
  } catch {
    return CaptureHandle.openFile(path, filter, sink);
  }
}

/** A rule on its own handle: every packet its kernel filter passed. */
function countInto(counters: Counters, slot: number): BatchSink {
  const { bytes, packets } = counters;
  return (_data, headers, count) => {
    let sum = 0;
    for (let h = 2; h < 3 * count; h += 3) sum += headers[h];
    bytes[slot] += sum;
    packets[slot] += count;
  };
}

function ignorePacket(): void {}
