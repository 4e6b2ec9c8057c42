// The <ddpm-demo> attribute tables of docs/embedding.md and pkg-config/README.md, written from
// www/attributes.js (the one list) between their `attributes` markers. `--check` (make lint)
// only says whether they are current.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ATTRIBUTES } from '../www/attributes.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FILES = ['docs/embedding.md', 'pkg-config/README.md'];
const BEGIN = '<!-- attributes: written by scripts/attributes.mjs from www/attributes.js -->';
const END = '<!-- /attributes -->';

const escape = (text) => text.replaceAll('|', '\\|');
const table = ['| attribute | what it does |', '|---|---|', ...Object.entries(ATTRIBUTES).map(([name, what]) => `| \`${name}\` | ${escape(what)} |`)].join('\n');

const stale = [];
for (const file of FILES) {
  const path = join(ROOT, file);
  const text = await readFile(path, 'utf8');
  const [start, end] = [text.indexOf(BEGIN), text.indexOf(END)];
  if (start < 0 || end < start) throw new Error(`${file}: no ${BEGIN} … ${END} markers`);
  const next = `${text.slice(0, start + BEGIN.length)}\n${table}\n${text.slice(end)}`;
  if (next === text) continue;
  stale.push(file);
  if (!process.argv.includes('--check')) await writeFile(path, next);
}
if (process.argv.includes('--check') && stale.length) {
  console.error(`${stale.join(', ')}: the attribute table is not www/attributes.js's; run node scripts/attributes.mjs`);
  process.exit(1);
}
