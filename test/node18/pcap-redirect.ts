/**
 * Preloaded (node --require) by test/node18/run.sh into every Node 18 process:
 * sends each `require('pcap...')` to build/node18/node_modules, where
 * test/node18/setup.sh built the addon for Node 18's ABI.
 *
 * Why a hook: NODE_PATH is only consulted after the node_modules folders above
 * the requiring file, and from dist/ or build/ those reach the project's
 * node_modules/pcap first, whose addon is built for the system Node (20).
 */
import Module from 'node:module';
import { join } from 'node:path';

/** Node's internal resolver (not in @types/node), stable since Node 0.x. */
interface ResolvingModule {
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
}

/**
 * run.sh names the folder (it runs a private copy of this file, which
 * ./build.sh cannot delete mid-run); else build/test/node18 -> repo root.
 */
export const node18Modules = process.env.BPFCOUNTD_NODE18_MODULES ??
  join(__dirname, '..', '..', '..', 'build', 'node18', 'node_modules');

/** 'pcap' or 'pcap/<sub path>' become an absolute path into node18Modules. */
export function redirectedRequest(request: string): string {
  return request === 'pcap' || request.startsWith('pcap/') ? join(node18Modules, request) : request;
}

const resolver = Module as unknown as ResolvingModule;
const resolveOriginal = resolver._resolveFilename;
resolver._resolveFilename = function resolveNode18Pcap(request, parent, isMain, options) {
  return resolveOriginal.call(this, redirectedRequest(request), parent, isMain, options);
};
