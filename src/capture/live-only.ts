/**
 * libpcap refuses some primitives on capture files that it accepts on live
 * captures (`inbound`, `outbound`, `ifindex` need kernel metadata); its
 * message then ends in "when reading savefiles".
 */
export function isLiveOnlyRefusal(message: string): boolean {
  return message.includes('when reading savefiles');
}

const KERNEL_METADATA = /(^|[^\w.-])(inbound|outbound|ifindex)($|[^\w.-])/;

/** Whether a filter reads packet metadata (direction, interface) that only the kernel has. */
export function usesKernelMetadata(filter: string): boolean {
  return KERNEL_METADATA.test(filter);
}

/** libpcap refuses a filter its optimizer proves empty; for the daemon that is a rule counting 0. */
export function isRejectsAllRefusal(message: string): boolean {
  return message.includes('expression rejects all packets');
}
