/** The `--check` report: every rule, its expansion and how it is evaluated. */
import { describeLinkType } from '../filter';
import type { CaptureSet } from './capture-set';

export function describePlan(instance: CaptureSet): string {
  const { spec } = instance;
  const source = spec.source.kind === 'live' ? `interface ${spec.source.ifname}` : `file ${spec.source.path}`;
  let text = `instance ${spec.name}: ${source}, link type ${describeLinkType(instance.linkType)}\n`;
  text += `  prefilter: ${spec.prefilter === '' ? '(none)' : spec.prefilter}\n`;
  if (instance.plans.some((p) => p.plan.engine === 'javascript') && spec.source.kind === 'file') {
    text += `  javascript rules: one pass over the file (${instance.kernelFilterNote})\n`;
  } else if (instance.plans.some((p) => p.plan.engine === 'javascript')) {
    text += `  shared capture: kernel filter ${instance.kernelFilter === '' ? '(none)' : instance.kernelFilter}, snap length ${instance.snapLength}\n`;
    text += `    (${instance.kernelFilterNote})\n`;
  }
  for (const { rule, plan, kernelFilter, warning, note } of instance.plans) {
    text += `  rule ${rule.id}: ${rule.expr}\n`;
    if (plan.engine === 'javascript') {
      text += `    evaluated by: javascript (reads up to ${plan.snapNeeded} bytes)\n`;
    } else {
      text += `    evaluated by: libpcap, own handle (${plan.reason})\n`;
      text += `    kernel filter: ${kernelFilter ?? ''}\n`;
    }
    if (note) text += `    note: ${note}\n`;
    if (warning) text += `    warning: ${warning}\n`;
  }
  // Own handles remain only for kernel metadata (inbound, outbound, ifindex) and what the engine does not cover.
  const own = instance.plans.filter((p) => p.kernelFilter !== undefined);
  text += `  own libpcap handles: ${own.length === 0 ? 'none' : own.map((p) => `${p.rule.id} (${p.plan.engine === 'libpcap' ? p.plan.reason : ''})`).join(', ')}\n`;
  return text;
}
