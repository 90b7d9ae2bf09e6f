/**
 * A burst of taps against a real API process, by a pool of concurrent clients, that survives the
 * API, the writer or Redis going away mid-burst. Every answer is recorded. A tap with an
 * Idempotency-Key is retried (same key) until it gets a definitive answer, as a careful client
 * would; a tap without one is retried only when the request provably never reached the API
 * (connection refused), so the record of what was accepted stays exact.
 */
import type { RigPlayer } from './crash-rig.js';

export interface Tap {
  index: number;
  player: number;
  stake: number;
  row: number;
  col: number;
  key?: string;
}

export interface Accepted {
  tap: number;
  betId: string;
  player: number;
  address: string;
  stake: number;
  replayed: boolean;
}

export interface BurstResult {
  accepted: Accepted[];
  /** Final answers other than 202, by `status code`. */
  refused: Record<string, number>;
  /** Taps whose fate the client cannot know (answer lost, or a 5xx without a key to retry with). */
  ambiguous: number;
  /** Taps given up at the deadline (a keyed tap must never end here). */
  givenUp: Tap[];
  /** Answers that were not `{error: {code}}` JSON, or requests that hung. */
  malformed: string[];
  hangs: number;
  maxLatencyMs: number;
  /** 5xx answers seen (including retried ones), by code. */
  errors5xx: Record<string, number>;
  attempts: number;
}

export interface BurstOptions {
  base: string;
  quoteId: string;
  players: RigPlayer[];
  taps: Tap[];
  concurrency: number;
  /** A request that takes longer than this counts as a hang. */
  hangMs: number;
  /** Stop retrying after this many ms from the start. */
  deadlineMs: number;
  /** Called after every 202 with the number of 202s so far (the crash trigger). */
  onAccepted?: (count: number) => void;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function causeCode(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'TIMEOUT';
  return e?.cause?.code ?? e?.cause?.name ?? e?.name ?? 'unknown';
}

export async function runBurst(o: BurstOptions): Promise<BurstResult> {
  const r: BurstResult = { accepted: [], refused: {}, ambiguous: 0, givenUp: [], malformed: [], hangs: 0, maxLatencyMs: 0, errors5xx: {}, attempts: 0 };
  const started = Date.now();
  let next = 0;

  const attempt = async (tap: Tap): Promise<'done' | 'retry'> => {
    const p = o.players[tap.player] as RigPlayer;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...p.auth };
    if (tap.key) headers['idempotency-key'] = tap.key;
    const t0 = Date.now();
    r.attempts += 1;
    let status: number;
    let text: string;
    let replayed = false;
    try {
      const res = await fetch(`${o.base}/api/bets`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ quoteId: o.quoteId, row: tap.row, col: tap.col, stake: tap.stake }),
        signal: AbortSignal.timeout(o.hangMs),
      });
      status = res.status;
      replayed = res.headers.get('idempotent-replayed') === 'true';
      text = await res.text();
    } catch (err) {
      const code = causeCode(err);
      if (code === 'TIMEOUT') r.hangs += 1;
      // Refused: the request never reached a server, so repeating it is safe even without a key.
      if (code === 'ECONNREFUSED' || tap.key) return 'retry';
      r.ambiguous += 1;
      return 'done';
    } finally {
      r.maxLatencyMs = Math.max(r.maxLatencyMs, Date.now() - t0);
    }
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      r.malformed.push(`${status} ${text.slice(0, 120)}`);
      return 'done';
    }
    if (status === 202) {
      r.accepted.push({ tap: tap.index, betId: body.bet.id, player: tap.player, address: p.address, stake: tap.stake, replayed });
      o.onAccepted?.(r.accepted.length);
      return 'done';
    }
    if (typeof body?.error?.code !== 'string') {
      r.malformed.push(`${status} ${text.slice(0, 120)}`);
      return 'done';
    }
    if (status >= 500) {
      r.errors5xx[body.error.code] = (r.errors5xx[body.error.code] ?? 0) + 1;
      if (tap.key) return 'retry';
      r.ambiguous += 1;
    }
    const k = `${status} ${body.error.code}`;
    r.refused[k] = (r.refused[k] ?? 0) + 1;
    return 'done';
  };

  const worker = async () => {
    for (;;) {
      const tap = o.taps[next++];
      if (!tap) return;
      for (;;) {
        if ((await attempt(tap)) === 'done') break;
        if (Date.now() - started > o.deadlineMs) {
          r.givenUp.push(tap);
          break;
        }
        // Back off while a component is away, so the burst outlives the outage.
        await pause(100);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return r;
}

/** Taps spread over players and cells; every other tap carries an Idempotency-Key. */
export function planTaps(opts: { count: number; players: number; cells: { row: number; col: number }[]; stakes: number[]; tag: string }): Tap[] {
  return Array.from({ length: opts.count }, (_, i) => {
    const cell = opts.cells[i % opts.cells.length] as { row: number; col: number };
    return {
      index: i,
      player: i % opts.players,
      stake: opts.stakes[Math.floor(i / opts.players) % opts.stakes.length] as number,
      row: cell.row,
      col: cell.col,
      ...(i % 2 === 0 ? { key: `${opts.tag}-${i.toString().padStart(6, '0')}` } : {}),
    };
  });
}
