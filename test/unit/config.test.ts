import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CONFIG_SPEC, ConfigError, loadConfig, maskedConfig } from '../../services/shared/config.js';

test('defaults give a complete, frozen config', (t) => {
  const c = loadConfig({}, { cwd: '/srv/tapstack' });
  t.is(c.dataDir, '/srv/tapstack/data');
  t.is(c.dbFile, '/srv/tapstack/data/tapstack.db');
  t.is(c.http.port, 8080);
  t.is(c.siwe.domain, 'localhost');
  t.is(c.siwe.origin, 'https://localhost');
  t.deepEqual(c.siwe.chainIds, [1]);
  t.is(c.siwe.maxSkewSeconds, 30);
  t.is(c.siwe.nonceTtlSeconds, 90);
  t.is(c.session.ttlSeconds, 86400);
  t.false(c.demo.enabled);
  t.is(c.demo.grant, 100000);
  t.true(Object.isFrozen(c));
  t.true(Object.isFrozen(c.siwe));
  t.throws(() => {
    (c.http as { port: number }).port = 1;
  });
});

test('every bad variable is reported at once', (t) => {
  const err = t.throws(
    () =>
      loadConfig({
        TAPSTACK_HTTP_PORT: 'eighty',
        TAPSTACK_PUBLIC_ORIGIN: 'https://example.com/app',
        TAPSTACK_SIWE_CHAIN_IDS: '1,x',
        TAPSTACK_DEMO_MODE: 'maybe',
        TAPSTACK_INTEGRITY_CRON: 'every day',
        TAPSTACK_LOG_LEVEL: 'loud',
        TAPSTACK_POTR: '1',
      }),
    { instanceOf: ConfigError },
  );
  const text = err?.message ?? '';
  for (const name of ['TAPSTACK_HTTP_PORT', 'TAPSTACK_PUBLIC_ORIGIN', 'TAPSTACK_SIWE_CHAIN_IDS', 'TAPSTACK_DEMO_MODE', 'TAPSTACK_INTEGRITY_CRON', 'TAPSTACK_LOG_LEVEL', 'TAPSTACK_POTR']) {
    t.true(text.includes(name), `${name} missing from: ${text}`);
  }
  t.is((err as ConfigError).problems.length, 7);
});

test('the demo grant is parsed with the currency decimals', (t) => {
  t.is(loadConfig({ TAPSTACK_DEMO_GRANT: '12.5', TAPSTACK_CURRENCY_DECIMALS: '2' }).demo.grant, 1250);
  t.throws(() => loadConfig({ TAPSTACK_DEMO_GRANT: '12.5', TAPSTACK_CURRENCY_DECIMALS: '0' }), { message: /TAPSTACK_DEMO_GRANT/ });
});

test('secrets can come from a file, never both ways, and are masked and never echoed', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  const file = path.join(dir, 'redis-password');
  fs.writeFileSync(file, 's3cret-value\n');
  const c = loadConfig({ TAPSTACK_REDIS_PASSWORD_FILE: file });
  t.is(c.redis.password, 's3cret-value');
  t.false(JSON.stringify(maskedConfig(c)).includes('s3cret-value'));

  const both = t.throws(() => loadConfig({ TAPSTACK_REDIS_PASSWORD_FILE: file, TAPSTACK_REDIS_PASSWORD: 'x' }));
  t.regex(both?.message ?? '', /both set/);
  const missing = t.throws(() => loadConfig({ TAPSTACK_REDIS_PASSWORD_FILE: path.join(dir, 'nope') }));
  t.regex(missing?.message ?? '', /cannot read/);

  const withUrlPassword = loadConfig({ TAPSTACK_REDIS_URL: 'redis://:hunter2@127.0.0.1:6379/0' });
  t.false(JSON.stringify(maskedConfig(withUrlPassword)).includes('hunter2'));
});

test('the SIWE domain follows the public origin unless set', (t) => {
  t.is(loadConfig({ TAPSTACK_PUBLIC_ORIGIN: 'https://play.example.com:8443' }).siwe.domain, 'play.example.com:8443');
  t.is(loadConfig({ TAPSTACK_PUBLIC_ORIGIN: 'https://play.example.com', TAPSTACK_SIWE_DOMAIN: 'example.com' }).siwe.domain, 'example.com');
});

test('every variable the spec marks secret is masked in the logged config', (t) => {
  const env = Object.fromEntries(
    Object.values(CONFIG_SPEC)
      .filter((s) => s.secret)
      .map((s, i) => [s.env, s.env.endsWith('_URL') ? `https://hook.example/secret-${i}` : `secret-${i}`]),
  );
  const c = loadConfig({ ...env, TAPSTACK_ALERT_TELEGRAM_CHAT_ID: '1' });
  const masked = JSON.stringify(maskedConfig(c));
  for (const value of Object.values(env)) t.false(masked.includes(value), value);
  t.true(Object.values(env).every((value) => JSON.stringify(c).includes(value)), 'the unmasked config holds them');
});

test('a value that fails to convert does not hide the rules between the others', (t) => {
  const err = t.throws(() => loadConfig({ TAPSTACK_CURRENCY_DECIMALS: '0', TAPSTACK_STAKE_MIN: '1', TAPSTACK_DEMO_GRANT: '12.5', TAPSTACK_MULTIPLIER_MIN: '0.5' }), { instanceOf: ConfigError });
  t.deepEqual(err?.problems.map((p) => p.split(/[= ]/)[0]).sort(), ['TAPSTACK_DEMO_GRANT', 'TAPSTACK_MULTIPLIER_MIN']);
});
