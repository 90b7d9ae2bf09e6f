/** The env-var table of the docs, generated from CONFIG_SPEC (a test keeps the docs in step). */
import { CONFIG_SPEC } from './config.js';

export function envTableMarkdown(): string {
  const rows = Object.values(CONFIG_SPEC).map((s) => {
    const def = 'default' in s && s.default !== undefined ? (s.default === '' ? '(empty)' : `\`${s.default}\``) : '**required**';
    const name = 'secret' in s && s.secret ? `\`${s.env}\` (or \`${s.env}_FILE\`)` : `\`${s.env}\``;
    return `| ${name} | ${def} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
