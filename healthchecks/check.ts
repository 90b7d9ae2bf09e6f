/** `node dist/healthchecks/check.js <program>...`: exit 0 iff every named AIO program is healthy. */
import { loadConfig } from '../services/shared/config.js';
import { withRuntimeEnv } from './runtime-env.js';
import { probeFor, runProbe } from './probes.js';

const config = loadConfig(withRuntimeEnv(process.env));
const names = process.argv.slice(2);
if (names.length === 0) {
  process.stderr.write('usage: check.js <program>...\n');
  process.exit(2);
}
let ok = true;
for (const name of names) {
  const probe = probeFor(name, config);
  if (!probe) {
    process.stderr.write(`${name}: no probe for this program\n`);
    process.exit(2);
  }
  const r = await runProbe(probe, config);
  if (!r.ok) {
    ok = false;
    process.stderr.write(`${name}: ${r.detail}\n`);
  }
}
process.exit(ok ? 0 : 1);
