/**
 * The `check` method: judges `id;expression` lines the way a reload would,
 * without touching any instance, so that a configuration page can show each
 * refusal next to its rule before anything is saved.
 *
 * libpcap has the last word (a rule the JavaScript engine cannot parse still
 * runs on libpcap); the engine's own parser adds where it stops, which is
 * more precise than libpcap's "syntax error".
 */
import { DLT } from '../capture/binding';
import { isLiveOnlyRefusal, isRejectsAllRefusal } from '../capture/live-only';
import { ConfigError } from '../config/errors';
import { expandRules } from '../config/expand';
import { parseRuleLine, type RuleLine } from '../config/filter-file';
import { planRule } from '../filter';
import { FilterError } from '../filter/errors';
import { parseFilter } from '../filter/parse';
import type { CheckReply, CheckRequest, RuleVerdict, Verdict } from './model';

export interface CheckEnvironment {
  /** libpcap's message, or undefined when it compiles the expression for that link type. */
  libpcap(expr: string, linkType: number): string | undefined;
  linkType(ifname: string): number | undefined;
  mac(ifname: string): string | undefined;
}

/** Stands in for a missing interface's MAC: $MAC rules still get checked. */
const ANY_MAC = '00:00:00:00:00:00';

/** Refusals that only mean "a live capture decides" or "counts nothing": not errors. */
function isRealRefusal(message: string | undefined): message is string {
  return message !== undefined && !isLiveOnlyRefusal(message) && !isRejectsAllRefusal(message);
}

function reasonOf(err: unknown): string {
  if (err instanceof ConfigError) return err.reason;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Where the engine's parser stops in a refused expression (libpcap says only
 * "syntax error"). Positions are given only for the expression as written:
 * after `${id}` or `$MAC` expansion they would point elsewhere.
 */
function syntaxDetail(expr: string, asWritten: boolean): string | undefined {
  try {
    parseFilter(expr);
    return undefined;
  } catch (err) {
    if (!(err instanceof FilterError)) return undefined;
    if (!asWritten || err.pos < 0) return err.message;
    if (err.pos >= expr.length) return `${err.message} at the end of the expression`;
    return `${err.message} at character ${err.pos + 1}: ${expr.slice(err.pos)}`;
  }
}

export function checkRules(request: CheckRequest & { rules: string[] }, env: CheckEnvironment): CheckReply {
  const ifname = request.ifname ?? '';
  // Most interfaces a router counts on are Ethernet; one that does not exist yet is judged as such.
  const linkType = (ifname !== '' ? env.linkType(ifname) : undefined) ?? DLT.EN10MB;
  const mac = (ifname !== '' ? env.mac(ifname) : undefined) ?? ANY_MAC;
  const accepted: RuleLine[] = [];
  const rules = request.rules.map((text, i): RuleVerdict => {
    let line: RuleLine;
    let expr: string;
    try {
      line = parseRuleLine(text, `rule ${i + 1}`);
      // Expanded after the accepted rules before it: `${id}` may name only those.
      const expanded = expandRules([...accepted, line], mac);
      expr = expanded[expanded.length - 1].expr;
    } catch (err) {
      const semicolon = text.indexOf(';');
      return { id: semicolon < 0 ? '' : text.slice(0, semicolon).trim(), ok: false, error: reasonOf(err) };
    }
    const { plan } = planRule({ slot: 0, expr }, linkType);
    const refusal = env.libpcap(expr, linkType);
    if (isRealRefusal(refusal)) {
      const verdict: RuleVerdict = { id: line.id, ok: false, error: refusal };
      const detail = syntaxDetail(expr, expr === line.text);
      if (detail !== undefined && detail !== refusal) verdict.detail = detail;
      return verdict;
    }
    accepted.push(line);
    switch (plan.engine) {
      case 'javascript': return { id: line.id, ok: true, engine: 'javascript' };
      case 'libpcap': return { id: line.id, ok: true, engine: 'libpcap', reason: plan.reason };
      case 'error': return { id: line.id, ok: true, engine: 'libpcap', reason: `JavaScript engine refused it: ${plan.message}` };
    }
  });
  const reply: CheckReply = { rules };
  if (request.prefilter !== undefined && request.prefilter.trim() !== '') {
    const refusal = env.libpcap(request.prefilter, linkType);
    reply.prefilter = isRealRefusal(refusal) ? { ok: false, error: refusal } : { ok: true };
  }
  return reply;
}

/** The saved configuration as a reload reads and checks it; `load` throws its first error. */
export function checkSaved(load: () => void): Verdict {
  try {
    load();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
