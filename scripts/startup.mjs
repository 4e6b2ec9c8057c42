// The page's own start on the CPU path, in Chromium on this machine: time until `body[data-ready]`,
// and the main thread's long tasks (over 50 ms) until 3 s after it, with the CPU slowed 4× as
// Lighthouse's mobile run does; their excess over 50 ms is its total blocking time. Plain and
// cross-origin isolated (the threaded build), median of ROUNDS visits each.
//   node scripts/startup.mjs [VIEW]     (needs pkg/: make pkg)
import { launch, serve } from '../tests/e2e/harness.mjs';

const VIEW = process.argv[2] ?? 'reverse';
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function visit(browser, url, throttle) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  await page.addInitScript(() => {
    self.longTasks = [];
    new PerformanceObserver((list) => self.longTasks.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: true });
  });
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  const readyMs = Date.now() - started;
  await page.waitForTimeout(3000);
  const tasks = await page.evaluate(() => self.longTasks);
  await context.close();
  return { readyMs, blockingMs: tasks.reduce((sum, ms) => sum + Math.max(0, ms - 50), 0), longest: Math.max(0, ...tasks) };
}

const browser = await launch({ webgpu: false });
console.log(`index.html#view=${VIEW}, CPU path, median of ${ROUNDS}:`);
console.log('| page | ready | ready, CPU 4× slower | blocking time, CPU 4× slower | longest task |\n|---|---|---|---|---|');
for (const isolated of [false, true]) {
  const server = await serve(undefined, { isolated });
  const url = `${server.url}/index.html?cpu=1#view=${VIEW}`;
  const fast = [];
  const slow = [];
  for (let i = 0; i < ROUNDS; i++) {
    fast.push(await visit(browser, url, 1));
    slow.push(await visit(browser, url, 4));
  }
  server.close();
  const ms = (rows, key) => `${median(rows.map((r) => r[key])).toFixed(0)} ms`;
  console.log(`| ${isolated ? 'cross-origin isolated (threads)' : 'plain (one thread)'} | ${ms(fast, 'readyMs')} | ${ms(slow, 'readyMs')} | ${ms(slow, 'blockingMs')} | ${ms(slow, 'longest')} |`);
}
await browser.close();
