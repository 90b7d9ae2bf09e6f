/**
 * The AIO image's one HEALTHCHECK: every supervisord program is RUNNING and passes its probe.
 * `node dist/healthchecks/aio.js` — exit 0 healthy, 1 not.
 */
import path from 'node:path';
import { loadConfig } from '../services/shared/config.js';
import { withRuntimeEnv } from './runtime-env.js';
import { probeFor, runProbe } from './probes.js';
import { createSupervisorClient } from './supervisor-rpc.js';

const config = loadConfig(withRuntimeEnv(process.env));
const runDir = process.env.TAPSTACK_RUN_DIR ?? path.join(config.dataDir, 'run');
const problems: string[] = [];
try {
  const infos = await createSupervisorClient(path.join(runDir, 'supervisor.sock'), 3000).allProcessInfo();
  await Promise.all(
    infos.map(async (p) => {
      const probe = probeFor(p.name, config);
      if (!probe) return;
      if (p.statename !== 'RUNNING') return void problems.push(`${p.name}: ${p.statename}`);
      const r = await runProbe(probe, config, 2000);
      if (!r.ok) problems.push(`${p.name}: ${r.detail}`);
    }),
  );
} catch (err) {
  problems.push(`supervisord: ${(err as Error).message}`);
}
if (problems.length) process.stderr.write(`unhealthy: ${problems.join('; ')}\n`);
process.exit(problems.length ? 1 : 0);
