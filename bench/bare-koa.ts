/**
 * The reference ceiling: the smallest koa + @koa/router service, in its own process, answering
 * GET /hello. Whatever the real API does per request is measured against this.
 */
import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';

const app = new Koa();
const router = new Router();
router.get('/hello', (ctx) => {
  ctx.body = 'hello';
});
app.use(router.routes());

const server = createServer(app.callback());
// Same keep-alive as the API's main.ts, so the load generator's connections behave alike.
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
