/**
 * One served instance: its socket, its counters (kept across hot-plug and
 * reload), and, while its interface exists, its CaptureSet. The socket is
 * created once the capture counts (as the C original did): a client that can
 * connect knows its traffic is counted from then on. A section still waiting
 * for its interface has none (ubus says `waiting`); one whose interface went
 * away keeps it, with the counters it has.
 *
 *   waiting --(interface appears)--> running --(interface vanishes)--> waiting
 */
import { ConfigError } from '../config/errors';
import { expandRules, type Rule } from '../config/expand';
import type { RuleLine } from '../config/filter-file';
import { isLiveOnlyRefusal, isRejectsAllRefusal } from '../capture/live-only';
import type { ExpressionChecker } from '../capture/validate';
import { interfaceExists, interfaceIsUp, interfaceLinkType, interfaceMac } from '../capture/interface';
import { CaptureSet } from '../engine/capture-set';
import type { CaptureHandle } from '../capture/handle';
import { validUnoptimised } from '../engine/js-engine';
import { Counters } from '../engine/counters';
import { RateWindow } from '../engine/rates';
import type { InstanceRules, InstanceStats, InstanceState } from './model';
import { TextSocket, type CounterLine } from '../outputs/text-socket';
import { collectGarbageSoon } from './collect-garbage';
import { DropLog } from './drop-log';

export interface ServedSpec {
  name: string;
  ifname: string;
  prefilter: string;
  bufferSize: number;
  socketPath: string;
  rules: readonly RuleLine[];
  /** Overrides the interface's MAC for $MAC. */
  mac?: string;
}

export interface ServedOptions {
  checker: ExpressionChecker;
  log: (message: string) => void;
  /** Without hot-plug a lost interface is fatal (the C original's behaviour). */
  hotplug: boolean;
  onFatal: (err: unknown) => void;
}

/** From this many rules on their own libpcap handle on, the start says what that costs. */
const OWN_HANDLES_WARNING = 4;

/** Stands in for the MAC when comparing rules: a new MAC after hot-plug keeps counters. */
const MAC_PLACEHOLDER = '$MAC';

/**
 * Throws ConfigError (file:line, rule id, libpcap's message) for a rule
 * libpcap refuses; rules only a live capture can judge, and specs whose
 * link type is unknown (interface missing), pass.
 */
export function validateSpec(spec: ServedSpec, linkType: number | undefined, checker: ExpressionChecker): void {
  const mac = spec.mac ?? interfaceMac(spec.ifname);
  const rules = expandShared(spec.rules, mac ?? MAC_PLACEHOLDER_VALUE, checker);
  const type = linkType ?? interfaceLinkType(spec.ifname);
  if (type === undefined) return;
  for (const rule of rules) {
    const message = checker.check(rule.expr, type);
    if (message !== undefined && !isLiveOnlyRefusal(message) && !isRejectsAllRefusal(message) && !validUnoptimised(message, rule.expr, type)) {
      throw new ConfigError(rule.where, `rule '${rule.id}': ${message}`);
    }
  }
}

/** Any MAC will do to check a rule's syntax while the interface is missing. */
const MAC_PLACEHOLDER_VALUE = '00:00:00:00:00:00';

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}


/** What identifies a rule's counter across reloads: its id and its expansion (MAC left symbolic). */
function ruleKeys(lines: readonly RuleLine[], checker: ExpressionChecker): string[] {
  return expandShared(lines, MAC_PLACEHOLDER, checker).map((rule) => `${rule.id}\0${rule.expr}`);
}

/**
 * expandRules, once per distinct input within a start or reload (sections usually share a
 * filter file, and each expands it up to three times). The result is shared: read only.
 */
function expandShared(lines: readonly RuleLine[], mac: string | undefined, checker: ExpressionChecker): readonly Rule[] {
  return checker.memo(`expand\0${mac}\0${JSON.stringify(lines)}`, () => expandRules(lines, mac));
}

export class ServedInstance {
  state: InstanceState = 'waiting';
  private counters: Counters;
  private rates: RateWindow;
  private keys: string[];
  private capture?: CaptureSet;
  private socket?: TextSocket;
  /**
   * Why the section is not counting yet: logged once per reason; an error
   * (not a plain wait for a missing or down interface) also shows in stats.
   */
  private notCounting?: { message: string; isError: boolean };
  /** The interface MAC the running rules were expanded with. */
  private attachedMac?: string;
  /** The interface's IFF_UP as last seen (undefined before the first look). */
  private linkUp?: boolean;
  /** libpcap's drop counters already looked at, per handle (a handle kept by a reload keeps its entry). */
  private dropsSeen = new WeakMap<CaptureHandle, { dropped: number; ifdropped: number }>();
  private dropLog: DropLog;

  constructor(public spec: ServedSpec, private readonly options: ServedOptions) {
    this.keys = ruleKeys(spec.rules, options.checker);
    this.counters = new Counters(spec.rules.length);
    this.rates = new RateWindow(spec.rules.length);
    this.dropLog = new DropLog(spec.name);
  }

  async start(): Promise<void> {
    this.starting = true;
    this.poll();
    this.starting = false;
    // A socket that cannot be served at start (e.g. another daemon answers on it) fails the start.
    await this.socketReady;
  }

  private starting = false;
  /** The socket being created or already listening (resolves at once when there is none yet). */
  private socketReady: Promise<void> = Promise.resolve();

  /** After the first successful attach: the socket, without a gap in counting. */
  private openSocket(): void {
    if (this.socket) return;
    const socket = new TextSocket(this.spec.socketPath, () => this.counterLines(), { log: this.options.log });
    this.socket = socket;
    const listening = socket.listen();
    this.socketReady = listening;
    const atStart = this.starting;
    listening.catch((err: unknown) => {
      if (this.socket === socket) this.socket = undefined;
      if (!atStart) this.options.log(`${this.spec.name}: cannot serve ${socket.path}: ${messageOf(err)}`);
    });
  }

  /** Called once a second: hot-plug and rate samples. */
  poll(): void {
    const present = interfaceExists(this.spec.ifname);
    if (this.capture && !present) this.lost('interface vanished');
    else if (!this.capture && present && this.options.hotplug && interfaceIsUp(this.spec.ifname) === false) {
      // libpcap refuses a down interface ("not up"): wait for it to come up, as for one that is missing.
      this.reportAttachError(new Error(`${this.spec.ifname} is down: counting starts when it is up`), false);
    } else if (!this.capture && present) {
      const error = this.attach();
      if (error !== undefined) this.reportAttachError(error);
    } else if (this.capture && this.macChanged()) {
      this.recompile();
    }
    if (this.capture) this.noteLinkState();
    this.noteDrops(Date.now());
    this.rates.sample(this.counters, Date.now());
  }

  /** The drops since the last poll, summed over the capture's handles, to the drop log (drop-log.ts). */
  private noteDrops(now: number): void {
    let dropped = 0;
    let ifdropped = 0;
    for (const handle of this.capture?.handles() ?? []) {
      const s = handle.stats();
      if (!s) continue;
      let seen = this.dropsSeen.get(handle);
      if (!seen) this.dropsSeen.set(handle, seen = { dropped: 0, ifdropped: 0 });
      dropped += Math.max(0, s.ps_drop - seen.dropped);
      // Every handle reports the same interface counter: not summed.
      ifdropped = Math.max(ifdropped, s.ps_ifdrop - seen.ifdropped);
      // Updated in place: nothing allocated per handle per second.
      seen.dropped = s.ps_drop;
      seen.ifdropped = s.ps_ifdrop;
    }
    const line = this.dropLog.note(dropped, ifdropped, now);
    if (line !== undefined) this.options.log(line);
  }

  /** The capture stays open while its interface is down (the socket receives again once it is up): said once each way. */
  private noteLinkState(): void {
    const up = interfaceIsUp(this.spec.ifname);
    if (up === undefined || up === this.linkUp) return;
    if (this.linkUp !== undefined) {
      this.options.log(up ? `${this.spec.name}: ${this.spec.ifname} is up again: counting`
        : `${this.spec.name}: ${this.spec.ifname} is down: nothing to count until it is up (counters kept)`);
    }
    this.linkUp = up;
  }

  /**
   * An interface often gets its final MAC just after it appears (netifd,
   * batman-adv): rules with `$MAC` follow it, counters stay.
   */
  private macChanged(): boolean {
    if (this.spec.mac !== undefined || !this.spec.rules.some((rule) => rule.text.includes('$MAC'))) return false;
    const mac = interfaceMac(this.spec.ifname);
    return mac !== undefined && mac !== this.attachedMac;
  }

  private recompile(): void {
    this.options.log(`${this.spec.name}: ${this.spec.ifname} has a new MAC: rules with $MAC follow it (counters kept)`);
    const previous = this.capture;
    this.capture = undefined;
    const error = this.attach(previous);
    previous?.closeUnused();
    if (error !== undefined) {
      this.state = 'waiting';
      this.reportAttachError(error);
    }
  }

  /**
   * Checks a new spec against libpcap without touching the running capture
   * (link type from the running capture, or from sysfs).
   */
  validate(spec: ServedSpec): void {
    validateSpec(spec, this.capture?.linkType, this.options.checker);
  }

  /**
   * Applies a new spec: counters of rules whose id and expansion are unchanged
   * carry over; captures whose filter is unchanged are kept, so nothing is
   * missed or counted twice. If the new rules cannot be opened, the old ones
   * keep counting.
   */
  async update(spec: ServedSpec): Promise<void> {
    if (spec.socketPath !== this.spec.socketPath && this.socket) {
      this.socket.close();
      this.socket = new TextSocket(spec.socketPath, () => this.counterLines(), { log: this.options.log });
      await this.socket.listen();
    }
    // From here on synchronous: no packet is delivered until the new set is in place.
    const previous = { spec: this.spec, keys: this.keys, counters: this.counters, rates: this.rates, capture: this.capture };
    const keys = ruleKeys(spec.rules, this.options.checker);
    const counters = new Counters(spec.rules.length);
    const oldSlot = new Map(this.keys.map((key, slot) => [key, slot]));
    keys.forEach((key, slot) => {
      const old = oldSlot.get(key);
      if (old === undefined) return;
      counters.bytes[slot] = this.counters.bytes[old];
      counters.packets[slot] = this.counters.packets[old];
    });
    this.spec = spec;
    this.keys = keys;
    this.counters = counters;
    this.rates = new RateWindow(spec.rules.length);
    this.capture = undefined;
    this.state = 'waiting';
    if (!previous.capture && !interfaceExists(spec.ifname)) return;
    const error = this.attach(previous.capture);
    if (error === undefined) {
      previous.capture?.closeUnused();
      return;
    }
    if (!previous.capture) return this.reportAttachError(error);
    Object.assign(this, { spec: previous.spec, keys: previous.keys, counters: previous.counters, rates: previous.rates });
    this.capture = previous.capture;
    this.state = 'running';
    this.options.log(`${spec.name}: reload refused, the previous rules keep counting: ${messageOf(error)}`);
  }

  stop(): void {
    this.detach();
    this.socket?.close();
    this.socket = undefined;
  }

  counterLines(): CounterLine[] {
    const { bytes, packets } = this.counters;
    return this.spec.rules.map((rule, slot) => ({ id: rule.id, bytes: bytes[slot], packets: packets[slot] }));
  }

  stats(): InstanceStats {
    const drops = { received: 0, dropped: 0, ifdropped: 0 };
    for (const handle of this.capture?.handles() ?? []) {
      const s = handle.stats();
      if (!s) continue;
      drops.received += s.ps_recv;
      drops.dropped += s.ps_drop;
      drops.ifdropped += s.ps_ifdrop;
    }
    const stats: InstanceStats = {
      interface: this.spec.ifname,
      prefilter: this.spec.prefilter,
      state: this.state,
      socket: this.spec.socketPath,
      drops,
      rules: this.counterLines().map((line, slot) => ({
        ...line,
        bytes_per_second: this.rates.rate(slot, 'bytes'),
        packets_per_second: this.rates.rate(slot, 'packets'),
      })),
    };
    // Once the interface is gone again, waiting for it is the whole story.
    if (this.state === 'waiting' && this.notCounting?.isError && interfaceExists(this.spec.ifname)) stats.error = this.notCounting.message;
    return stats;
  }

  rulesInfo(): InstanceRules {
    const info = {
      interface: this.spec.ifname,
      prefilter: this.spec.prefilter,
      kernel_filter: this.capture?.kernelFilter ?? '',
      snaplen: this.capture?.snapLength ?? 0,
    };
    if (!this.capture) {
      // Not compiled before the interface exists (its MAC and link type are unknown).
      const rules = expandRules(this.spec.rules, this.spec.mac ?? MAC_PLACEHOLDER);
      return { ...info, rules: rules.map((rule) => ({ id: rule.id, expression: rule.expr, engine: 'waiting' })) };
    }
    return {
      ...info,
      rules: this.capture.plans.map(({ rule, plan }) => plan.engine === 'javascript'
        ? { id: rule.id, expression: rule.expr, engine: 'javascript' }
        : { id: rule.id, expression: rule.expr, engine: 'libpcap', reason: plan.reason }),
    };
  }

  private expand(spec: ServedSpec): readonly Rule[] | undefined {
    const mac = spec.mac ?? interfaceMac(spec.ifname);
    this.attachedMac = mac;
    return expandShared(spec.rules, mac, this.options.checker);
  }

  /** Returns the error instead of acting on it when the capture cannot be opened. */
  private attach(donor?: CaptureSet): unknown {
    const { spec } = this;
    let capture: CaptureSet;
    try {
      const rules = this.expand(spec) ?? [];
      capture = new CaptureSet({
        name: spec.name, prefilter: spec.prefilter, rules,
        source: { kind: 'live', ifname: spec.ifname, bufferSize: spec.bufferSize },
      }, this.counters, true);
      capture.open(this.options.checker, donor);
    } catch (err) {
      return err;
    }
    this.notCounting = undefined;
    this.capture = capture;
    this.state = 'running';
    capture.startLive((why) => this.lost(why));
    this.openSocket();
    collectGarbageSoon();
    this.options.log(`${spec.name}: counting ${spec.rules.length} rules on ${spec.ifname}`);
    const ownHandles = capture.handles().length - (capture.sharesCapture() ? 1 : 0);
    if (ownHandles >= OWN_HANDLES_WARNING) {
      this.options.log(`${spec.name}: warning: ${ownHandles} rules need a libpcap capture of their own `
        + `(the kernel runs each of their filters on every packet, each holds a ${spec.bufferSize}-byte buffer); see --check`);
    }
    return undefined;
  }

  /**
   * Without hot-plug fatal; otherwise the instance keeps waiting, and says so
   * once. `isError` false: a normal wait (logged, not shown as an error in stats).
   */
  private reportAttachError(err: unknown, isError = true): void {
    if (!this.options.hotplug) return this.options.onFatal(err);
    const message = messageOf(err);
    if (this.notCounting?.message === message && this.notCounting.isError === isError) return;
    this.options.log(`${this.spec.name}: ${isError ? 'not started: ' : ''}${message}`);
    this.notCounting = { message, isError };
  }

  private lost(why: string): void {
    if (!this.capture) return;
    this.detach();
    const message = interfaceExists(this.spec.ifname) ? `${this.spec.ifname}: ${why}` : `${this.spec.ifname}: interface vanished`;
    if (!this.options.hotplug) return this.options.onFatal(new Error(`${message}, capture stopped`));
    this.options.log(`${this.spec.name}: ${message}; waiting for it (counters kept)`);
  }

  private detach(): void {
    if (this.capture) collectGarbageSoon();
    this.capture?.close();
    this.capture = undefined;
    this.state = 'waiting';
  }
}
