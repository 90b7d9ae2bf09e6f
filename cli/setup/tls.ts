/**
 * Step (c): the certificate nginx serves. Either the operator's (TAPSTACK_TLS_CERT_FILE and
 * TAPSTACK_TLS_KEY_FILE: checked readable and a matching pair, refused otherwise) or a self-signed
 * ECDSA P-256 certificate generated with the openssl CLI into the TLS directory, SAN = the host of
 * TAPSTACK_PUBLIC_ORIGIN, valid 397 days (browsers cap leaf certificates at 398), and regenerated
 * when it is missing, damaged, expires within 30 days or names another host. The generated paths
 * never change, so nginx picks up a new certificate on SIGHUP.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { fsyncDir, fsyncFile } from '../../services/shared/atomic-file.js';
import { writeProblem } from './probe.js';
import { SETUP_EXIT, refuse } from './exit-codes.js';

export const CERT_DAYS = 397;
export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;

export interface TlsSettings {
  tlsDir: string;
  tlsCertFile: string;
  tlsKeyFile: string;
}

export interface TlsPlan {
  mode: 'operator' | 'generated';
  certFile: string;
  keyFile: string;
  /** keep: nothing to do; create/regenerate: write a new self-signed pair. */
  action: 'keep' | 'create' | 'regenerate';
  host: string;
  reason: string;
  warnings: string[];
  notAfter?: string;
}

/** The host of an origin as a SAN value: brackets stripped from IPv6 literals. */
export function originHost(origin: string): string {
  return new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1');
}

export function generatedPaths(tlsDir: string): { certFile: string; keyFile: string } {
  return { certFile: path.join(tlsDir, 'cert.pem'), keyFile: path.join(tlsDir, 'key.pem') };
}

function coversHost(cert: X509Certificate, host: string): boolean {
  return net.isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

function readPair(certFile: string, keyFile: string): { cert: X509Certificate; key: KeyObject } {
  const cert = new X509Certificate(fs.readFileSync(certFile));
  const key = createPrivateKey(fs.readFileSync(keyFile));
  return { cert, key };
}

/** Decide what step (c) will do, refusing (exit 15) before anything is written. */
export function planTls(s: TlsSettings, host: string, now: Date = new Date()): TlsPlan {
  if (s.tlsCertFile) return checkOperatorPair(s, host, now);

  const { certFile, keyFile } = generatedPaths(s.tlsDir);
  const base = { mode: 'generated' as const, certFile, keyFile, host, warnings: [] };
  let reason: string;
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
    reason = 'first boot: no certificate yet';
    assertWritable(s.tlsDir);
    return { ...base, action: 'create', reason };
  }
  try {
    const { cert, key } = readPair(certFile, keyFile);
    const notAfter = new Date(cert.validTo);
    if (!cert.checkPrivateKey(key)) reason = 'key and certificate do not match (interrupted rotation?)';
    else if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') reason = 'not an ECDSA P-256 key';
    else if (notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) reason = `expires ${notAfter.toISOString()}, within ${RENEW_BEFORE_DAYS} days`;
    else if (!coversHost(cert, host)) reason = `does not name ${host} (TAPSTACK_PUBLIC_ORIGIN changed)`;
    else return { ...base, action: 'keep', reason: `valid until ${notAfter.toISOString()} for ${host}`, notAfter: notAfter.toISOString() };
  } catch (err) {
    reason = `unreadable (${(err as Error).message})`;
  }
  assertWritable(s.tlsDir);
  return { ...base, action: 'regenerate', reason };
}

function checkOperatorPair(s: TlsSettings, host: string, now: Date): TlsPlan {
  const bad = (why: string) =>
    refuse(SETUP_EXIT.badTls, 'tls-bad-material', `operator TLS material ${s.tlsCertFile} / ${s.tlsKeyFile}: ${why}; fix TAPSTACK_TLS_CERT_FILE/TAPSTACK_TLS_KEY_FILE or unset both to use the generated self-signed certificate`);
  let certPem: Buffer;
  let keyPem: Buffer;
  try {
    certPem = fs.readFileSync(s.tlsCertFile);
    keyPem = fs.readFileSync(s.tlsKeyFile);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw bad(`cannot read ${e.path ?? 'a file'} (${e.code ?? e.message})`);
  }
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw bad(`the certificate is not a PEM X.509 certificate (${(err as Error).message})`);
  }
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw bad(`the key is not an unencrypted PEM private key (${(err as Error).message}); nginx cannot ask for a passphrase`);
  }
  if (!cert.checkPrivateKey(key)) throw bad('the private key does not belong to the certificate (the first certificate of the chain must be the server certificate)');
  const warnings: string[] = [];
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() < now.getTime()) warnings.push(`the certificate expired on ${notAfter.toISOString()}`);
  else if (notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) warnings.push(`the certificate expires on ${notAfter.toISOString()}`);
  if (!coversHost(cert, host)) warnings.push(`the certificate does not name ${host}, the host of TAPSTACK_PUBLIC_ORIGIN`);
  return { mode: 'operator', certFile: s.tlsCertFile, keyFile: s.tlsKeyFile, action: 'keep', host, reason: `operator certificate valid until ${notAfter.toISOString()}`, warnings, notAfter: notAfter.toISOString() };
}

/** Refuse (exit 15) unless `dir`, or the ancestor it will be created in, takes writes. */
export function assertWritable(dir: string): void {
  const e = writeProblem(dir);
  if (e) throw refuse(SETUP_EXIT.badTls, 'tls-bad-material', `cannot write the TLS directory ${dir} (${e.code ?? e.message}), which holds the self-signed certificate, the install marker and the ACME webroot: make TAPSTACK_TLS_DIR writable`);
}

/**
 * Create a directory nginx's unprivileged workers must traverse (the TLS dir holds the ACME
 * webroot): 0755 when we create it, whatever the umask; an existing one is the operator's to set.
 */
export function ensureServedDir(dir: string): void {
  if (fs.existsSync(dir)) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
}

/** Carry out a plan: for the generated certificate, write a fresh pair (key first, then cert). */
export function applyTls(plan: TlsPlan, tlsDir: string): { status: 'ok' | 'kept' | 'created' | 'updated'; detail: string } {
  ensureServedDir(tlsDir);
  if (plan.mode === 'operator') return { status: 'ok', detail: plan.reason };
  if (plan.action === 'keep') return { status: 'kept', detail: plan.reason };

  const keyTmp = `${plan.keyFile}.tmp`;
  const certTmp = `${plan.certFile}.tmp`;
  const san = net.isIP(plan.host) ? `IP:${plan.host}` : `DNS:${plan.host}`;
  // CN is ignored by browsers (they read the SAN) and limited to 64 characters.
  const cn = plan.host.length <= 64 ? plan.host : 'tapstack';
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-new', '-sha256', '-nodes',
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-days', String(CERT_DAYS),
        '-subj', `/CN=${cn}`,
        '-addext', `subjectAltName=${san}`,
        '-addext', 'basicConstraints=critical,CA:FALSE',
        '-addext', 'keyUsage=critical,digitalSignature',
        '-addext', 'extendedKeyUsage=serverAuth',
        '-keyout', keyTmp, '-out', certTmp,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    fs.chmodSync(keyTmp, 0o600);
    fs.chmodSync(certTmp, 0o644);
    fsyncFile(keyTmp);
    fsyncFile(certTmp);
    // A crash between the two renames leaves a mismatched pair, which the next run regenerates.
    fs.renameSync(keyTmp, plan.keyFile);
    fs.renameSync(certTmp, plan.certFile);
    fsyncDir(tlsDir);
  } catch (err) {
    fs.rmSync(keyTmp, { force: true });
    fs.rmSync(certTmp, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl could not generate the self-signed certificate${stderr ? `: ${stderr}` : `: ${(err as Error).message}`}`);
  }
  const notAfter = new Date(new X509Certificate(fs.readFileSync(plan.certFile)).validTo).toISOString();
  return { status: plan.action === 'create' ? 'created' : 'updated', detail: `self-signed ECDSA P-256 for ${san}, valid until ${notAfter} (${plan.reason})` };
}
