/**
 * The open-loop generator's HTTP client (bench/http-client.ts) against a real Node server on
 * loopback: keep-alive reuse, Content-Length and chunked bodies, a server that closes the
 * connection, more requests than connections (queued in order), and the parser on split input.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createPool, parse, type Reply } from '../../bench/http-client.js';

test('requests over a small pool: every one answered, bodies intact, sockets reused, a closed connection replaced', async (t) => {
  const sockets = new Set<unknown>();
  let n = 0;
  const server = createServer((req, res) => {
    sockets.add(req.socket);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      n += 1;
      const echo = JSON.stringify({ n, body, auth: req.headers.authorization, path: req.url });
      if (n % 7 === 0) {
        res.writeHead(201, { 'Content-Type': 'application/json' }); // chunked: no Content-Length
        res.write(echo.slice(0, 5));
        res.end(echo.slice(5));
      } else if (n % 11 === 0) {
        res.writeHead(202, { Connection: 'close', 'Content-Length': Buffer.byteLength(echo) }).end(echo);
      } else {
        res.writeHead(202, { 'Content-Length': Buffer.byteLength(echo) }).end(echo);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const { port } = server.address() as AddressInfo;
  const pool = createPool({ url: `http://127.0.0.1:${port}`, connections: 3 });
  t.teardown(() => pool.close());
  const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => new Promise<Reply>((resolve, reject) => {
    pool.post('/api/bets', 'Authorization: Bearer tok\r\n', `{"i":${i},"x":"é"}`, (err, reply) => (err || !reply ? reject(err) : resolve(reply)));
  })));
  t.is(replies.length, 60);
  const bodies = replies.map((r) => JSON.parse(r.body) as { body: string; auth: string; path: string });
  t.deepEqual(bodies.map((b) => JSON.parse(b.body).i), Array.from({ length: 60 }, (_, i) => i));
  t.true(bodies.every((b) => b.auth === 'Bearer tok' && b.path === '/api/bets' && JSON.parse(b.body).x === 'é'));
  t.true(replies.some((r) => r.status === 201), 'chunked replies parsed');
  // 3 connections, plus one for each the server closed (every 11th request).
  t.true(sockets.size <= 3 + Math.floor(60 / 11), `${sockets.size} connections for 60 requests`);
});

test('the parser waits for a whole response and reads status, length and chunks', (t) => {
  const whole = Buffer.from('HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\ncontent-length: 4\r\n\r\nabcd');
  for (let cut = 0; cut < whole.length; cut++) t.is(parse(whole.subarray(0, cut)), undefined, `cut at ${cut}`);
  t.deepEqual(parse(whole), { status: 409, body: 'abcd', close: false });
  const chunked = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
  t.is(parse(chunked.subarray(0, chunked.length - 3)), undefined);
  t.deepEqual(parse(chunked), { status: 200, body: 'abcde', close: true });
  t.throws(() => parse(Buffer.from('HTTP/1.1 200 OK\r\nX: y\r\n\r\nbody')), { message: /without Content-Length/ });
});
