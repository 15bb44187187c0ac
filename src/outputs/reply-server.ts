/**
 * A unix-socket server whose every client is sent one text and then closed: all that the
 * counter sockets' protocol needs.
 *
 * Why not node:net: loading it costs seconds on a router CPU (see net-on-demand.ts). This
 * server talks to libuv's pipe handle directly, the one net itself wraps
 * (`process.binding('pipe_wrap')`, in Node 18 and 20). Where that handle is missing or refuses
 * (a bind error), net takes over, so errors read as net's and a future Node without the
 * binding still serves.
 */
import { loadNet } from '../net-on-demand';

export interface ReplyServer {
  /** Stops listening; libuv removes the socket file it listened on. */
  close(): void;
  /** Lets the process exit while listening. */
  unref(): void;
}

/** A client that connects and never reads is dropped after this long. */
const CLIENT_TIMEOUT_MS = 10_000;

/** libuv's pipe handle as pipe_wrap exposes it (Node 18 and 20). */
interface PipeHandle {
  bind(path: string): number;
  listen(backlog: number): number;
  onconnection: ((status: number, client: ClientHandle | undefined) => void) | null;
  close(): void;
  unref(): void;
}

interface ClientHandle {
  writeUtf8String(request: WriteRequest, text: string): number;
  close(): void;
}

interface WriteRequest {
  handle?: ClientHandle;
  oncomplete?: (status: number) => void;
}

interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  constants: { SERVER: number };
}

interface StreamWrap {
  WriteWrap: new () => WriteRequest;
  /** Set by each write: whether it is still pending (else all of it is in the kernel's buffer). */
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/** As net listens by default. */
const BACKLOG = 511;

type Bindings = { pipe: PipeWrap; stream: StreamWrap } | undefined;
/** Looked up once: every section's socket (and each re-served one) uses them. */
let bindings: Bindings | null = null;

function pipeBindings(): Bindings {
  if (bindings === null) bindings = lookUpBindings();
  return bindings;
}

/** The bindings, or undefined where this Node has none of that shape. */
function lookUpBindings(): Bindings {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding;
    const pipe = binding('pipe_wrap') as Partial<PipeWrap>;
    const stream = binding('stream_wrap') as Partial<StreamWrap>;
    if (typeof pipe.Pipe !== 'function' || typeof pipe.constants?.SERVER !== 'number') return undefined;
    if (typeof stream.WriteWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array)) return undefined;
    if (typeof stream.kLastWriteWasAsync !== 'number') return undefined;
    return { pipe: pipe as PipeWrap, stream: stream as StreamWrap };
  } catch {
    return undefined;
  }
}

export interface ReplyOptions {
  /** node:net even where the pipe handle is there (tests compare the two). */
  useNet?: boolean;
  clientTimeoutMs?: number;
}

/** Serves `reply()` on `path` (which must not exist). Rejects with net's error when it cannot. */
export async function listenReplying(path: string, reply: () => string, options: ReplyOptions = {}): Promise<ReplyServer> {
  const timeoutMs = options.clientTimeoutMs ?? CLIENT_TIMEOUT_MS;
  const found = options.useNet ? undefined : pipeBindings();
  if (found) {
    const server = new found.pipe.Pipe(found.pipe.constants.SERVER);
    if (server.bind(path) === 0 && server.listen(BACKLOG) === 0) {
      server.onconnection = (status, client) => {
        if (status === 0 && client) sendAndClose(client, reply(), found.stream, timeoutMs);
      };
      return server;
    }
    server.close();
  }
  return listenWithNet(path, reply, timeoutMs);
}

function sendAndClose(client: ClientHandle, text: string, stream: StreamWrap, timeoutMs: number): void {
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  const close = (): void => {
    if (!open) return;
    open = false;
    clearTimeout(timer);
    client.close();
  };
  const request = new stream.WriteWrap();
  request.handle = client;
  request.oncomplete = close;
  if (client.writeUtf8String(request, text) !== 0) return close();
  // Written whole into the kernel's buffer: done. Otherwise oncomplete closes, or the timer.
  if (stream.streamBaseState[stream.kLastWriteWasAsync] === 0) return close();
  timer = setTimeout(close, timeoutMs);
}

/** node:net, loaded only here (see the file's comment). */
async function listenWithNet(path: string, reply: () => string, timeoutMs: number): Promise<ReplyServer> {
  const { createServer } = loadNet();
  const server = createServer((client) => {
    client.on('error', () => client.destroy());
    client.setTimeout(timeoutMs, () => client.destroy());
    client.end(reply());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
