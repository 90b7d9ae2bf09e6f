/**
 * The offline default price source: geometric Brownian motion driven by a seeded PRNG, so a demo
 * or load test with the same seed walks the same path every time.
 */
import type { FeedEvent, PriceSource } from '../../shared/market/tick.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';

/** A seeded uniform [0, 1) generator (mulberry32: tiny, fast, and good enough for simulated prices). */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal deviates from a uniform source (Box-Muller; the second deviate of each pair is kept for the next call). */
export function createGaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const u1 = 1 - random(); // (0, 1]: log(0) would be -Infinity
    const u2 = random();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

/** Parameters of a GBM path. */
export interface GbmOptions {
  startPriceCents: number;
  /** Volatility per square-root second (BTC's ~50 %/yr is about 0.0001). */
  sigmaPerSqrtS: number;
  /** Drift per second; 0 keeps the median price flat. */
  driftPerS?: number;
  /** Step length. */
  dtMs: number;
  random: () => number;
}

/**
 * A GBM path generator: each call advances one step and returns the price in integer cents. The
 * exact (unrounded) price is carried between steps so rounding to cents never biases the walk.
 */
export function createGbm(o: GbmOptions): () => number {
  const normal = createGaussian(o.random);
  const dt = o.dtMs / 1000;
  const mu = o.driftPerS ?? 0;
  // Ito correction keeps E[S_t] growing at mu, so mu = 0 means no expected drift.
  const meanLog = (mu - (o.sigmaPerSqrtS * o.sigmaPerSqrtS) / 2) * dt;
  const sdLog = o.sigmaPerSqrtS * Math.sqrt(dt);
  let price = o.startPriceCents;
  return () => {
    price *= Math.exp(meanLog + sdLog * normal());
    return Math.max(1, Math.round(price));
  };
}

/** Options of `createSyntheticSource`; all have demo-friendly defaults. */
export interface SyntheticSourceOptions {
  /** Source name on ticks and status events (default 'synthetic'). */
  name?: string;
  /** Default 9_700_000 ($97,000.00). */
  startPriceCents?: number;
  /** Default 0.0001 per sqrt(s). */
  sigmaPerSqrtS?: number;
  driftPerS?: number;
  /** Default 250 ms. */
  tickIntervalMs?: number;
  /** Default 1. */
  seed?: number;
  now?: () => number;
  timers?: Timers;
}

/**
 * A synthetic `PriceSource`: the start price at once, then one GBM step every `tickIntervalMs`.
 * The price path is a pure function of the seed; timestamps come from the injected clock.
 */
export function createSyntheticSource(o: SyntheticSourceOptions = {}): PriceSource {
  const name = o.name ?? 'synthetic';
  const interval = o.tickIntervalMs ?? 250;
  const now = o.now ?? Date.now;
  const timers = o.timers ?? systemTimers;
  if (!(interval > 0)) throw new Error('tickIntervalMs must be positive');
  const startPriceCents = o.startPriceCents ?? 9_700_000;
  const step = createGbm({
    startPriceCents,
    sigmaPerSqrtS: o.sigmaPerSqrtS ?? 0.0001,
    driftPerS: o.driftPerS ?? 0,
    dtMs: interval,
    random: createPrng(o.seed ?? 1),
  });
  let timer: TimerHandle | undefined;
  let stopped = false;
  let started = false;

  return {
    name,
    start(onEvent) {
      if (started) throw new Error(`${name}: source already started`);
      started = true;
      const emitTick = (priceCents: number): void => {
        const t = now();
        onEvent({ type: 'tick', tick: { source: name, priceCents, ts: t, recvTs: t } } satisfies FeedEvent);
      };
      let due = now();
      let first = true;
      const fire = (): void => {
        timer = undefined;
        if (stopped) return;
        emitTick(first ? startPriceCents : step());
        first = false;
        // Schedule against the ideal grid so timer lateness does not accumulate; after a long stall
        // resume from now rather than bursting out the missed steps.
        due = Math.max(due + interval, now());
        timer = timers.setTimeout(fire, due - now());
      };
      onEvent({ type: 'status', source: name, connected: true, detail: 'synthetic' });
      timer = timers.setTimeout(fire, 0);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    },
  };
}
