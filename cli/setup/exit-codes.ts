/**
 * Exit codes of `tapstack setup` (and so of the entrypoint, which stops at the first failure).
 * Each refusal has its own code so that an orchestrator, a test or an operator reading
 * `docker ps -a` can tell them apart without parsing the message. Codes below 10 are the CLI's own
 * (cli/context.ts EXIT): 0 ok, 1 an unexpected failure (openssl, migration, I/O), 2 bad usage;
 * 78 (EX_CONFIG) an invalid TAPSTACK_* setting.
 *
 * | code | error code          | meaning                                                          |
 * |------|---------------------|------------------------------------------------------------------|
 * | 10   | data-dir-missing    | TAPSTACK_DATA_DIR does not exist (or is not a directory)         |
 * | 11   | data-not-mounted    | TAPSTACK_DATA_REQUIRE_MOUNT=true but the directory is no mount    |
 * |      | data-anonymous-volume| ... or an anonymous volume (image VOLUME, no `-v` given)          |
 * | 12   | data-not-writable,  | the fsync write probe failed (read-only, permissions, I/O), or   |
 * |      | run-dir-not-writable| TAPSTACK_RUN_DIR cannot be written                               |
 * | 13   | data-low-space      | less free space than TAPSTACK_DATA_MIN_FREE_MB                    |
 * | 14   | data-unmarked,      | non-empty without marker / empty but the TLS volume names an     |
 * |      | data-forgotten,     | existing installation / TLS volume of another installation /     |
 * |      | install-mismatch,   | unreadable marker; override: TAPSTACK_ALLOW_UNMARKED_DATA=true    |
 * |      | marker-unreadable   |                                                                  |
 * | 15   | tls-bad-material    | operator certificate/key unreadable, unparsable or not a pair,   |
 * |      |                     | or the TLS directory cannot be written                           |
 * | 78   | invalid-config      | a setting is invalid (also: a path nginx cannot quote)           |
 */
import { CliError, EXIT } from '../context.js';

export const SETUP_EXIT = {
  dataMissing: 10,
  notMounted: 11,
  notWritable: 12,
  lowSpace: 13,
  unmarked: 14,
  badTls: 15,
  config: EXIT.config,
} as const;

/** A refusal: nothing was changed, the message says what to do. */
export function refuse(exitCode: number, code: string, message: string): CliError {
  return new CliError(message, code, exitCode);
}
