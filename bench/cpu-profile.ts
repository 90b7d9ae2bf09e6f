/**
 * Where a process spent its CPU: a V8 `.cpuprofile` (from `node --cpu-prof`) reduced to self time
 * by package/area and by function, over one time window (the saturated run) only.
 *
 * V8 stamps samples with the monotonic clock in microseconds, the clock `process.hrtime` reads, so
 * the window is given as hrtime microseconds.
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time in the window, ms (including idle). */
  totalMs: number;
  idleMs: number;
  byArea: { area: string; ms: number; share: number }[];
  byFunction: { fn: string; area: string; ms: number; share: number }[];
}

/** A readable area for a script URL: the npm package, the Tapstack module, a Node subsystem, or V8. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'V8 garbage collector';
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') return functionName;
    return 'V8 builtins/native';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `npm ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `tapstack ${url.slice(dist + '/dist/'.length).replace(/\.js$/, '')}`;
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/');
    const name = parts[0] === 'internal' ? parts[1] ?? 'internal' : parts[0];
    return `node ${name?.replace(/\.js$/, '')}`;
  }
  return url;
}

export function summariseProfile(file: string, window?: { fromUs: number; toUs: number }, top = 15): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    const id = p.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, { area: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    totalUs += us;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = url ? `${url.replace(/^.*\/(node_modules|dist)\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    const f = fns.get(key) ?? { area, us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  const busy = totalUs - idleUs || 1;
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    byArea: [...areas].map(([area, us]) => ({ area, ms: us / 1000, share: us / busy })).sort((a, b) => b.ms - a.ms),
    byFunction: [...fns].map(([fn, f]) => ({ fn, area: f.area, ms: f.us / 1000, share: f.us / busy })).sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}
