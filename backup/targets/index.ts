/**
 * Backup targets: where backup objects are stored. `createTarget(spec)` returns a `Target`
 * (backup/contracts.ts) for a local directory, an S3 bucket or an rsync destination (daemon or ssh).
 *
 * Shared behaviour (tested against all of them in test/integration/backup-targets.test.ts):
 *   - keys are validated before anything touches storage (keys.ts); bad ones reject `invalid-key`;
 *   - put is atomic for readers and retried (re-opening the stream) on transient failures; with
 *     `opts.size` a short or long stream fails the put and nothing is stored;
 *   - get of a missing object rejects with `err.code === 'ENOENT'`; head resolves `undefined`;
 *   - list(prefix) is recursive, string-prefix based, sorted by key on file targets, and never
 *     shows in-flight temp files; delete ignores keys that do not exist;
 *   - failures are `TargetError`s with a stable `code` (errors.ts); a target that is down fails
 *     within seconds with code `unreachable`.
 */
import type { Target, TargetSpec } from '../contracts.js';
import type { TargetOptions } from './common.js';
import { TargetError } from './errors.js';
import { createLocalTarget } from './local.target.js';
import { createRsyncTarget } from './rsync.target.js';
import { createS3Target } from './s3.target.js';

export type { TargetOptions } from './common.js';
export { TargetError, type TargetErrorCode } from './errors.js';
export { validateKey, validatePrefix } from './object-keys.js';

export function createTarget(spec: TargetSpec, opts: TargetOptions = {}): Target {
  const log = opts.log?.child({ module: 'backup-target', target: spec.name });
  const o = { ...opts, ...(log ? { log } : {}) };
  switch (spec.type) {
    case 'local':
      return createLocalTarget(spec, o);
    case 's3':
      return createS3Target(spec, o);
    case 'rsync':
      return createRsyncTarget(spec, o);
    default:
      throw new TargetError('invalid-config', `unknown target type ${JSON.stringify((spec as { type?: unknown }).type)}`);
  }
}
