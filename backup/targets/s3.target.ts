/**
 * An S3 bucket (AWS or any S3-compatible service) as a backup target.
 *
 * Atomicity: S3 makes an object visible only when its PutObject or CompleteMultipartUpload
 * succeeds, so a reader never sees a partial object. put streams through lib-storage's `Upload`
 * (PutObject below `partSize`, multipart above, 4 parts in flight). A failed multipart upload is
 * aborted on a best-effort basis only (some S3-compatible servers lack AbortMultipartUpload):
 * on real S3, add a lifecycle rule "AbortIncompleteMultipartUpload after 1 day" to the bucket.
 *
 * Checksums: `requestChecksumCalculation`/`responseChecksumValidation` are `WHEN_REQUIRED`.
 * Integrity is the engine's job (SHA-256 read-back of every object); the SDK's default streaming
 * checksum framing is stored verbatim inside objects by some S3-compatible servers.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import fsp from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import type { ObjectInfo, Target, TargetSpec } from '../contracts.js';
import { ByteCounter, retryPolicy, withRetry, type TargetOptions } from './common.js';
import { isNetworkError, isRetryable, messageOf, TargetError } from './errors.js';
import { validateKey, validatePrefix } from './object-keys.js';

export type S3TargetSpec = Extract<TargetSpec, { type: 's3' }>;

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DELETE_BATCH = 1000;

export function createS3Target(spec: S3TargetSpec, opts: TargetOptions = {}): Target {
  const bad = (msg: string) => new TargetError('invalid-config', `s3 target "${spec.name}": ${msg}`);
  if (!spec.bucket) throw bad('bucket is required');
  if (!spec.region) throw bad('region is required');
  if (Boolean(spec.accessKeyId) !== Boolean(spec.secretAccessKeyFile)) {
    throw bad('accessKeyId and secretAccessKeyFile go together (or leave both out for the SDK default chain)');
  }
  const partSize = spec.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) throw bad(`partSize must be an integer >= ${MIN_PART_SIZE} (5 MiB)`);
  const root = normalizePrefix(spec.prefix ?? '', bad);
  const bucket = spec.bucket;
  const described = `s3://${bucket}/${root} (${spec.endpoint ? `endpoint ${spec.endpoint}, ` : ''}region ${spec.region}${spec.storageClass ? `, ${spec.storageClass}` : ''})`;
  const label = `target "${spec.name}" (${described})`;
  const policy = retryPolicy(opts);

  const { accessKeyId, secretAccessKeyFile } = spec;
  const client = new S3Client({
    region: spec.region,
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    forcePathStyle: spec.forcePathStyle ?? false,
    // The secret is read from its file at first use (the SDK then caches it), never from config.
    ...(accessKeyId && secretAccessKeyFile
      ? { credentials: async () => ({ accessKeyId, secretAccessKey: await readSecret(secretAccessKeyFile) }) }
      : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 120_000 },
  });

  const fail = (op: string, err: unknown) => {
    if (err instanceof TargetError) return new TargetError(err.code, `${label}: ${op} failed: ${err.message}`, { cause: err });
    return new TargetError(classify(err), `${label}: ${op} failed: ${describeError(err)}`, { cause: err });
  };

  return {
    name: spec.name,
    describe: () => described,

    async put(key: string, open: () => Readable, putOpts?: { size?: number }): Promise<void> {
      const Key = root + validateKey(key).join('/');
      // The SDK already retried each request (maxAttempts); the outer retry re-opens the stream
      // after a source failure or a failed part, but does not hammer a target that is down.
      try {
        await withRetry(policy, { target: spec.name, op: 'put', key }, async () => {
          const counter = new ByteCounter(putOpts?.size);
          const body = pipeline(open(), counter, () => undefined);
          const upload = new Upload({
            client,
            params: { Bucket: bucket, Key, Body: body, ...(spec.storageClass ? { StorageClass: spec.storageClass as StorageClass } : {}) },
            partSize,
            queueSize: 4,
            // lib-storage would let a failing abort mask the real error; we abort ourselves.
            leavePartsOnError: true,
          });
          let parts = 0;
          upload.on('httpUploadProgress', (p) => (parts = Math.max(parts, p.part ?? 0)));
          try {
            await upload.done();
            opts.log?.debug({ key, bytes: counter.bytes, parts }, 'object stored');
          } catch (err) {
            body.destroy();
            const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
            if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId })).catch(() => undefined);
            throw err instanceof TargetError || !isNetworkError(err) ? err : new TargetError('unreachable', describeError(err), { cause: err });
          }
        }, (err) => isRetryable(err) && !(err instanceof TargetError && err.code === 'unreachable'));
      } catch (err) {
        throw fail(`put ${key}`, err);
      }
    },

    async get(key: string): Promise<Readable> {
      const Key = root + validateKey(key).join('/');
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        return res.Body as Readable;
      } catch (err) {
        if (isNotFound(err)) throw new TargetError('ENOENT', `${label}: no object ${JSON.stringify(key)}`);
        throw fail(`get ${key}`, err);
      }
    },

    async head(key: string): Promise<ObjectInfo | undefined> {
      const Key = root + validateKey(key).join('/');
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        return { key, size: res.ContentLength ?? 0, ...(res.LastModified ? { modifiedAt: res.LastModified.getTime() } : {}) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw fail(`head ${key}`, err);
      }
    },

    async list(prefix: string): Promise<ObjectInfo[]> {
      const Prefix = root + validatePrefix(prefix);
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      try {
        do {
          const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix, ...(token ? { ContinuationToken: token } : {}) }));
          for (const o of res.Contents ?? []) {
            // Keys ending in "/" are "folder" placeholders made by consoles, not objects.
            if (!o.Key || !o.Key.startsWith(root) || o.Key.endsWith('/')) continue;
            out.push({ key: o.Key.slice(root.length), size: o.Size ?? 0, ...(o.LastModified ? { modifiedAt: o.LastModified.getTime() } : {}) });
          }
          token = res.IsTruncated ? res.NextContinuationToken : undefined;
        } while (token);
      } catch (err) {
        throw fail(`list ${JSON.stringify(prefix)}`, err);
      }
      return out;
    },

    async delete(keys: string[]): Promise<void> {
      const full = keys.map((k) => root + validateKey(k).join('/'));
      for (let i = 0; i < full.length; i += DELETE_BATCH) {
        const batch = full.slice(i, i + DELETE_BATCH);
        try {
          const res = await client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          );
          const first = res.Errors?.[0];
          if (first) {
            throw new TargetError('failed', `${res.Errors?.length} of ${batch.length} not deleted, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim());
          }
        } catch (err) {
          throw fail('delete', err);
        }
      }
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}

/** `a/b` or `/a/b/` → `a/b/`; '' stays ''. */
function normalizePrefix(prefix: string, bad: (msg: string) => Error): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  try {
    validateKey(trimmed);
  } catch (err) {
    throw bad(`prefix: ${messageOf(err)}`);
  }
  return `${trimmed}/`;
}

async function readSecret(file: string): Promise<string> {
  let secret: string;
  try {
    secret = (await fsp.readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new TargetError('invalid-config', `cannot read secretAccessKeyFile ${file}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`);
  }
  if (!secret) throw new TargetError('invalid-config', `secretAccessKeyFile ${file} is empty`);
  return secret;
}

interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function status(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as SdkError | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || (status(err) === 404 && name !== 'NoSuchBucket');
}

function classify(err: unknown): 'unreachable' | 'auth-failed' | 'failed' {
  if (isNetworkError(err)) return 'unreachable';
  const name = (err as SdkError | undefined)?.name ?? '';
  if (status(err) === 401 || status(err) === 403 || ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'CredentialsProviderError'].includes(name)) {
    return 'auth-failed';
  }
  return 'failed';
}

/** `NoSuchBucket: The specified bucket does not exist (HTTP 404)`, `connect ECONNREFUSED ...`. */
function describeError(err: unknown): string {
  const e = err as SdkError & { message?: string; code?: string; errors?: unknown[] };
  let msg = messageOf(err);
  if (!msg && Array.isArray(e.errors)) msg = e.errors.map(messageOf).join('; ');
  if (!msg && e.code) msg = e.code;
  const name = e.name && e.name !== 'Error' && !msg.startsWith(e.name) ? `${e.name}: ` : '';
  const http = status(err) ? ` (HTTP ${status(err)})` : '';
  return `${name}${msg}${http}`;
}
