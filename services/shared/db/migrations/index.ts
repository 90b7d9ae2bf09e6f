/**
 * The ordered list of migrations. File names are `NNN-name.ts`; a test checks that ids are
 * contiguous, names match their files, and nothing is listed twice.
 */
import * as m001 from './001-users.js';
import * as m002 from './002-ledger.js';
import * as m003 from './003-heartbeats.js';
import * as m004 from './004-bets.js';
import * as m005 from './005-bet-queue-ids.js';
import * as m006 from './006-ledger-anchors.js';
import * as m007 from './007-archive-runs.js';
import * as m008 from './008-ledger-prune-triggers.js';

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly up: string;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { id: 1, name: 'users', up: m001.up },
  { id: 2, name: 'ledger', up: m002.up },
  { id: 3, name: 'heartbeats', up: m003.up },
  { id: 4, name: 'bets', up: m004.up },
  { id: 5, name: 'bet-queue-ids', up: m005.up },
  { id: 6, name: 'ledger-anchors', up: m006.up },
  { id: 7, name: 'archive-runs', up: m007.up },
  { id: 8, name: 'ledger-prune-triggers', up: m008.up },
]);
