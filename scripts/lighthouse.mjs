// `make lighthouse`: Lighthouse 12.2.3 (mobile: its emulated phone, simulated throttling) on every
// view of the page as deployed (make site's folder through ddpm-serve), on the CPU path. Prints
// each view's cumulative layout shift and accessibility and best-practices scores, with the audits
// that cost points, and exits 1 where a view misses the goals (CLS ≤ 0.1, both scores ≥ 95).
// Lighthouse (110 MB of node modules) lives in the cache folder, installed by scripts/setup.sh.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch } from '../tests/e2e/harness.mjs';
import { serveSite } from '../tests/e2e/site.mjs';

const VIEWS = ['forward', 'reverse', 'compare', 'inpaint', 'guidance', 'spiral'];
const GOALS = { cls: 0.1, accessibility: 95, 'best-practices': 95 };
const PORT = 9347;

const modules = process.env.LIGHTHOUSE_NODE_MODULES;
if (!modules) throw new Error('LIGHTHOUSE_NODE_MODULES is not set: run `make lighthouse`');
const entry = createRequire(join(modules, 'noop.js')).resolve('lighthouse');
const { default: lighthouse } = await import(pathToFileURL(entry).href);

/** The elements an audit names, so a failure says where to look. */
const where = (audit) => {
  const nodes = (audit.details?.items ?? []).map((item) => item.node?.selector).filter(Boolean);
  return nodes.length ? ` (${nodes.slice(0, 4).join('; ')}${nodes.length > 4 ? ` and ${nodes.length - 4} more` : ''})` : '';
};

const site = await serveSite();
const browser = await launch({ webgpu: false, args: [`--remote-debugging-port=${PORT}`] });
const rows = [];
try {
  for (const view of VIEWS) {
    const { lhr } = await lighthouse(`${site.url}/index.html#view=${view}`, {
      port: PORT,
      logLevel: 'error',
      onlyCategories: ['performance', 'accessibility', 'best-practices'],
    });
    const score = (category) => Math.round(lhr.categories[category].score * 100);
    const lost = ['accessibility', 'best-practices'].flatMap((category) => lhr.categories[category].auditRefs
      .filter((ref) => ref.weight > 0 && lhr.audits[ref.id].score !== null && lhr.audits[ref.id].score < 1)
      .map((ref) => `${category}/${ref.id}${where(lhr.audits[ref.id])}`));
    const shifts = lhr.audits['layout-shifts']?.details?.items ?? [];
    rows.push({
      view,
      cls: lhr.audits['cumulative-layout-shift'].numericValue,
      accessibility: score('accessibility'),
      'best-practices': score('best-practices'),
      performance: score('performance'),
      lost,
      shifts: shifts.map((item) => `${item.node?.selector ?? item.node?.snippet ?? '?'} ${item.score.toFixed(3)}`),
      runtimeError: lhr.runtimeError?.message,
    });
  }
} finally {
  await browser.close();
  site.close();
}

console.log('view       CLS    accessibility  best practices  performance  audits short of full marks');
for (const r of rows) {
  console.log(`${r.view.padEnd(10)} ${r.cls.toFixed(3)}  ${String(r.accessibility).padStart(13)}  ${String(r['best-practices']).padStart(14)}  ${String(r.performance).padStart(11)}  ${r.lost.join(', ') || '—'}${r.runtimeError ? ` (runtime error: ${r.runtimeError})` : ''}`);
  if (r.cls > GOALS.cls) console.log(`  ${r.view}'s layout shifts: ${r.shifts.join('; ')}`);
}
const missed = rows.filter((r) => r.runtimeError || r.cls > GOALS.cls || r.accessibility < GOALS.accessibility || r['best-practices'] < GOALS['best-practices']);
if (missed.length) {
  console.log(`missed the goals (CLS ≤ ${GOALS.cls}, accessibility and best practices ≥ 95): ${missed.map((r) => r.view).join(', ')}`);
  process.exit(1);
}
console.log(`every view meets the goals (CLS ≤ ${GOALS.cls}, accessibility and best practices ≥ 95)`);
