/**
 * The JSON shapes every output (ubus, metrics, LuCI) reads. Outputs only read
 * snapshots of these; none of them touches a capture.
 */

/**
 * How a rule is evaluated: by the compiled JavaScript matcher, or by its own
 * libpcap handle; 'waiting' until the instance's interface exists.
 */
export type RuleEngine = 'javascript' | 'libpcap' | 'waiting';

export interface RuleStats {
  id: string;
  bytes: number;
  packets: number;
  /** Average over the last few seconds (see counters.ts). */
  bytes_per_second: number;
  packets_per_second: number;
}

export interface DropStats {
  /** Sums over the instance's capture handles (pcap_stats). */
  received: number;
  dropped: number;
  ifdropped: number;
}

export type InstanceState = 'running' | 'waiting';

export interface InstanceStats {
  interface: string;
  prefilter: string;
  state: InstanceState;
  socket: string;
  drops: DropStats;
  rules: RuleStats[];
  /**
   * Why the instance is not counting although its interface exists (libpcap
   * could not open it or refused a rule on it); absent while all is well.
   */
  error?: string;
}

/** `ubus call bpfcountd stats`: instance name -> its stats. */
export type StatsReply = Record<string, InstanceStats>;

export interface RuleInfo {
  id: string;
  expression: string;
  engine: RuleEngine;
  /** Why a rule runs on libpcap instead of the JavaScript engine. */
  reason?: string;
}

export interface InstanceRules {
  interface: string;
  prefilter: string;
  /** The filter installed in the kernel for the shared capture ('' = none). */
  kernel_filter: string;
  snaplen: number;
  rules: RuleInfo[];
}

/** `ubus call bpfcountd rules`: instance name -> its rules. */
export type RulesReply = Record<string, InstanceRules>;

/** `ubus call bpfcountd check`: judges rule lines before they are saved. */
export interface CheckRequest {
  /** `id;expression` lines in filter-file order; absent: check the saved configuration instead. */
  rules?: string[];
  /** The interface the rules are meant for: its link type and MAC ($MAC); Ethernet when it does not exist. */
  ifname?: string;
  prefilter?: string;
}

export interface Verdict {
  ok: boolean;
  /** The refusal, as the daemon would log it. */
  error?: string;
}

export interface RuleVerdict extends Verdict {
  /** '' when the line has no id. */
  id: string;
  /** The daemon's own parser's message with its position, when it refuses the rule too. */
  detail?: string;
  /** How an accepted rule would be evaluated, and why on libpcap. */
  engine?: 'javascript' | 'libpcap';
  reason?: string;
}

export interface CheckReply {
  /** One verdict per requested line, in order. */
  rules?: RuleVerdict[];
  prefilter?: Verdict;
  /** Only without `rules`: the saved configuration, read and checked as a reload would. */
  config?: Verdict;
}

/** What the daemon offers to outputs such as the ubus object. */
export interface DaemonControl {
  /** Throws UnknownInstanceError when `instance` names no instance. */
  stats(instance?: string): StatsReply;
  rules(instance?: string): RulesReply;
  /** Same as SIGHUP: re-read the configuration, keep counters of unchanged rules. */
  reload(): void;
  /** Changes nothing. */
  check(request: CheckRequest): CheckReply;
}

export class UnknownInstanceError extends Error {
  constructor(readonly instance: string) {
    super(`no instance named '${instance}'`);
  }
}
