/**
 * `node dist/healthchecks/check.js <program>...`: exit 0 iff every named AIO program is healthy.
 * `node dist/healthchecks/check.js --wait SECONDS <program>...`: the start-order gate
 * (scripts/wait-for.sh): poll in this one process until every named program serves (a Redis that
 * cannot persist still serves), exit 1 after SECONDS. One process polling instead of a new `node`
 * per attempt keeps a slow machine's first boot from being slowed further by eight polling loops.
 */
import { loadConfig } from '../services/shared/config.js';
import { withRuntimeEnv } from './runtime-env.js';
import { probeFor, runProbe, type Probe } from './probes.js';

const config = loadConfig(withRuntimeEnv(process.env));
const args = process.argv.slice(2);
let waitSeconds: number | undefined;
if (args[0] === '--wait') {
  waitSeconds = Number(args[1]);
  args.splice(0, 2);
}
if (args.length === 0 || (waitSeconds !== undefined && !(waitSeconds >= 0))) {
  process.stderr.write('usage: check.js [--wait SECONDS] <program>...\n');
  process.exit(2);
}
const probes: [string, Probe][] = args.map((name) => {
  const probe = probeFor(name, config);
  if (!probe) {
    process.stderr.write(`${name}: no probe for this program\n`);
    process.exit(2);
  }
  return [name, probe];
});

async function problems(accept: 'ok' | 'serving'): Promise<string[]> {
  const out: string[] = [];
  for (const [name, probe] of probes) {
    const r = await runProbe(probe, config);
    if (!r[accept]) out.push(`${name}: ${r.detail}`);
  }
  return out;
}

if (waitSeconds === undefined) {
  const found = await problems('ok');
  for (const p of found) process.stderr.write(`${p}\n`);
  process.exit(found.length ? 1 : 0);
}
const deadline = Date.now() + waitSeconds * 1000;
for (;;) {
  const found = await problems('serving');
  if (found.length === 0) process.exit(0);
  if (Date.now() >= deadline) {
    process.stderr.write(`wait-for: not serving after ${waitSeconds}s: ${found.join('; ')}\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 500));
}
