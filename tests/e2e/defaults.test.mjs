// The page's starting settings, as pure functions of the model list entry and the backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSampler } from '../../www/views/reverse.js';

const entry = { defaultSampler: { webgpu: { sampler: 'ddpm-small', steps: 1000 }, cpu: { sampler: 'ddim', steps: 50, eta: 0 } } };

test('a model card\'s choice per backend; the fork view takes the cheaper one everywhere', () => {
  assert.deepEqual(defaultSampler(entry, 'webgpu', 'reverse', 1000), { sampler: 'ddpm-small', steps: 1000, eta: 0 });
  assert.deepEqual(defaultSampler(entry, 'cpu', 'reverse', 1000), { sampler: 'ddim', steps: 50, eta: 0 });
  assert.deepEqual(defaultSampler(entry, 'webgpu', 'fork', 1000), { sampler: 'ddim', steps: 50, eta: 0 });
});

test('without a card\'s choice: Algorithm 2 as written on WebGPU, 100 strided DDPM steps on the CPU', () => {
  for (const model of [undefined, { id: 'user' }]) {
    assert.deepEqual(defaultSampler(model, 'webgpu', 'reverse', 1000), { sampler: 'ddpm-small', steps: 1000, eta: 0 });
    assert.deepEqual(defaultSampler(model, 'cpu', 'reverse', 1000), { sampler: 'ddpm-small', steps: 100, eta: 0 });
    assert.deepEqual(defaultSampler(model, 'webgpu', 'fork', 1000), { sampler: 'ddpm-small', steps: 100, eta: 0 });
  }
});

test('never more steps than the schedule has', () => {
  assert.deepEqual(defaultSampler(entry, 'webgpu', 'reverse', 40), { sampler: 'ddpm-small', steps: 40, eta: 0 });
  assert.deepEqual(defaultSampler(undefined, 'cpu', 'reverse', 40), { sampler: 'ddpm-small', steps: 40, eta: 0 });
});
