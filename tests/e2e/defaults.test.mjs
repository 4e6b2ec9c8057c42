// The page's starting settings, as pure functions of the model list entry and the backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readInputs, settle } from '../../www/views/parts.js';
import { defaultSampler, measuredQuality } from '../../www/views/sampler-controls.js';
import { measuredGuidance } from '../../www/views/guidance.js';

const entry = { defaultSampler: { webgpu: { sampler: 'ddpm-small', steps: 1000 }, cpu: { sampler: 'ddim', steps: 50, eta: 0 } } };

test('a model card\'s choice per backend; the fork view takes the cheaper one everywhere', () => {
  assert.deepEqual(defaultSampler(entry, 'webgpu', false, 1000), { sampler: 'ddpm-small', steps: 1000, eta: 0 });
  assert.deepEqual(defaultSampler(entry, 'cpu', false, 1000), { sampler: 'ddim', steps: 50, eta: 0 });
  assert.deepEqual(defaultSampler(entry, 'webgpu', true, 1000), { sampler: 'ddim', steps: 50, eta: 0 });
});

test('without a card\'s choice: Algorithm 2 as written on WebGPU, 100 strided DDPM steps on the CPU', () => {
  for (const model of [undefined, { id: 'user' }]) {
    assert.deepEqual(defaultSampler(model, 'webgpu', false, 1000), { sampler: 'ddpm-small', steps: 1000, eta: 0 });
    assert.deepEqual(defaultSampler(model, 'cpu', false, 1000), { sampler: 'ddpm-small', steps: 100, eta: 0 });
    assert.deepEqual(defaultSampler(model, 'webgpu', true, 1000), { sampler: 'ddpm-small', steps: 100, eta: 0 });
  }
});

test('never more steps than the schedule has', () => {
  assert.deepEqual(defaultSampler(entry, 'webgpu', false, 40), { sampler: 'ddpm-small', steps: 40, eta: 0 });
  assert.deepEqual(defaultSampler(undefined, 'cpu', false, 40), { sampler: 'ddpm-small', steps: 40, eta: 0 });
});

test('a view\'s settings from attributes or a link: numbers clamped to their range, bad values fall back', () => {
  const defaults = { steps: 100, eta: 0, method: 'replacement', image: '' };
  const ranges = { steps: [2, 1000], eta: [0, 1, false] };
  assert.deepEqual(settle(defaults, {}, ranges), defaults);
  assert.deepEqual(settle(defaults, { steps: '7.6', eta: '0.25', method: 'repaint', image: 'faces:3' }, ranges),
    { steps: 8, eta: 0.25, method: 'repaint', image: 'faces:3' });
  assert.deepEqual(settle(defaults, { steps: '99999', eta: '-1' }, ranges), { ...defaults, steps: 1000, eta: 0 });
  assert.deepEqual(settle(defaults, { steps: 'many', eta: 'NaN', method: null, image: '' }, ranges), defaults);
  assert.deepEqual(settle(defaults, { unknown: 3 }, ranges), defaults, 'only the view\'s own settings');
});

test('a view\'s controls read back like a link: clamped, a non-number keeps the last setting, the control shows what was kept', () => {
  const controls = { n: { value: '50' }, steps: { value: '' }, eta: { value: '0.3' }, 'train-steps': { value: 'abc' }, method: { value: 'repaint' } };
  const settings = { n: 4, steps: 100, eta: 1, trainSteps: 3000, method: 'replacement', other: 'kept' };
  readInputs((name) => controls[name], settings, ['n', 'steps', 'eta', 'trainSteps', 'method'],
    { n: [1, 10], steps: [2, 1000], eta: [0, 1, false], trainSteps: [100, 20000] });
  assert.deepEqual(settings, { n: 10, steps: 100, eta: 0.3, trainSteps: 3000, method: 'repaint', other: 'kept' });
  assert.deepEqual(Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.value])),
    { n: '10', steps: '100', eta: '0.3', 'train-steps': '3000', method: 'repaint' });
});

test('the card\'s measured quality for the chosen method, with a caution where the nearest measured setting speckles', () => {
  const row = (sampler, steps, eta, grainy, clean) => ({ ...(sampler === 'ddim' ? { sampler, steps, eta } : { sampler, steps }), samples: 32, grainy, grainRatio: clean ? 0.8 : 2.26, clean });
  const model = { samplerQuality: [row('ddpm-small', 1000, undefined, 0, true), row('ddim', 50, 1, 0, true),
    row('ddim', 200, 0, 16, false), row('ddim', 50, 0, 0, true), row('ddim', 100, 0, 1, true)] };
  const at = (steps, eta = 0, sampler = 'ddim') => measuredQuality(model, { sampler, steps, eta });

  assert.deepEqual(at(50), { caution: false,
    text: 'Measured on this model (its card), DDIM, η = 0: 50 steps, 0 of 32 samples grainy; 100 steps, 1 of 32 samples grainy; 200 steps, 16 of 32 samples grainy.' });
  assert.equal(at(120).caution, false, 'nearest is 100 steps, clean');
  const speckled = at(200);
  assert.equal(speckled.caution, true);
  assert.match(speckled.text, /⚠ At this setting, 16 of 32 samples came out grainy \(grain 2\.26× the training images'\)\. /);
  assert.match(speckled.text, /Clean on this model: DDIM, η = 1 at 50 steps; DDIM, η = 0 at 50 and 100 steps; DDPM, σ² = β̃ at 1000 steps\.$/);
  assert.match(at(160).text, /⚠ At 200 steps, the nearest measured, 16 of 32/);
  assert.equal(at(150).caution, true, 'a tie in distance goes to the more steps');
  assert.equal(at(1000, 0, 'ddpm-small').caution, false);
  assert.match(at(10, 1).text, /DDIM, η = 1: 50 steps, 0 of 32 samples grainy\.$/);
  assert.equal(at(50, 0.5), null, 'an η the card did not measure');
  assert.equal(at(1000, 0, 'ddpm-large'), null);
  assert.equal(measuredQuality({ id: 'user' }, { sampler: 'ddim', steps: 50, eta: 0 }), null, 'a model without a card');
});

test('the card\'s guidance figures: per measure, in how many classes each row\'s w beats w = 0', () => {
  const model = { guidanceQuality: { sampler: 'ddim', steps: 50, eta: 1, samples: 16, classes: 10, rows: [
    { w: 0.5, logPRises: 10, rmsFalls: 9, shapeFalls: 10 }, { w: 4, logPRises: 8, rmsFalls: 2, shapeFalls: 9 }] } };
  assert.equal(measuredGuidance(model), 'Measured on this model (its card; 16 samples for each of its 10 classes, DDIM, 50 steps, η = 1). '
    + 'Against w = 0, at w = 0.5 / 4: the class judge\'s log p(class | x) rises for 10 / 8 of 10 classes; '
    + 'the RMS distance to the class mean falls for 9 / 2; the shape distance for 10 / 9.');
  assert.equal(measuredGuidance(model, { steps: 50, eta: 1 }), measuredGuidance(model), 'the card\'s own settings add nothing');
  for (const settings of [{ steps: 10, eta: 1 }, { steps: 50, eta: 0 }]) {
    assert.ok(measuredGuidance(model, settings).endsWith(` These rows use ${settings.steps} steps, η = ${settings.eta}: not what the card measured.`));
  }
  for (const unmeasured of [undefined, { id: 'user' }, { guidanceQuality: { rows: [] } }]) assert.equal(measuredGuidance(unmeasured), null);
});
