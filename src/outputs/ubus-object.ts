/**
 * The `bpfcountd` ubus object: `stats {instance}`, `rules {instance}`,
 * `reload {}` and `check {rules, ifname, prefilter}`, answered from the
 * daemon's DaemonControl.
 *
 * Status codes: an `instance` that is not a string, or `check` arguments of
 * the wrong type -> INVALID_ARGUMENT (2);
 * an instance name the daemon does not have -> NOT_FOUND (4, what ubus also
 * answers for an unknown object); a method that fails otherwise ->
 * UNKNOWN_ERROR (9, logged). Counters are INT64 (they pass 2^32), rates
 * DOUBLE, the snap length INT32.
 */
import { BlobmsgField, BlobmsgType, BlobmsgValue, findField } from '../ubus/blobmsg';
import { DEFAULT_UBUS_SOCKET, MethodReply, UbusMethod, UbusObjectClient, UbusObjectDefinition } from '../ubus/client';
import { Status } from '../ubus/message';
import {
  CheckReply, CheckRequest, DaemonControl, DropStats, InstanceRules, InstanceStats, RuleInfo, RuleStats, RulesReply,
  RuleVerdict, StatsReply, UnknownInstanceError, Verdict,
} from '../service/model';

export const UBUS_OBJECT_NAME = 'bpfcountd';

const str = (value: string): BlobmsgValue => ({ type: 'string', value });
const INT64_MAX = 2n ** 63n - 1n;
/**
 * Counters are integers below 2^53. Whatever else turns up must still print
 * as valid JSON: libubox formats doubles with "%lf", so NaN would become a
 * bare `nan` and break every JSON reader (LuCI, jsonfilter); send 0 instead.
 */
const counter = (value: number): BlobmsgValue => {
  if (!Number.isFinite(value)) return { type: 'int64', value: 0n };
  const n = BigInt(Math.trunc(value));
  return { type: 'int64', value: n > INT64_MAX ? INT64_MAX : n < -INT64_MAX ? -INT64_MAX : n };
};
const rate = (value: number): BlobmsgValue => ({ type: 'double', value: Number.isFinite(value) ? value : 0 });
const table = (fields: BlobmsgField[]): BlobmsgValue => ({ type: 'table', fields });
const field = (name: string, value: BlobmsgValue): BlobmsgField => ({ name, value });

function dropsFields(d: DropStats): BlobmsgField[] {
  return [field('received', counter(d.received)), field('dropped', counter(d.dropped)), field('ifdropped', counter(d.ifdropped))];
}

function ruleStatsValue(r: RuleStats): BlobmsgValue {
  return table([
    field('id', str(r.id)),
    field('bytes', counter(r.bytes)),
    field('packets', counter(r.packets)),
    field('bytes_per_second', rate(r.bytes_per_second)),
    field('packets_per_second', rate(r.packets_per_second)),
  ]);
}

function instanceStatsValue(s: InstanceStats): BlobmsgValue {
  const fields = [
    field('interface', str(s.interface)),
    field('prefilter', str(s.prefilter)),
    field('state', str(s.state)),
    field('socket', str(s.socket)),
    field('drops', table(dropsFields(s.drops))),
    field('rules', { type: 'array', items: s.rules.map(ruleStatsValue) }),
  ];
  if (s.error !== undefined) fields.push(field('error', str(s.error)));
  return table(fields);
}

export function statsToBlobmsg(reply: StatsReply): BlobmsgField[] {
  return Object.entries(reply).map(([name, s]) => field(name, instanceStatsValue(s)));
}

function ruleInfoValue(r: RuleInfo): BlobmsgValue {
  const fields = [field('id', str(r.id)), field('expression', str(r.expression)), field('engine', str(r.engine))];
  if (r.reason !== undefined) fields.push(field('reason', str(r.reason)));
  return table(fields);
}

function instanceRulesValue(r: InstanceRules): BlobmsgValue {
  return table([
    field('interface', str(r.interface)),
    field('prefilter', str(r.prefilter)),
    field('kernel_filter', str(r.kernel_filter)),
    field('snaplen', { type: 'int32', value: r.snaplen }),
    field('rules', { type: 'array', items: r.rules.map(ruleInfoValue) }),
  ]);
}

export function rulesToBlobmsg(reply: RulesReply): BlobmsgField[] {
  return Object.entries(reply).map(([name, r]) => field(name, instanceRulesValue(r)));
}

/** libubox prints an INT8 as JSON true/false (BLOBMSG_TYPE_BOOL is INT8). */
const bool = (value: boolean): BlobmsgValue => ({ type: 'int8', value: value ? 1 : 0 });

function verdictFields(v: Verdict): BlobmsgField[] {
  const fields = [field('ok', bool(v.ok))];
  if (v.error !== undefined) fields.push(field('error', str(v.error)));
  return fields;
}

function ruleVerdictValue(v: RuleVerdict): BlobmsgValue {
  const fields = [field('id', str(v.id)), ...verdictFields(v)];
  if (v.detail !== undefined) fields.push(field('detail', str(v.detail)));
  if (v.engine !== undefined) fields.push(field('engine', str(v.engine)));
  if (v.reason !== undefined) fields.push(field('reason', str(v.reason)));
  return table(fields);
}

export function checkToBlobmsg(reply: CheckReply): BlobmsgField[] {
  const fields: BlobmsgField[] = [];
  if (reply.rules !== undefined) fields.push(field('rules', { type: 'array', items: reply.rules.map(ruleVerdictValue) }));
  if (reply.prefilter !== undefined) fields.push(field('prefilter', table(verdictFields(reply.prefilter))));
  if (reply.config !== undefined) fields.push(field('config', table(verdictFields(reply.config))));
  return fields;
}

/**
 * libpcap compiles each rule in about half a millisecond while the daemon's
 * captures wait: a bound keeps one call from stalling counting for long.
 */
export const MAX_CHECK_RULES = 256;

/** `check`'s arguments: `rules` an array of at most MAX_CHECK_RULES strings, `ifname` and `prefilter` strings, each optional. */
export function checkArgs(args: readonly BlobmsgField[]): CheckRequest | undefined {
  const request: CheckRequest = {};
  const rules = findField(args, 'rules');
  if (rules !== undefined) {
    if (rules.type !== 'array' || rules.items.length > MAX_CHECK_RULES) return undefined;
    const lines: string[] = [];
    for (const item of rules.items) {
      if (item.type !== 'string') return undefined;
      lines.push(item.value);
    }
    request.rules = lines;
  }
  for (const name of ['ifname', 'prefilter'] as const) {
    const v = findField(args, name);
    if (v === undefined) continue;
    if (v.type !== 'string') return undefined;
    request[name] = v.value;
  }
  return request;
}

/** The optional `instance` argument: a string, absent, or invalid. */
function instanceArg(args: readonly BlobmsgField[]): { ok: true; instance?: string } | { ok: false } {
  const v = findField(args, 'instance');
  if (v === undefined) return { ok: true };
  return v.type === 'string' ? { ok: true, instance: v.value } : { ok: false };
}

function perInstance(query: (instance?: string) => BlobmsgField[]): UbusMethod {
  return {
    args: [['instance', BlobmsgType.STRING]],
    handle(args): MethodReply {
      const a = instanceArg(args);
      if (!a.ok) return { status: Status.INVALID_ARGUMENT };
      try {
        return { status: Status.OK, data: query(a.instance) };
      } catch (err) {
        if (err instanceof UnknownInstanceError) return { status: Status.NOT_FOUND };
        throw err; // the client logs it and answers UNKNOWN_ERROR
      }
    },
  };
}

export function bpfcountdObject(control: DaemonControl): UbusObjectDefinition {
  return {
    path: UBUS_OBJECT_NAME,
    methods: [
      ['stats', perInstance((i) => statsToBlobmsg(control.stats(i)))],
      ['rules', perInstance((i) => rulesToBlobmsg(control.rules(i)))],
      // Like the C daemon's SIGHUP: status only, no data.
      ['reload', { args: [], handle: (): MethodReply => { control.reload(); return { status: Status.OK }; } }],
      ['check', {
        args: [['rules', BlobmsgType.ARRAY], ['ifname', BlobmsgType.STRING], ['prefilter', BlobmsgType.STRING]],
        handle(args): MethodReply {
          const request = checkArgs(args);
          if (request === undefined) return { status: Status.INVALID_ARGUMENT };
          return { status: Status.OK, data: checkToBlobmsg(control.check(request)) };
        },
      }],
    ],
  };
}

export interface UbusObjectOptions {
  /** Default /var/run/ubus/ubus.sock. */
  socketPath?: string;
  control: DaemonControl;
  log: (message: string) => void;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/**
 * Registers `bpfcountd` on ubusd and keeps it registered (reconnecting in the
 * background) until close(). Never throws: with no ubusd it only logs once.
 */
export function startUbusObject(opts: UbusObjectOptions): { close(): void } {
  const client = new UbusObjectClient({
    socketPath: opts.socketPath ?? DEFAULT_UBUS_SOCKET,
    object: bpfcountdObject(opts.control),
    log: opts.log,
    retryInitialMs: opts.retryInitialMs,
    retryMaxMs: opts.retryMaxMs,
  });
  client.start();
  return { close: () => client.close() };
}
