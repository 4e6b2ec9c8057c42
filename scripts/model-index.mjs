// Writes each shipped model's weights — {file: {sha256, bytes}} — into www/models/index.json,
// where the page keys its weights cache (www/weights-cache.js): a retrained model gets a new
// hash, so browsers that cached the old one fetch it again. With them, the sampler the page
// starts with on each backend, as the model's evaluation chose it (`default_sampler` in
// evaluation.json, from the card's per-sampler table: train/evaluate.py --samplers), and that
// table, which the page shows beside its sampler controls; and the card's guidance figures, which
// the guidance view shows beside its controls.
//   node scripts/model-index.mjs          rewrite the index
//   node scripts/model-index.mjs --check  exit 1 if the index is out of date (make test runs it)
import { createHash } from 'node:crypto';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const INDEX = join(ROOT, 'www/models/index.json');

async function weightFiles(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await weightFiles(path)));
    else if (entry.name.endsWith('.safetensors')) found.push(path);
  }
  return found.sort();
}

async function evaluation(dir) {
  const path = join(dir, 'evaluation.json');
  if (!(await access(path).then(() => true, () => false))) return {};
  return JSON.parse(await readFile(path, 'utf8'));
}

const settings = ({ sampler, steps, eta }) => (sampler === 'ddim' ? { sampler, steps, eta } : { sampler, steps });

/** {webgpu, cpu: {sampler, steps, eta?}} from the model's evaluation, or undefined without one. */
function chosenSampler({ default_sampler: chosen }) {
  return chosen ? { webgpu: settings(chosen.webgpu), cpu: settings(chosen.cpu) } : undefined;
}

/** The card's per-sampler table as the page shows it beside its sampler controls, or undefined. */
function samplerQuality({ samplers }) {
  const rows = Object.values(samplers ?? {}).filter((row) => row.page);
  if (!rows.length) return undefined;
  return rows.map((row) => ({
    ...settings(row.page),
    samples: row.samples,
    grainy: Math.round(row.grainy_share * row.samples),
    grainRatio: Math.round(row.grain_ratio * 100) / 100,
    clean: row.clean,
  }));
}

/** The card's guidance figures as the page shows them beside its guidance controls, or undefined. */
function guidanceQuality({ guidance }) {
  if (!guidance?.better) return undefined;
  return {
    ...settings(guidance.page),
    samples: guidance.samples,
    classes: Object.keys(guidance.classes).length,
    // By w: an object's integer-like keys ("1", "2", "4") come before "0.5", whatever the file's order.
    rows: Object.entries(guidance.better).map(([w, n]) => ({ w: Number(w), logPRises: n.log_p, rmsFalls: n.l2, shapeFalls: n.shape }))
      .sort((a, b) => a.w - b.w),
  };
}

const index = JSON.parse(await readFile(INDEX, 'utf8'));
const stale = [];
for (const model of index) {
  const dir = join(ROOT, model.path);
  const files = {};
  for (const path of await weightFiles(dir)) {
    const bytes = await readFile(path);
    files[relative(dir, path)] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
  const measured = await evaluation(dir);
  const derived = { files, defaultSampler: chosenSampler(measured), samplerQuality: samplerQuality(measured), guidanceQuality: guidanceQuality(measured) };
  for (const [key, value] of Object.entries(derived)) {
    if (JSON.stringify(value) !== JSON.stringify(model[key]) && !stale.includes(model.id)) stale.push(model.id);
    if (value) model[key] = value;
    else delete model[key];
  }
}
if (process.argv.includes('--check')) {
  if (stale.length) {
    console.error(`www/models/index.json is out of date for ${stale.join(', ')}: run node scripts/model-index.mjs`);
    process.exit(1);
  }
  console.log('www/models/index.json: every weight file\'s hash and size match');
} else {
  await writeFile(INDEX, JSON.stringify(index, null, 2) + '\n');
  console.log(stale.length ? `updated ${stale.join(', ')}` : 'already up to date');
}
