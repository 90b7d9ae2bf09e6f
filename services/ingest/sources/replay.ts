/**
 * Replays a recording through the exchange normalisers on an injectable clock: at the original
 * pacing scaled by `speed`, or as fast as the scheduler allows (`speed: Infinity`).
 */
import fs from 'node:fs/promises';
import type { FeedEvent, PriceSource } from '../../shared/market/tick.js';
import { normaliseBinance } from './binance.js';
import { normaliseCoinbase } from './coinbase.js';
import { normaliseKraken } from './kraken.js';
import { isRecord, type Normaliser } from './normalise.js';
import type { RecordLine } from './recorder.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';

/** The normaliser for each recorded `src`. */
export const EXCHANGE_NORMALISERS: Readonly<Record<string, Normaliser>> = Object.freeze({
  coinbase: normaliseCoinbase,
  binance: normaliseBinance,
  kraken: normaliseKraken,
});

/**
 * Parse recorder output. Lines that are not a well-formed record are skipped: a recorder killed
 * mid-write leaves a torn last line, and that must not make the rest of the recording unreadable.
 */
export function parseRecording(text: string): RecordLine[] {
  const out: RecordLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (isRecord(v) && typeof v.src === 'string' && typeof v.raw === 'string' && typeof v.recvTs === 'number' && Number.isFinite(v.recvTs)) {
      out.push({ src: v.src, recvTs: v.recvTs, raw: v.raw });
    }
  }
  return out;
}

/** Read and parse a recording file. */
export async function loadRecording(file: string): Promise<RecordLine[]> {
  return parseRecording(await fs.readFile(file, 'utf8'));
}

/** Options of `createReplaySource`. */
export interface ReplaySourceOptions {
  /** Name on status events (ticks keep their exchange's name). Default 'replay'. */
  name?: string;
  records: readonly RecordLine[];
  normalisers?: Readonly<Record<string, Normaliser>>;
  /** 1 = recorded pacing, 10 = ten times faster, Infinity = as fast as possible. Default 1. */
  speed?: number;
  /**
   * 'replay' (default) restamps events to the replay clock (keeping each tick's ts-to-recvTs gap),
   * which is what a live consumer needs; 'recorded' emits exactly what the live source emitted.
   */
  timestamps?: 'replay' | 'recorded';
  /** Records delivered per scheduler turn when speed is Infinity. Default 500. */
  batchSize?: number;
  now?: () => number;
  timers?: Timers;
}

/** A replay source; `finished` resolves once every record was delivered (or the source was stopped). */
export interface ReplaySource extends PriceSource {
  readonly finished: Promise<void>;
}

/**
 * Create a replay source. Emits `status connected` at start and `status disconnected` with detail
 * 'end of recording' after the last record.
 */
export function createReplaySource(o: ReplaySourceOptions): ReplaySource {
  const name = o.name ?? 'replay';
  const normalisers = o.normalisers ?? EXCHANGE_NORMALISERS;
  const speed = o.speed ?? 1;
  const restamp = (o.timestamps ?? 'replay') === 'replay';
  const batch = Math.max(1, o.batchSize ?? 500);
  const now = o.now ?? Date.now;
  const timers = o.timers ?? systemTimers;
  const records = o.records;
  if (!(speed > 0)) throw new Error('speed must be positive');
  let timer: TimerHandle | undefined;
  let stopped = false;
  let started = false;
  let finish = (): void => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const eventsOf = (rec: RecordLine): FeedEvent[] => {
    const normalise = normalisers[rec.src];
    if (!normalise) return [];
    let events: FeedEvent[];
    try {
      events = normalise(rec.raw, rec.recvTs);
    } catch {
      return [];
    }
    if (!restamp) return events;
    const at = now();
    const shift = at - rec.recvTs;
    return events.map((e): FeedEvent => {
      if (e.type === 'tick') return { type: 'tick', tick: { ...e.tick, ts: e.tick.ts + shift, recvTs: at } };
      if (e.type === 'heartbeat') return { ...e, recvTs: at };
      return e;
    });
  };

  return {
    name,
    finished,
    start(onEvent) {
      if (started) throw new Error(`${name}: source already started`);
      started = true;
      const t0 = now();
      const first = records[0]?.recvTs ?? 0;
      // When record i falls due on the replay clock.
      const dueAt = (i: number): number => t0 + ((records[i]?.recvTs ?? first) - first) / speed;
      let i = 0;
      const pump = (): void => {
        timer = undefined;
        if (stopped) return;
        const limit = speed === Number.POSITIVE_INFINITY ? i + batch : records.length;
        while (i < records.length && i < limit && (speed === Number.POSITIVE_INFINITY || dueAt(i) <= now())) {
          const rec = records[i++] as RecordLine;
          for (const e of eventsOf(rec)) {
            if (stopped) return;
            onEvent(e);
          }
        }
        if (i >= records.length) {
          onEvent({ type: 'status', source: name, connected: false, detail: 'end of recording' });
          finish();
          return;
        }
        const delay = speed === Number.POSITIVE_INFINITY ? 0 : Math.max(0, Math.ceil(dueAt(i) - now()));
        timer = timers.setTimeout(pump, delay);
      };
      onEvent({ type: 'status', source: name, connected: true, detail: `replaying ${records.length} records` });
      timer = timers.setTimeout(pump, 0);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      finish();
    },
  };
}

/** Load `file` and create a replay source over it. */
export async function replaySourceFromFile(file: string, o: Omit<ReplaySourceOptions, 'records'> = {}): Promise<ReplaySource> {
  return createReplaySource({ ...o, records: await loadRecording(file) });
}
