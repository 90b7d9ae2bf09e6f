/**
 * Micro-bench of the age layer (backup/crypto): single-core streaming encryption and decryption of
 * in-memory data through the real Transforms, next to the bare ChaCha20-Poly1305 ceiling and, for
 * scale, the pure-JS age-encryption package.
 *
 *   node dist/bench/backup-crypto.js                 # 1024 MiB (BENCH_CRYPTO_MIB to change)
 *   BENCH_CRYPTO_MIB=256 BENCH_CRYPTO_WRITE_KIB=16 node dist/bench/backup-crypto.js
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Encrypter } from 'age-encryption';
import { createDecryptStream, createEncryptStream, generateKeyPair } from '../backup/crypto/index.js';

const MIB = 1024 * 1024;
const totalMiB = Number(process.env.BENCH_CRYPTO_MIB ?? 1024);
const writeBytes = Number(process.env.BENCH_CRYPTO_WRITE_KIB ?? 1024) * 1024;
const total = totalMiB * MIB;

// One random block repeated: generating 1 GiB of randomness would dominate the run.
const block = randomBytes(writeBytes);
function* plaintext(): Generator<Buffer> {
  for (let sent = 0; sent < total; sent += writeBytes) yield sent + writeBytes <= total ? block : block.subarray(0, total - sent);
}

function sink(onChunk: (b: Buffer) => void = () => undefined): Writable {
  return new Writable({
    highWaterMark: 4 * MIB,
    write(chunk: Buffer, _enc, cb) {
      onChunk(chunk);
      cb();
    },
  });
}

const rate = (bytes: number, ms: number) => (bytes / MIB / (ms / 1000)).toFixed(0);
const now = () => performance.now();
/**
 * CPU time of this process over wall time (≈ 100 %: one core did the work; less: the machine was
 * busy), and the rate per CPU-second, which a busy machine does not distort.
 */
const cpuShare = (since: NodeJS.CpuUsage, startMs: number, bytes: number) => {
  const used = process.cpuUsage(since);
  const cpuMs = (used.user + used.system) / 1000;
  return `${((cpuMs / (now() - startMs)) * 100).toFixed(0)} % of one core, ${rate(bytes, cpuMs)} MiB per CPU-second`;
};

async function main(): Promise<void> {
  const { identity, recipient } = generateKeyPair();
  console.log(`backup crypto bench: ${totalMiB} MiB, ${writeBytes / 1024} KiB writes, node ${process.version}, one core`);

  // Ceiling: one cipher context per 64 KiB chunk, no streams.
  const key = randomBytes(32);
  const chunk = block.subarray(0, Math.min(block.length, 65536));
  const sealAll = (bytes: number) => {
    for (let done = 0, i = 0; done < bytes; done += chunk.length, i++) {
      const nonce = Buffer.alloc(12);
      nonce.writeUInt32BE(i, 7);
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.update(chunk);
      c.final();
      c.getAuthTag();
    }
  };
  sealAll(64 * MIB); // warm-up
  let t = now();
  const rawBytes = Math.min(total, 512 * MIB);
  sealAll(rawBytes);
  console.log(`  chacha20-poly1305 per-chunk ceiling  ${rate(rawBytes, now() - t)} MiB/s`);

  // Encrypt, discarding the output.
  t = now();
  let cpu = process.cpuUsage();
  let encrypted = 0;
  await pipeline(Readable.from(plaintext()), createEncryptStream({ recipients: [recipient] }), sink((b) => (encrypted += b.length)));
  console.log(`  encrypt (stream)                     ${rate(total, now() - t)} MiB/s   (${encrypted} bytes out, ${cpuShare(cpu, t, total)})`);

  // Decrypt: keep a ciphertext of up to 256 MiB in memory and replay it to reach the total.
  const keepBytes = Math.min(total, 256 * MIB);
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from((function* () { for (let s = 0; s < keepBytes; s += writeBytes) yield block.subarray(0, Math.min(writeBytes, keepBytes - s)); })()),
    createEncryptStream({ recipients: [recipient] }),
    sink((b) => parts.push(b)),
  );
  const ciphertext = Buffer.concat(parts);
  parts.length = 0;
  const rounds = Math.max(1, Math.round(total / keepBytes));
  t = now();
  cpu = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    const feed = function* () { for (let o = 0; o < ciphertext.length; o += writeBytes) yield ciphertext.subarray(o, o + writeBytes); };
    await pipeline(Readable.from(feed()), createDecryptStream({ identities: [identity] }), sink());
  }
  console.log(`  decrypt (stream)                     ${rate(keepBytes * rounds, now() - t)} MiB/s   (${cpuShare(cpu, t, keepBytes * rounds)})`);

  // For scale: the pure-JS package on a smaller input.
  const jsBytes = 32 * MIB;
  const enc = new Encrypter();
  enc.addRecipient(recipient);
  const jsInput = Buffer.concat(Array.from({ length: Math.ceil(jsBytes / block.length) }, () => block)).subarray(0, jsBytes);
  t = now();
  await enc.encrypt(jsInput);
  console.log(`  age-encryption (npm, pure JS)        ${rate(jsBytes, now() - t)} MiB/s   (${jsBytes / MIB} MiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
