/**
 * A minimal HTTP/1.1 keep-alive client for the open-loop generator: a fixed pool of connections,
 * one request in flight on each (no pipelining, as browsers), a FIFO of requests waiting for a free
 * connection. Node's http.request cost the generator ~300 µs of CPU per request, on the same two
 * cores as the system it measures; this one writes a prepared request string and parses only the
 * status line, Content-Length (or chunked) and the body.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  status: number;
  body: string;
}

export interface PoolOptions {
  url: string;
  connections: number;
  /** For https: the certificate trusted as the CA (verified). */
  ca?: string;
}

interface Job {
  head: string;
  body: string;
  done: (err: Error | undefined, reply?: Reply) => void;
}

interface Conn {
  socket: net.Socket;
  job: Job | undefined;
  buf: Buffer;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export function createPool(opts: PoolOptions) {
  const { hostname, port, protocol } = new URL(opts.url);
  const secure = protocol === 'https:';
  const portNumber = Number(port) || (secure ? 443 : 80);
  const hostHeader = `${hostname}:${portNumber}`;
  const queue: Job[] = [];
  let queued = 0; // index of the next job in `queue` (shifted in bulk, not per job)
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  let closed = false;

  const connect = (): void => {
    const socket = secure
      ? tls.connect({ host: hostname, port: portNumber, ALPNProtocols: ['http/1.1'], ...(opts.ca ? { ca: opts.ca } : {}) })
      : net.connect({ host: hostname, port: portNumber });
    socket.setNoDelay(true);
    const conn: Conn = { socket, job: undefined, buf: Buffer.alloc(0) };
    all.add(conn);
    socket.once(secure ? 'secureConnect' : 'connect', () => release(conn));
    socket.on('data', (chunk: Buffer) => onData(conn, chunk));
    const lost = (err?: Error) => {
      all.delete(conn);
      const job = conn.job;
      conn.job = undefined;
      const at = idle.indexOf(conn);
      if (at >= 0) idle.splice(at, 1);
      job?.done(err ?? new Error('connection closed'));
      if (!closed) setTimeout(connect, 10);
    };
    socket.once('error', (err) => socket.destroy(err));
    socket.once('close', () => lost());
  };

  /** The connection is free: give it the oldest waiting job, or park it. */
  const release = (conn: Conn): void => {
    if (queued < queue.length) {
      const job = queue[queued++] as Job;
      if (queued > 1024) {
        queue.splice(0, queued);
        queued = 0;
      }
      conn.job = job;
      conn.socket.write(job.head + job.body);
    } else idle.push(conn);
  };

  const onData = (conn: Conn, chunk: Buffer): void => {
    conn.buf = conn.buf.length ? Buffer.concat([conn.buf, chunk]) : chunk;
    let reply: ReturnType<typeof parse>;
    try {
      reply = parse(conn.buf);
    } catch (err) {
      conn.socket.destroy(err as Error);
      return;
    }
    if (!reply) return;
    conn.buf = Buffer.alloc(0);
    const job = conn.job;
    conn.job = undefined;
    job?.done(undefined, { status: reply.status, body: reply.body });
    if (reply.close) conn.socket.destroy();
    else release(conn);
  };

  for (let i = 0; i < opts.connections; i++) connect();

  return {
    /** POST `body` to `path` with these headers (one string: `Name: value\r\n` lines). */
    post(path: string, headerLines: string, body: string, done: Job['done']): void {
      const head = `POST ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n${headerLines}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      const job = { head, body, done };
      const conn = idle.pop();
      if (conn) {
        conn.job = job;
        conn.socket.write(head + body);
      } else queue.push(job);
    },
    close(): void {
      closed = true;
      for (const c of all) c.socket.destroy();
    },
  };
}

/** A complete response at the start of `buf`, or undefined while more bytes are needed. */
export function parse(buf: Buffer): { status: number; body: string; close: boolean } | undefined {
  const end = buf.indexOf(HEADER_END);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const lower = head.toLowerCase();
  const close = /\r\nconnection:\s*close/.test(lower);
  const start = end + 4;
  const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  if (length) {
    const n = Number(length[1]);
    if (buf.length < start + n) return undefined;
    return { status, body: buf.toString('utf8', start, start + n), close };
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      const dataStart = lineEnd + 2;
      if (buf.length < dataStart + size + 2) return undefined;
      if (size === 0) return { status, body: Buffer.concat(parts).toString('utf8'), close };
      parts.push(buf.subarray(dataStart, dataStart + size));
      at = dataStart + size + 2;
    }
  }
  // No length: the body ends with the connection (HTTP/1.0 style); not used by nginx or Node here.
  if (status === 204 || status === 304) return { status, body: '', close };
  throw new Error(`response without Content-Length or chunked encoding (status ${status})`);
}
