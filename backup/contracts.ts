/**
 * The contracts between the parts of the backup engine (issue 6). Each part lives in its own
 * folder and depends only on these interfaces:
 *   backup/crypto/    age-format streaming encryption (node:crypto), keys
 *   backup/targets/   where objects go: local directory, S3, rsync (daemon or ssh)
 *   backup/snapshot/  consistent snapshots (SQLite, Redis, config/TLS), chunking, manifests
 *   backup/wal/       continuous shipping of committed SQLite changes (WAL frames) and PITR replay
 *   backup/engine/    orchestration: create, list, verify, restore, prune, schedule, drill
 * `backup/` may import `services/shared`; nothing in `services/` imports `backup/`.
 */
import type { Readable } from 'node:stream';

// ---------------------------------------------------------------- crypto (backup/crypto)

/** Who can read a backup: X25519 recipients (`age1...`) and/or a passphrase (scrypt stanza). */
export interface EncryptionSpec {
  recipients: string[];
  passphrase?: string;
}

/** What can decrypt: X25519 identities (`AGE-SECRET-KEY-1...`) and/or a passphrase. */
export interface DecryptionSpec {
  identities: string[];
  passphrase?: string;
}

// ---------------------------------------------------------------- targets (backup/targets)

export interface ObjectInfo {
  /** Key relative to the target's root/prefix, `/`-separated, e.g. `backups/<id>/manifest.json`. */
  key: string;
  size: number;
  /** Last modification, ms since epoch, when the target knows it. */
  modifiedAt?: number;
}

/**
 * A place that stores objects by key. Implementations: local directory, S3, rsync.
 * `put` must be atomic from a reader's point of view: a partially written object is never
 * visible under its key (temp name + rename, multipart complete, rsync --delay-updates/temp).
 */
export interface Target {
  readonly name: string;
  /** Human description without secrets, e.g. `s3://bucket/prefix (endpoint ...)`. */
  describe(): string;
  /** Store the bytes `open()` yields under `key`; `open` may be called again to retry. */
  put(key: string, open: () => Readable, opts?: { size?: number }): Promise<void>;
  /** Stream an object; rejects with code 'ENOENT' (err.code) if absent. */
  get(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (may page internally). */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(keys: string[]): Promise<void>;
  close?(): Promise<void>;
}

// ---------------------------------------------------------------- manifests (backup/snapshot)

/** One stored file of a backup, as its encrypted chunks. */
export interface ManifestFile {
  /** Logical name: `tapstack.db`, `redis/dump.rdb`, `config/...`, `tls/cert.pem`. */
  name: string;
  /** Plaintext size and SHA-256 of the whole file. */
  size: number;
  sha256: string;
  /** Chunks in order; each stored once, under its keyed id (format 2) or its SHA-256 (format 1). */
  chunks: { sha256: string; size: number }[];
}

/**
 * Written last, so a backup exists (is listed) only once complete. Format 2 stores this whole
 * manifest age-encrypted (`sealed`) inside a signed public part that carries only what `list`/`prune`
 * need on an appliance holding just the public recipient (backup/snapshot/manifest.ts).
 */
export interface Manifest {
  format: 'tapstack-backup/1' | 'tapstack-backup/2';
  id: string;
  kind: 'full' | 'incremental';
  createdAt: string;
  /** Time the SQLite snapshot represents (ms since epoch): the PITR base point. */
  snapshotAt: number;
  installId: string;
  versions: { tapstack: string; node: string; sqlite: string; redis?: string };
  schemaVersion: number;
  ledger: { headSeq: number; headHash: string; rows: number };
  /** Age recipients the chunks are encrypted to (public), and whether a passphrase stanza exists. */
  encryption: { recipients: string[]; passphrase: boolean };
  files: ManifestFile[];
  /** Chunks this backup uploaded (the others already existed): 0 for an unchanged incremental. */
  uploadedChunks: number;
  uploadedBytes: number;
  /** Verification results appended by `verify`/drills (kept in a sibling object, see engine). */
}

// ---------------------------------------------------------------- WAL shipping (backup/wal)

/** One shipped piece of the SQLite WAL: whole transactions only, in commit order. */
export interface WalSegmentInfo {
  /** Increases across WAL restarts and shipper restarts for one database lineage. */
  generation: string;
  index: number;
  /** Detection time of the newest commit in the segment (ms): the PITR timestamp. */
  committedUntil: number;
  /** First and last commit detection times. */
  firstCommitAt: number;
  key: string;
  size: number;
  sha256: string;
}

// ---------------------------------------------------------------- crypto API (backup/crypto/index.ts)
//   createEncryptStream(spec: EncryptionSpec): Transform     plaintext in → age v1 ciphertext out
//   createDecryptStream(spec: DecryptionSpec): Transform     ciphertext in → plaintext out; errors
//       (err.code 'wrong-key' | 'corrupt' | 'truncated') — the last chunk is authenticated at the end,
//       so callers write plaintext to a temp file and rename only after the stream finished cleanly
//   generateKeyPair(): { identity: string; recipient: string }
//   generateSigningKey(), signBytes(), verifyBytes(), parseSigningPublicKey()   Ed25519 manifest
//       signatures (signing.ts); public keys as `ed25519:<base64 SPKI>`
//   recipientFromIdentity(identity: string): string

// ---------------------------------------------------------------- targets API (backup/targets/index.ts)
//   createTarget(spec: TargetSpec, opts?: { log?: Logger }): Target

export type TargetSpec =
  | { type: 'local'; name: string; path: string }
  | {
      type: 's3';
      name: string;
      bucket: string;
      prefix?: string;
      region: string;
      endpoint?: string;
      forcePathStyle?: boolean;
      storageClass?: string;
      accessKeyId?: string;
      /** The secret itself is never in the JSON: a file path. */
      secretAccessKeyFile?: string;
      /** Bytes per multipart part (≥ 5 MiB on real S3). */
      partSize?: number;
    }
  | {
      type: 'rsync';
      name: string;
      /** `rsync://user@host:port/module/path` (daemon) or `ssh://user@host:port/path`. */
      url: string;
      /** Daemon password file (mode 600). */
      passwordFile?: string;
      /** ssh: private key file and known_hosts file. */
      sshKeyFile?: string;
      knownHostsFile?: string;
    };
