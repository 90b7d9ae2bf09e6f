/**
 * One home for every Redis name (services/shared/redis-names.ts): no key, stream or channel is
 * spelled as a literal anywhere else in the source tree. The names looked for are derived from the
 * registry's exports, so a name added there is policed here at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import ts from 'typescript';
import * as names from '../../services/shared/redis-names.js';

const REPO = process.cwd();
const REGISTRY = 'services/shared/redis-names.ts';
/** This file plants literals on purpose, to show the check finds them. */
const SELF = 'test/unit/redis-names.test.ts';
const ROOTS = ['services', 'backup', 'cli', 'healthchecks', 'bench', 'test'];
/** Stands for a builder's arguments: what precedes it in a built name is the literal part. */
const HOLE = '\u0000';

/** Every key and stream name of the registry, builders filled with HOLEs, and the channel names. */
function registryNames(): { keys: string[]; channels: string[] } {
  const keys: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string') keys.push(v);
    else if (typeof v === 'function') keys.push(String((v as (...a: string[]) => unknown)(...Array<string>(v.length).fill(HOLE))));
  };
  for (const [name, v] of Object.entries(names)) {
    if (name === 'channels' || name === 'fullKeyName') continue;
    if (v && typeof v === 'object') Object.values(v).forEach(add);
    else add(v);
  }
  return { keys, channels: Object.values(names.channels('')) };
}

/**
 * What a literal may not start with: each name's first segment (`bal:`, `liab:`, `quote:` ...), or
 * the whole literal part of a name without a `:`. The consumer group and consumer (`writer`) are
 * left out: a bare word, also the writer's process name, that only means a Redis name as an
 * argument to the stream commands, all of which take it from the registry.
 */
function forbiddenStarts(): { starts: string[]; channels: string[] } {
  const { keys, channels } = registryNames();
  const starts = new Set<string>();
  for (const k of keys) {
    const literal = k.split(HOLE)[0] as string;
    const colon = literal.indexOf(':');
    if (colon > 0) starts.add(literal.slice(0, colon + 1));
    else if (literal !== names.WRITER_GROUP && literal !== names.WRITER_CONSUMER) starts.add(literal);
  }
  return { starts: [...starts], channels };
}

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(rel);
      } else if (/\.(ts|mts|tsx)$/.test(e.name) && rel !== REGISTRY && rel !== SELF) out.push(rel);
    }
  };
  for (const r of ROOTS) walk(r);
  return out;
}

/** `file:line: text` for each string literal (or template part) in `text` that spells a Redis name. */
function literalRedisNames(file: string, text: string, rules = forbiddenStarts()): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node, value: string) => found.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${JSON.stringify(value)}`);
  // A key name has no whitespace: prose that happens to start like one ("quote: ...") is not a key.
  const spellsKey = (s: string) => !/\s/.test(s) && rules.starts.some((p) => s.startsWith(p));
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node)) {
      if (spellsKey(node.text)) report(node, node.text);
    } else if (ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      // After an interpolation: `${prefix}bal:...` or a channel `${prefix}ticks`.
      const rest = node.text.split(/\s/)[0] as string;
      if (spellsKey(node.text) || rules.channels.includes(rest)) report(node, node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

test('the registry exports names the check can see (a broken derivation would pass everything)', (t) => {
  const { starts, channels } = forbiddenStarts();
  for (const s of ['bal:', 'pend:', 'idem:', 'rl:', 'liab:', 'pendh:', 'writer:', 'quote:', 'market:', 'ticks:', 'session:', 'nonce:']) t.true(starts.includes(s), s);
  t.deepEqual(channels.sort(), ['breaker', 'quotes', 'ticks', 'user-events']);
});

test('the check finds a key, stream or channel spelled as a literal, and leaves prose alone', (t) => {
  const planted = [
    "await redis.get(`bal:${address}`);",
    "await redis.xlen('writer:dead');",
    'const k = "pend:" + address;',
    'await redis.keys(`${prefix}liab:*:${startMs}*`);',
    'await redis.publish(`${config.redis.prefix}user-events`, m);',
    '// a comment naming `bal:<address>` is not code',
    "log.info('quote: none yet');",
    "const ref = `bet:${id}:stake`;",
  ].join('\n');
  const hits = literalRedisNames('planted.ts', planted);
  t.deepEqual(
    hits.map((h) => h.split(': ')[0]),
    ['planted.ts:1', 'planted.ts:2', 'planted.ts:3', 'planted.ts:4', 'planted.ts:5'],
    hits.join('\n'),
  );
});

test('no Redis name is spelled outside the registry', (t) => {
  const rules = forbiddenStarts();
  const files = sourceFiles();
  t.true(files.length > 100, 'the source tree was found');
  const hits = files.flatMap((f) => literalRedisNames(f, fs.readFileSync(path.join(REPO, f), 'utf8'), rules));
  t.deepEqual(hits, [], `Redis names spelled as literals; use services/shared/redis-names.ts:\n${hits.join('\n')}`);
});
