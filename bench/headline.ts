/**
 * The headline figures of one bench run (written as JSON when BENCH_SUMMARY_FILE is set) and the
 * median-of-N table built from several runs (BENCH_RUNS=N, see median.ts).
 */
import type { finalAccounting, OpenLoopPhase, phaseBareKoa, SaturatedResult } from './phases.js';
import { int, ms, pct, spread, table } from './stats.js';

export interface EdgeResults {
  /** The rewrites that lifted nginx's per-IP limits (edge.ts). */
  lifted: string[];
  saturated: SaturatedResult;
  open: OpenLoopPhase;
}

export interface Results {
  bare: Awaited<ReturnType<typeof phaseBareKoa>>;
  saturated: SaturatedResult;
  /** The open loop at BENCH_RATE. */
  fixed: OpenLoopPhase;
  /** The open loop at BENCH_RELATIVE_SHARE × the saturated committed rate. */
  relative: OpenLoopPhase;
  edge?: EdgeResults;
  final: Awaited<ReturnType<typeof finalAccounting>>;
}

/** The targets (issue 17 for the relative rate and the CPU; the design's for BENCH_RATE). */
export const TARGETS = {
  committedPerS: 8000,
  fixed: { acceptP99Ms: 25, confirmP99Ms: 50 },
  relative: { acceptP99Ms: 15, confirmP99Ms: 25, writerLagP99Ms: 20 },
  shareOfBareKoa: 0.4,
  cpuPerBetUs: 350,
};

export const bareReqPerS = (bare: Results['bare']) => bare.wrk.requests / bare.wrk.seconds;

/** CPU µs per bet over a saturated window: API, Redis and nginx per accepted bet, the writer per committed bet. */
export function cpuPerBet(sat: SaturatedResult): { api: number; redis: number; writer: number; nginx: number } {
  const us = (name: string, perS: number) => (((sat.cpu.perProcess[name] ?? Number.NaN) / 100) * 1e6) / perS;
  return { api: us('api', sat.acceptedPerS), redis: us('redis', sat.acceptedPerS), writer: us('writer', sat.committedPerS), nginx: us('nginx', sat.acceptedPerS) };
}

/** Every accounting check of the run: 0 lost, every open-loop id has a row, integrity, caches. */
export function accountingOk(r: Results, players: number): boolean {
  const missing = r.fixed.missingRows + r.relative.missingRows + (r.edge?.open.missingRows ?? 0);
  const f = r.final;
  return f.lost === 0 && missing === 0 && f.integrity.ok && f.cacheMatches === players && f.pendingStakes === 0;
}

export type Headline = Record<(typeof ROWS)[number]['key'], number> & { accountingOk: boolean; relativeShare: number; fixedRate: number };

export function headline(r: Results, o: { players: number; relativeShare: number; fixedRate: number }): Headline {
  const bare = bareReqPerS(r.bare);
  const c = cpuPerBet(r.saturated);
  const e = r.edge ? cpuPerBet(r.edge.saturated) : undefined;
  const nan = Number.NaN;
  return {
    bareKoa: bare,
    bareKoaUs: (((r.bare.cpu.perProcess['bare koa'] ?? nan) / 100) * 1e6) / bare,
    satAccepted: r.saturated.acceptedPerS,
    satCommitted: r.saturated.committedPerS,
    share: r.saturated.committedPerS / bare,
    cpuPerBetUs: c.api + c.redis + c.writer,
    relRate: r.relative.rate,
    relAcceptP99: r.relative.result.acceptMs.p99,
    relConfirmP99: r.relative.result.confirmMs.p99,
    relWriterLagP99: r.relative.pauses.writer?.lagP99Ms ?? nan,
    relBusy: r.relative.cpu.machine,
    relWaiting: Object.values(r.relative.cpu.waiting).reduce((a, b) => a + b, 0),
    relSteal: r.relative.cpu.steal,
    fixedCommitted: r.fixed.committedPerS,
    fixedAcceptP99: r.fixed.result.acceptMs.p99,
    fixedConfirmP99: r.fixed.result.confirmMs.p99,
    edgeSatAccepted: r.edge?.saturated.acceptedPerS ?? nan,
    edgeCpuPerBetUs: e ? e.api + e.redis + e.writer + e.nginx : nan,
    edgeNginxUs: e?.nginx ?? nan,
    edgeAcceptP99: r.edge?.open.result.acceptMs.p99 ?? nan,
    edgeConfirmP99: r.edge?.open.result.confirmMs.p99 ?? nan,
    accountingOk: accountingOk(r, o.players),
    relativeShare: o.relativeShare,
    fixedRate: o.fixedRate,
  };
}

type Kind = 'rate' | 'us' | 'ms' | 'share' | 'pct';
interface Row {
  key: string;
  label: string;
  kind: Kind;
  /** A run meets it when the figure is ≥ (min) or ≤ (max) the value. */
  target?: { min?: number; max?: number };
}

const ROWS = [
  { key: 'bareKoa', label: 'bare koa + @koa/router, GET /hello (ceiling)', kind: 'rate' },
  { key: 'bareKoaUs', label: '  CPU per bare-koa request', kind: 'us' },
  { key: 'satAccepted', label: 'saturated POST /api/bets: accepted', kind: 'rate' },
  { key: 'satCommitted', label: '  committed', kind: 'rate' },
  { key: 'share', label: '  share of the ceiling (committed ÷ bare koa)', kind: 'share', target: { min: TARGETS.shareOfBareKoa } },
  { key: 'cpuPerBetUs', label: '  CPU per bet, API + Redis + writer', kind: 'us', target: { max: TARGETS.cpuPerBetUs } },
  { key: 'relRate', label: 'open loop at SHARE × saturated committed: rate', kind: 'rate' },
  { key: 'relAcceptP99', label: '  accept p99', kind: 'ms', target: { max: TARGETS.relative.acceptP99Ms } },
  { key: 'relConfirmP99', label: '  tap → bet:confirmed p99', kind: 'ms', target: { max: TARGETS.relative.confirmP99Ms } },
  { key: 'relWriterLagP99', label: '  writer event-loop delay p99', kind: 'ms', target: { max: TARGETS.relative.writerLagP99Ms } },
  { key: 'relBusy', label: '  machine busy (% of all cores)', kind: 'pct' },
  { key: 'relWaiting', label: '  waiting for a CPU, all processes (% of a core)', kind: 'pct' },
  { key: 'relSteal', label: '  steal (% of a core)', kind: 'pct' },
  { key: 'fixedCommitted', label: 'open loop at RATE/s: committed', kind: 'rate' },
  { key: 'fixedAcceptP99', label: '  accept p99', kind: 'ms', target: { max: TARGETS.fixed.acceptP99Ms } },
  { key: 'fixedConfirmP99', label: '  tap → bet:confirmed p99', kind: 'ms', target: { max: TARGETS.fixed.confirmP99Ms } },
  { key: 'edgeSatAccepted', label: 'through nginx (TLS), saturated: accepted', kind: 'rate' },
  { key: 'edgeCpuPerBetUs', label: '  CPU per bet, API + Redis + writer + nginx', kind: 'us' },
  { key: 'edgeNginxUs', label: '  of which nginx', kind: 'us' },
  { key: 'edgeAcceptP99', label: '  open loop at the SHARE rate: accept p99', kind: 'ms' },
  { key: 'edgeConfirmP99', label: '  tap → bet:confirmed p99', kind: 'ms' },
] as const satisfies readonly Row[];

const fmt = (kind: Kind, v: number) => (kind === 'rate' ? int(v) : kind === 'share' ? v.toFixed(2) : kind === 'us' ? int(v) : kind === 'pct' ? String(Math.round(v)) : ms(v));
const unit = (kind: Kind) => (kind === 'rate' ? '/s' : kind === 'us' ? ' µs' : kind === 'ms' ? ' ms' : kind === 'pct' ? ' %' : '');

/**
 * One line per headline figure: the median of the runs with min–max and every run's value; beside
 * it the median of each run's ratio to its own bare-koa ceiling (a rate ÷ the bare-koa req/s; a
 * CPU cost ÷ the CPU of one bare-koa request); the target and how many runs met it.
 */
export function medianTable(runs: Headline[]): string {
  const first = runs[0];
  const rows: string[][] = [['figure', 'median', 'min – max', 'runs', '÷ bare koa (median)', 'target', 'runs meeting it']];
  for (const r of ROWS as readonly Row[]) {
    const values = runs.map((h) => h[r.key as keyof Headline] as number);
    const s = spread(values);
    if (s.n === 0) continue;
    const ratios = runs.map((h) => {
      const v = h[r.key as keyof Headline] as number;
      return r.kind === 'rate' ? v / h.bareKoa : r.kind === 'us' ? v / h.bareKoaUs : Number.NaN;
    });
    const ratio = spread(ratios);
    const ratioText = r.key === 'bareKoa' || r.key === 'bareKoaUs' || ratio.n === 0 ? '' : r.kind === 'rate' ? pct(ratio.median * 100) : `${ratio.median.toFixed(1)} ×`;
    const t = r.target;
    const meets = (v: number) => Number.isFinite(v) && (t?.min === undefined || v >= t.min) && (t?.max === undefined || v <= t.max);
    const met = values.filter(meets).length;
    const label = r.label.replace('SHARE', String(first?.relativeShare ?? '?')).replace('RATE', int(first?.fixedRate ?? Number.NaN));
    rows.push([
      label,
      `${fmt(r.kind, s.median)}${unit(r.kind)}`,
      `${fmt(r.kind, s.min)} – ${fmt(r.kind, s.max)}`,
      values.map((v) => fmt(r.kind, v)).join(' / '),
      ratioText,
      t ? (t.min !== undefined ? `≥ ${t.min}` : `≤ ${t.max}${unit(r.kind)}`) : '',
      t ? `${met}/${runs.length} ${met === runs.length ? 'PASS' : 'MISS'}` : '',
    ]);
  }
  const ok = runs.filter((h) => h.accountingOk).length;
  rows.push(['accounting (0 lost, integrity, caches)', '', '', runs.map((h) => (h.accountingOk ? 'OK' : 'FAILED')).join(' / '), '', 'all OK', `${ok}/${runs.length} ${ok === runs.length ? 'PASS' : 'FAIL'}`]);
  return table(rows, [1, 2, 4]);
}
