/**
 * The rendered nginx configuration, run natively on free loopback ports in front of two tiny
 * upstreams (stand-ins for the API and the realtime service), checked over TLS as a client sees it.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/env.js';
import { freePort, waitFor } from '../helpers/ports.js';

const run = promisify(execFile);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const ports = { http: 0, https: 0, api: 0, realtime: 0 };
const dirs = { root: '', data: '', tls: '', run: '' };
let nginx: ChildProcess | undefined;
let nginxLog = '';
const nginxOut = () => (nginxLog && fs.existsSync(nginxLog) ? fs.readFileSync(nginxLog, 'utf8') : '');
let nginxExit: Promise<unknown> = Promise.resolve();
const seen: { api: http.IncomingHttpHeaders[]; realtime: http.IncomingHttpHeaders[] } = { api: [], realtime: [] };
const servers: http.Server[] = [];
let apiServer: http.Server | undefined;
const sockets = new Set<Duplex>();

const certFile = () => path.join(dirs.tls, 'cert.pem');
const keyFile = () => path.join(dirs.tls, 'key.pem');

/** One request, one fresh connection (no agent: a reload must be seen by the next request). */
function request(url: string, opts: { method?: string; headers?: Record<string, string>; ca?: Buffer; body?: Buffer } = {}): Promise<Reply> {
  const u = new URL(url);
  const tlsOpts = u.protocol === 'https:' ? (opts.ca ? { ca: opts.ca, servername: 'localhost' } : { rejectUnauthorized: false }) : {};
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, ...tlsOpts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
const httpsUrl = (p: string) => `https://127.0.0.1:${ports.https}${p}`;
const httpUrl = (p: string) => `http://127.0.0.1:${ports.http}${p}`;

function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: ports.https, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

function listen(server: http.Server, port: number): Promise<void> {
  servers.push(server);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
}

test.before(async () => {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  dirs.root = tempDir('tapstack-nginx-');
  // nginx workers run as an unprivileged user: they must be able to reach the ACME webroot.
  fs.chmodSync(dirs.root, 0o755);
  dirs.data = path.join(dirs.root, 'data');
  dirs.tls = path.join(dirs.root, 'tls');
  dirs.run = path.join(dirs.root, 'run');
  fs.mkdirSync(dirs.data);

  const env = {
    TAPSTACK_DATA_DIR: dirs.data,
    TAPSTACK_TLS_DIR: dirs.tls,
    TAPSTACK_RUN_DIR: dirs.run,
    TAPSTACK_NGINX_LISTEN: '127.0.0.1',
    TAPSTACK_NGINX_HTTP_PORT: String(ports.http),
    TAPSTACK_NGINX_HTTPS_PORT: String(ports.https),
    TAPSTACK_API_UPSTREAM: `127.0.0.1:${ports.api}`,
    TAPSTACK_REALTIME_UPSTREAM: `127.0.0.1:${ports.realtime}`,
    TAPSTACK_PUBLIC_ORIGIN: `https://localhost:${ports.https}`,
    TAPSTACK_LOG_LEVEL: 'warn',
  };
  const r = await runCli(['setup', '--json'], env);
  if (r.code !== 0) throw new Error(`setup failed (${r.code}): ${r.stderr}`);

  // The API stand-in echoes what it received, and sets a header the edge must override.
  await listen(
    (apiServer = http.createServer((req, res) => {
      seen.api.push(req.headers);
      if (req.url === '/api/own-503') return void res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '7' }).end('{"error":{"code":"draining","message":"x"}}');
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('X-Frame-Options', 'SAMEORIGIN');
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    })),
    ports.api,
  );
  // The realtime stand-in accepts a WebSocket upgrade and echoes bytes.
  const realtime = http.createServer((_req, res) => res.writeHead(400).end());
  realtime.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    seen.realtime.push(req.headers);
    sockets.add(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('error', () => undefined);
  });
  await listen(realtime, ports.realtime);

  // A file, not Node's default stdio: those are socketpairs, which /dev/stdout cannot be opened on
  // (supervisord and Docker hand nginx pipes, which it can).
  nginxLog = path.join(dirs.root, 'nginx.log');
  const logFd = fs.openSync(nginxLog, 'a');
  nginx = spawn('nginx', ['-p', path.join(dirs.run, 'nginx'), '-c', path.join(dirs.run, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const child = nginx;
  nginxExit = new Promise((resolve) => child.on('exit', resolve));
  try {
    await waitFor(async () => (await request(httpsUrl('/healthz'))).status === 200, 'nginx to answer', 10_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; nginx exit ${String(child.exitCode ?? child.signalCode)}, output:\n${nginxOut()}`);
  }
});

test.after.always(async () => {
  if (nginx?.pid && nginx.exitCode === null && nginx.signalCode === null) {
    process.kill(nginx.pid, 'SIGQUIT');
    await Promise.race([nginxExit, new Promise((r) => setTimeout(r, 5000))]);
    if (nginx.exitCode === null && nginx.signalCode === null) process.kill(nginx.pid, 'SIGKILL');
  }
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

const SECURITY_HEADERS = (t: { is: (a: unknown, b: unknown, m?: string) => void; regex: (a: string, r: RegExp, m?: string) => void }, r: Reply, what: string) => {
  t.is(r.headers['strict-transport-security'], 'max-age=31536000', `${what}: HSTS`);
  t.regex(String(r.headers['content-security-policy']), /frame-ancestors 'none'/, `${what}: CSP`);
  t.regex(String(r.headers['content-security-policy']), /default-src 'self'/, `${what}: CSP`);
  t.is(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  t.is(r.headers['referrer-policy'], 'no-referrer', `${what}: referrer policy`);
  t.is(r.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options (one value, the upstream's dropped)`);
};

test.serial('the rendered configuration passes nginx -t', async (t) => {
  // Output to a file for the same reason as the server's (access_log /dev/stdout is opened by -t).
  const out = path.join(dirs.root, 'nginx-t.log');
  const fd = fs.openSync(out, 'w');
  const r = spawnSync('nginx', ['-t', '-p', path.join(dirs.run, 'nginx'), '-c', path.join(dirs.run, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  t.is(r.status, 0, fs.readFileSync(out, 'utf8'));
  t.regex(fs.readFileSync(out, 'utf8'), /test is successful/);
});

test.serial('plain HTTP redirects to the HTTPS origin with the same path; ACME challenges are served', async (t) => {
  const r = await request(httpUrl('/grid/view?x=1&y=2'));
  t.is(r.status, 301);
  t.is(r.headers.location, `https://localhost:${ports.https}/grid/view?x=1&y=2`);
  t.is(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');

  const challenges = path.join(dirs.tls, 'acme', '.well-known', 'acme-challenge');
  fs.writeFileSync(path.join(challenges, 'tok-123'), 'tok-123.thumbprint');
  fs.chmodSync(path.join(challenges, 'tok-123'), 0o644);
  const acme = await request(httpUrl('/.well-known/acme-challenge/tok-123'));
  t.is(acme.status, 200, nginxOut());
  t.is(acme.body, 'tok-123.thumbprint');
  t.is((await request(httpUrl('/.well-known/acme-challenge/missing'))).status, 404, 'not redirected either');
});

test.serial('every HTTPS response carries HSTS and the security headers, errors and proxied ones included', async (t) => {
  const cases: [string, number][] = [['/healthz', 200], ['/', 200], ['/no-such-file', 404], ['/api/market', 200]];
  for (const [p, status] of cases) {
    const r = await request(httpsUrl(p));
    t.is(r.status, status, p);
    SECURITY_HEADERS(t, r, p);
  }
  t.regex((await request(httpsUrl('/'))).body, /Tapstack/);
});

test.serial('the certificate verifies as the trust anchor for the public host', async (t) => {
  const r = await request(httpsUrl('/healthz'), { ca: fs.readFileSync(certFile()) });
  t.is(r.status, 200);
});

test.serial('/healthz is answered by nginx itself', async (t) => {
  const before = seen.api.length;
  const r = await request(httpsUrl('/healthz'));
  t.is(r.status, 200);
  t.is(r.body, 'ok\n');
  t.is(seen.api.length, before, 'the API was not asked');
});

test.serial('/api is proxied with the client address and scheme, spoofed forwarding headers replaced', async (t) => {
  const r = await request(httpsUrl('/api/market?depth=1'), { headers: { 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Proto': 'http' } });
  t.is(r.status, 200);
  const echo = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  t.is(echo.url, '/api/market?depth=1');
  t.is(echo.headers['x-forwarded-proto'], 'https');
  t.is(echo.headers['x-forwarded-for'], '127.0.0.1');
  t.is(echo.headers['x-real-ip'], '127.0.0.1');
});

test.serial('a WebSocket upgrade on /socket.io/ reaches the realtime upstream', async (t) => {
  const echoed = await new Promise<string>((resolve, reject) => {
    const req = https.request(httpsUrl('/socket.io/?EIO=4&transport=websocket'), {
      rejectUnauthorized: false,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      if (res.statusCode !== 101) return reject(new Error(`status ${res.statusCode}`));
      socket.once('data', (d: Buffer) => {
        resolve(d.toString());
        socket.destroy();
      });
      socket.write('ping over the tunnel');
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  t.is(echoed, 'ping over the tunnel');
  const h = seen.realtime.at(-1);
  t.is(h?.upgrade, 'websocket');
  t.is(h?.['x-forwarded-proto'], 'https');
  t.is(h?.['x-forwarded-for'], '127.0.0.1');
});

/** Open a WebSocket tunnel through nginx; resolves with the socket, or the refusal status. */
function upgrade(): Promise<{ status: number; socket?: Duplex }> {
  return new Promise((resolve, reject) => {
    const req = https.request(httpsUrl('/socket.io/?EIO=4&transport=websocket'), {
      rejectUnauthorized: false,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      sockets.add(socket);
      resolve({ status: res.statusCode ?? 0, socket });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Like upgrade(), for a refusal: its status, headers and body. */
function upgradeReply(): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(httpsUrl('/socket.io/?EIO=4&transport=websocket'), {
      rejectUnauthorized: false,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      reject(new Error(`upgraded (${res.statusCode}) instead of refused`));
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.serial('WebSocket connections are capped per client address', async (t) => {
  // Let nginx notice the tunnel the previous test closed, so it no longer counts.
  await new Promise((r) => setTimeout(r, 200));
  const open: Duplex[] = [];
  try {
    for (let n = 0; n < 10; n++) {
      const r = await upgrade();
      t.is(r.status, 101, `connection ${n + 1}`);
      if (r.socket) open.push(r.socket);
    }
    t.is((await upgrade()).status, 429, 'the 11th concurrent connection');
  } finally {
    for (const s of open) s.destroy();
  }
  await waitFor(async () => (await upgrade()).status === 101, 'a slot to free up once the others closed', 5000);
});

test.serial('a burst on /api/auth is answered 429 by the stricter zone', async (t) => {
  const replies = await Promise.all(Array.from({ length: 30 }, () => request(httpsUrl('/api/auth/nonce'), { method: 'POST' })));
  const codes = replies.map((r) => r.status);
  t.true(codes.includes(200), codes.join(','));
  t.true(codes.filter((c) => c === 429).length >= 15, codes.join(','));
  const refused = replies.find((r) => r.status === 429)!;
  SECURITY_HEADERS(t, refused, '429');
  jsonError(t, refused, 'rate-limited', '1');
  // The general /api zone is far larger: the same burst elsewhere passes.
  const api = await Promise.all(Array.from({ length: 30 }, () => request(httpsUrl('/api/grid'))));
  t.true(api.every((r) => r.status === 200));
});

/** nginx's own error answer: the API's JSON envelope with a stable code, and Retry-After. */
function jsonError(t: ExecutionContext, r: Reply, code: string, retryAfter: string | undefined): void {
  t.regex(String(r.headers['content-type']), /^application\/json/, `${r.status}: content type`);
  t.deepEqual(Object.keys(JSON.parse(r.body).error).sort(), ['code', 'message'], r.body);
  t.is(JSON.parse(r.body).error.code, code, r.body);
  t.is(r.headers['retry-after'], retryAfter, `${r.status}: Retry-After`);
}

test.serial('a body over the limit on /api is refused 413 with a JSON error', async (t) => {
  const before = seen.api.length;
  const r = await request(httpsUrl('/api/bets'), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: Buffer.alloc(100 * 1024, 0x20) });
  t.is(r.status, 413);
  jsonError(t, r, 'body-too-large', undefined);
  SECURITY_HEADERS(t, r, '413');
  t.is(seen.api.length, before, 'the API was not asked');
});

test.serial('too many WebSocket connections are refused 429 with a JSON error', async (t) => {
  const open: Duplex[] = [];
  try {
    for (let n = 0; n < 10; n++) {
      const r = await upgrade();
      if (r.socket) open.push(r.socket);
    }
    const refused = await upgradeReply();
    t.is(refused.status, 429);
    jsonError(t, refused, 'rate-limited', '1');
  } finally {
    for (const s of open) s.destroy();
  }
  await waitFor(async () => (await upgrade()).status === 101, 'the slots to free up', 5000);
});

test.serial("the API's own error answers pass through untouched", async (t) => {
  const r = await request(httpsUrl('/api/own-503'));
  t.is(r.status, 503);
  t.is(JSON.parse(r.body).error.code, 'draining');
  t.is(r.headers['retry-after'], '7', 'one Retry-After, the API\'s');
});

test.serial('with the API down, /api answers 502 with a JSON error and Retry-After', async (t) => {
  const api = apiServer!;
  await new Promise((r) => {
    api.close(r);
    api.closeAllConnections();
  });
  try {
    const r = await request(httpsUrl('/api/market'));
    t.is(r.status, 502);
    jsonError(t, r, 'unavailable', '5');
    SECURITY_HEADERS(t, r, '502');
    // Static files keep nginx's plain pages: only /api/ and /socket.io/ speak JSON.
    t.regex((await request(httpsUrl('/no-such-file'))).headers['content-type'] ?? '', /text\/html/);
  } finally {
    await new Promise<void>((resolve) => api.listen(ports.api, '127.0.0.1', resolve));
  }
  await waitFor(async () => (await request(httpsUrl('/api/market'))).status === 200, 'the API to be reachable again', 10_000);
});

test.serial('sslscan: only TLS 1.2 and 1.3, and only AEAD cipher suites', async (t) => {
  const { stdout } = await run('sslscan', ['--no-colour', `127.0.0.1:${ports.https}`], { timeout: 60_000 });
  for (const v of ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1']) t.regex(stdout, new RegExp(`^${v.replace('.', '\\.')}\\s+disabled`, 'm'), v);
  for (const v of ['TLSv1.2', 'TLSv1.3']) t.regex(stdout, new RegExp(`^${v.replace('.', '\\.')}\\s+enabled`, 'm'), v);
  const accepted = stdout.split('\n').filter((l) => /^(Preferred|Accepted)\s/.test(l));
  t.true(accepted.length >= 3, stdout);
  for (const line of accepted) {
    const cipher = line.trim().split(/\s+/)[4] ?? '';
    t.regex(cipher, /GCM|CHACHA20-POLY1305|CHACHA20_POLY1305/, `${cipher} is AEAD`);
    t.notRegex(cipher, /CBC|RC4|3DES|NULL|^AES|^DHE-|^ECDHE-[A-Z]+-AES\d+-SHA/, cipher);
  }
});

test.serial('SIGHUP picks up a replaced certificate', async (t) => {
  const before = await servedFingerprint();
  t.is(before, new X509Certificate(fs.readFileSync(certFile())).fingerprint256);

  // Replace the pair in place the way a renewal does: new files, renamed over the stable paths.
  const key = `${keyFile()}.new`;
  const cert = `${certFile()}.new`;
  execFileSync('openssl', ['req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '30', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  fs.renameSync(key, keyFile());
  fs.renameSync(cert, certFile());
  const after = new X509Certificate(fs.readFileSync(certFile())).fingerprint256;
  t.not(after, before);

  process.kill(nginx!.pid!, 'SIGHUP');
  await waitFor(async () => (await servedFingerprint()) === after, 'nginx to serve the new certificate', 10_000);
  t.is((await request(httpsUrl('/healthz'))).status, 200);
  t.is(nginx!.exitCode, null, 'still the same master');
});
