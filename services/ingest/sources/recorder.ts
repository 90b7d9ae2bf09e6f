/**
 * The feed recorder: one JSON line per raw exchange message, `{"src","recvTs","raw"}`, appended
 * through a write stream. Recordings are what the replay source and the normaliser fixtures read.
 */
import fs from 'node:fs';

/** One recorded raw message. */
export interface RecordLine {
  src: string;
  recvTs: number;
  raw: string;
}

/** Options of `createRecorder`. */
export interface RecorderOptions {
  file: string;
  /** Start a fresh file instead of appending (default: append). */
  truncate?: boolean;
  /**
   * Drop (and count) lines while this many bytes wait to reach the disk, so a stalled disk costs
   * lost recording rather than the ingest process's memory. Default 8 MiB.
   */
  maxBufferBytes?: number;
  /** Told about the first write error; later lines are dropped. */
  onError?: (err: Error) => void;
}

/** Counters for metrics. */
export interface RecorderStats {
  /** Lines handed to the write stream (a later disk error is reported through `onError`/`close`). */
  written: number;
  /** Lines refused: after close, after a write error, or while the buffer was full. */
  dropped: number;
}

/** An open recording. */
export interface Recorder {
  /** An `onRaw` hook for one source: pass it to the source factory's `onRaw`. */
  hook(src: string): (raw: string, recvTs: number) => void;
  write(line: RecordLine): void;
  stats(): RecorderStats;
  /** Flush and close; rejects with the write error if the recording failed. Idempotent. */
  close(): Promise<void>;
}

/** Open `file` for recording. Writes are buffered by the stream: no synchronous I/O per message. */
export function createRecorder(o: RecorderOptions): Recorder {
  const stream = fs.createWriteStream(o.file, { flags: o.truncate ? 'w' : 'a' });
  const maxBuffer = o.maxBufferBytes ?? 8 * 1024 * 1024;
  const stats: RecorderStats = { written: 0, dropped: 0 };
  let failure: Error | undefined;
  let closing: Promise<void> | undefined;

  stream.on('error', (err) => {
    if (failure) return;
    failure = err;
    o.onError?.(err);
  });

  const write = (line: RecordLine): void => {
    if (failure || closing || stream.writableLength > maxBuffer) {
      stats.dropped++;
      return;
    }
    // Fixed key order keeps recordings diffable; JSON.stringify escapes the raw frame safely.
    stream.write(`${JSON.stringify({ src: line.src, recvTs: line.recvTs, raw: line.raw })}\n`);
    stats.written++;
  };

  return {
    hook: (src) => (raw, recvTs) => write({ src, recvTs, raw }),
    write,
    stats: () => ({ ...stats }),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const done = (): void => (failure ? reject(failure) : resolve());
        if (stream.closed) return done();
        stream.once('close', done);
        if (!stream.writableEnded && !stream.destroyed) stream.end();
      });
      return closing;
    },
  };
}
