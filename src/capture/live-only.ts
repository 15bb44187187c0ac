import { hasWord } from '../chars';

/**
 * libpcap refuses some primitives on capture files that it accepts on live
 * captures (`inbound`, `outbound`, `ifindex` need kernel metadata); its
 * message then ends in "when reading savefiles".
 */
export function isLiveOnlyRefusal(message: string): boolean {
  return message.includes('when reading savefiles');
}

/** Whether a filter reads packet metadata (direction, interface) that only the kernel has. */
export function usesKernelMetadata(filter: string): boolean {
  return hasWord(filter, 'inbound') || hasWord(filter, 'outbound') || hasWord(filter, 'ifindex');
}

/** libpcap refuses a filter its optimizer proves empty; for the daemon that is a rule counting 0. */
export function isRejectsAllRefusal(message: string): boolean {
  return message.includes('expression rejects all packets');
}

/**
 * Refusals that may come from libpcap's optimiser alone (the binding always optimises): a filter
 * it proves empty, a divisor it folds to 0. Without the optimiser (the C original, `tcpdump -O`)
 * libpcap accepts such a rule; a divisor that is 0 at run time rejects the packet. The code
 * generator refuses a divisor written as 0 with the same words, which the engine refuses too.
 */
export function isOptimiserRefusal(message: string): boolean {
  return isRejectsAllRefusal(message) || /\b(division|modulus) by zero\b/.test(message);
}
