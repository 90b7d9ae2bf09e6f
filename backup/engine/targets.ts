/** Open the configured targets (backup/targets) with this run's logger and temp directory. */
import fs from 'node:fs';
import type { Logger } from '../../services/shared/logger.js';
import type { Target } from '../contracts.js';
import { createTarget } from '../targets/index.js';
import type { TargetSettings } from './settings.js';

// The AWS SDK warns on every run under Node 20 about releases from 2027 on; the SDK is pinned to
// an exact version (../shared/TOOLING.md), so for an operator the warning is only noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export function openTarget(t: TargetSettings, opts: { log?: Logger; tmpDir?: string } = {}): Target {
  if (opts.tmpDir) fs.mkdirSync(opts.tmpDir, { recursive: true, mode: 0o700 });
  return createTarget(t.spec, { ...(opts.log ? { log: opts.log } : {}), ...(opts.tmpDir ? { tmpDir: opts.tmpDir } : {}) });
}

/** Close a target, ignoring errors (used in finally blocks). */
export async function closeTarget(target: Target | undefined): Promise<void> {
  await target?.close?.().catch(() => undefined);
}
