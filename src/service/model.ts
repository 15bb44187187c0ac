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

/** What the daemon offers to outputs such as the ubus object. */
export interface DaemonControl {
  /** Throws UnknownInstanceError when `instance` names no instance. */
  stats(instance?: string): StatsReply;
  rules(instance?: string): RulesReply;
  /** Same as SIGHUP: re-read the configuration, keep counters of unchanged rules. */
  reload(): void;
}

export class UnknownInstanceError extends Error {
  constructor(readonly instance: string) {
    super(`no instance named '${instance}'`);
  }
}
