/**
 * Open-loop load generator (its own process): POST /api/bets on a fixed schedule — request i is due
 * at t0 + i/rate whether or not earlier ones have been answered — over keep-alive connections, and
 * one socket.io client per player on the real realtime service, so the same clock times the 202
 * and the `bet:confirmed` of every bet.
 *
 * Latencies are taken from the moment a request was DUE, not when it happened to leave: if the
 * generator or the connection pool falls behind, that delay counts against the system (no
 * coordinated omission). The send lag itself is reported so a slow generator is visible.
 *
 * A warm-up at the same rate comes first (`warmupSeconds`): its taps are sent, answered, confirmed
 * and accounted for like the others, but left out of every figure — the 200 socket.io clients and
 * the connections have only just been opened, and the first few hundred milliseconds of a fresh
 * generator measured its own start more than the system (bench/README.md). `window` is printed
 * WINDOW_LEAD_MS before the first measured tap is due (still in the warm-up): the bench takes its
 * opening readings then (metric scrapes of every service, Redis INFO, a row count), so that they
 * load the machine during warm-up taps rather than the first measured ones; its CPU and pause
 * windows cover the measured span and the lead, at the same rate. `started` is printed when the
 * first measured tap is due.
 *
 * Usage: BENCH_OPEN_CONFIG=<config.json> node dist/bench/open-loop.js; prints progress lines and writes the result
 * JSON to the file named in the config.
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { summarise, type Summary } from './stats.js';
import { createPool } from './http-client.js';

export interface OpenLoopConfig {
  apiUrl: string;
  realtimeUrl: string;
  players: { address: string; token: string }[];
  quoteId: string;
  cells: { row: number; col: number }[];
  stake: number;
  rate: number;
  /** Measured seconds, after `warmupSeconds` at the same rate. */
  seconds: number;
  warmupSeconds?: number;
  connections: number;
  /** Accepted bet ids, one a line (the bench checks every one of them is in SQLite). */
  idsFile: string;
  resultFile: string;
  /**
   * With https URLs (the edge phase, through nginx): the certificate to trust as the CA (verified,
   * not rejectUnauthorized: false).
   */
  caFile?: string;
  /** Send `Idempotency-Key: <run>-<i>` with each tap. */
  idempotencyKeys?: boolean;
}

/** The measured taps only (the warm-up's are in the ids file and the accounting, not here). */
export interface OpenLoopResult {
  due: number;
  sent: number;
  responses: number;
  status: Record<string, number>;
  socketErrors: number;
  sendSeconds: number;
  accepted: number;
  acceptMs: Summary;
  confirmMs: Summary;
  /** From the 202 to the confirmation: the writer's share of the wait. */
  afterAcceptMs: Summary;
  /** From the API's placement to the start of the writer batch that committed it (the bet's placedAt → committedAt, both the services' clocks). */
  queuedMs: Summary;
  /** From that batch's start to the confirmation heard here (committedAt → now): transaction, post-commit, realtime, delivery. */
  deliveredMs: Summary;
  confirmed: number;
  rejectedEvents: number;
  /** Accepted (202) but no bet:confirmed/bet:rejected heard before the bench stopped waiting. */
  unconfirmed: number;
  lagMs: Summary;
  /** The generator's own event-loop delay while sending (beyond the sampling interval): it delays every reading it takes. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/**
 * How long before the first measured tap the bench is told to open its windows. Taken at the first
 * measured tap, its opening readings (four metric scrapes, Redis INFO, a COUNT over the bets) held
 * up the services for tens of milliseconds — writer batches of 50–95 entries with 6–11 ms commits
 * right after — and the taps of those first 50–100 ms were 40 % and 60 % (two runs) of the
 * confirmations over the half-rate p99.
 */
const WINDOW_LEAD_MS = 500;
/** Sampling interval of the generator's event-loop delay histogram, ms (taken off each figure, as for the services). */
const LOOP_RESOLUTION_MS = 1;
/** A confirmation (or rejection) heard on a player's socket, and the writer-path split it carried. */
interface Heard {
  at: number;
  kind: 'confirmed' | 'rejected';
  queuedMs?: number;
  deliveredMs?: number;
}

const log = (s: string) => process.stdout.write(`BENCH_OPEN ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const cfg = JSON.parse(fs.readFileSync(process.env.BENCH_OPEN_CONFIG as string, 'utf8')) as OpenLoopConfig;
  // Taps [0, warm) are the warm-up; [warm, total) are measured.
  const warm = Math.round(cfg.rate * (cfg.warmupSeconds ?? 0));
  const total = warm + Math.round(cfg.rate * cfg.seconds);
  const due = new Float64Array(total);
  const accept = new Float64Array(total).fill(Number.NaN);
  const confirm = new Float64Array(total).fill(Number.NaN);
  const lag = new Float64Array(total);
  const status: Record<string, number> = {};
  const acceptedIds: string[] = [];
  // A confirmation can beat the 202 to the client: keep whichever side arrives first.
  const waiting = new Map<string, number>();
  const ca = cfg.caFile ? fs.readFileSync(cfg.caFile, 'utf8') : undefined;
  const early = new Map<string, Heard>();
  let responses = 0;
  let socketErrors = 0;
  let rejectedEvents = 0;
  let confirmed = 0;
  let accepted = 0;

  const queued: number[] = [];
  const delivered: number[] = [];
  /** Tap i's confirmation, heard at `heard.at`: counted once both sides are known (and only if measured). */
  const settle = (i: number, heard: Heard) => {
    if (i < warm) return;
    confirm[i] = heard.at - (due[i] as number);
    confirmed += 1;
    if (heard.kind === 'rejected') rejectedEvents += 1;
    if (heard.queuedMs !== undefined && heard.deliveredMs !== undefined) {
      queued.push(heard.queuedMs);
      delivered.push(heard.deliveredMs);
    }
  };
  const onEvent = (kind: Heard['kind']) => (bet: { id: string; placedAt?: number; committedAt?: number | null }) => {
    const heard: Heard = { at: performance.now(), kind };
    // Same machine, same clock: the split of the writer path by the bet's own timestamps (ms).
    if (typeof bet.placedAt === 'number' && typeof bet.committedAt === 'number') {
      heard.queuedMs = bet.committedAt - bet.placedAt;
      heard.deliveredMs = Date.now() - bet.committedAt;
    }
    const i = waiting.get(bet.id);
    if (i === undefined) return void early.set(bet.id, heard);
    waiting.delete(bet.id);
    settle(i, heard);
  };
  const sockets: Socket[] = cfg.players.map((p) => {
    const s = io(cfg.realtimeUrl, { transports: ['websocket'], auth: { token: p.token }, reconnectionDelay: 100, ...(ca ? { ca } : {}) });
    s.on('bet:confirmed', onEvent('confirmed'));
    s.on('bet:rejected', onEvent('rejected'));
    return s;
  });
  await Promise.all(sockets.map((s) => new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('a socket.io client did not connect within 20 s')), 20_000);
    s.once('connect', () => (clearTimeout(t), resolve()));
  })));
  log(`connected ${sockets.length} sockets`);

  // HTTP/1.1 keep-alive in both cases (as browsers without h2 to this origin; nginx also serves h2).
  const pool = createPool({ url: cfg.apiUrl, connections: cfg.connections, ...(ca ? { ca } : {}) });
  const headers = cfg.players.map((p) => `Content-Type: application/json\r\nAuthorization: Bearer ${p.token}\r\n`);
  let inFlight = 0;
  const runTag = `soak${Date.now().toString(36)}`;

  const send = (i: number) => {
    lag[i] = performance.now() - (due[i] as number);
    const c = cfg.cells[i % cfg.cells.length] as { row: number; col: number };
    const body = `{"quoteId":"${cfg.quoteId}","row":${c.row},"col":${c.col},"stake":${cfg.stake}}`;
    inFlight += 1;
    const key = cfg.idempotencyKeys ? `Idempotency-Key: ${runTag}-${i}\r\n` : '';
    pool.post('/api/bets', headers[i % headers.length] + key, body, (err, res) => {
      const at = performance.now();
      inFlight -= 1;
      const measured = i >= warm;
      if (err || !res) {
        if (measured) socketErrors += 1;
        return;
      }
      if (measured) {
        responses += 1;
        const code = String(res.status);
        status[code] = (status[code] ?? 0) + 1;
      }
      if (res.status !== 202) return;
      if (measured) {
        accept[i] = at - (due[i] as number);
        accepted += 1;
      }
      const id = (JSON.parse(res.body) as { bet: { id: string } }).bet.id;
      acceptedIds.push(id);
      const heard = early.get(id);
      if (heard === undefined) return void waiting.set(id, i);
      early.delete(id);
      settle(i, heard);
    });
  };

  // The schedule: a 1 ms timer sends everything that has come due (a busy loop would steal a core).
  const interval = 1000 / cfg.rate;
  const t0 = performance.now() + 20;
  for (let i = 0; i < total; i++) due[i] = t0 + i * interval;
  const measuredFrom = t0 + warm * interval;
  if (warm > 0) log(`warming up for ${cfg.warmupSeconds} s`);
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  let next = 0;
  // Without a warm-up there is no lead: the windows open at the first tap, as it is sent.
  const windowAt = Math.max(0, warm - Math.round((cfg.rate * WINDOW_LEAD_MS) / 1000));
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && (due[next] as number) <= now) {
        if (next === windowAt) log('window');
        // The first measured tap is due: the generator's loop delay and the bench's windows start here.
        if (next === warm) {
          loop.enable();
          log('started');
        }
        send(next++);
      }
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  const sendSeconds = (performance.now() - measuredFrom) / 1000;
  loop.disable();
  log('sent');

  for (const deadline = Date.now() + 30_000; inFlight > 0 && Date.now() < deadline; ) await sleep(20);
  for (const deadline = Date.now() + 20_000; waiting.size > 0 && Date.now() < deadline; ) await sleep(20);

  const measuredPart = (a: Float64Array) => a.subarray(warm);
  const result: OpenLoopResult = {
    due: total - warm,
    sent: next - warm,
    responses,
    status,
    socketErrors,
    sendSeconds,
    accepted,
    acceptMs: summarise(measuredPart(accept)),
    confirmMs: summarise(measuredPart(confirm)),
    afterAcceptMs: summarise(measuredPart(confirm.map((c, i) => c - (accept[i] as number)))),
    queuedMs: summarise(queued),
    deliveredMs: summarise(delivered),
    confirmed,
    rejectedEvents,
    unconfirmed: waiting.size,
    lagMs: summarise(measuredPart(lag)),
    loopDelayP99Ms: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
    loopDelayMaxMs: Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS),
  };
  fs.writeFileSync(cfg.idsFile, acceptedIds.join('\n'));
  fs.writeFileSync(cfg.resultFile, JSON.stringify(result));
  for (const s of sockets) s.disconnect();
  pool.close();
  log('done');
}

main().catch((err: unknown) => {
  process.stderr.write(`open-loop: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
