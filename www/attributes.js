// @ts-check
// The attributes of <ddpm-demo>, with what each does: the one list. `node scripts/attributes.mjs`
// writes the tables in docs/embedding.md and pkg-config/README.md from it (make test checks them).
import { ALIASES, VIEWS } from './views/index.js';
import { METHODS } from './views/sampler-controls.js';

const elementName = (view) => Object.keys(ALIASES).find((alias) => ALIASES[alias] === view) ?? view;

export const ATTRIBUTES = {
  view: `${Object.keys(VIEWS).map(elementName).join(' | ')} (default fork; "compare" is "fork")`,
  model: 'a shipped model id (www/models/index.json): faces64 (the default), fashion32 (guidance\'s: guidance needs a class-conditional model), spiral2d (spiral\'s)',
  seed: 'the random seed (default 0)',
  t: 'forward: the timestep shown; fork: the timesteps to fork at, e.g. "250,500,750"',
  sampler: `reverse, fork: ${METHODS.map((m) => m.value).join(' | ')} (default: the model card's choice for the backend; guidance always runs DDIM)`,
  eta: 'reverse, fork, guidance: DDIM η (guidance\'s default 1)',
  steps: 'reverse, fork: sampler steps; inpaint: steps; guidance: DDIM steps',
  n: 'reverse: samples; fork: samples per t; inpaint, guidance: samples; spiral: particles',
  class: 'reverse, fork, guidance: the class of a class-conditional model',
  film: 'reverse: the t of the filmstrip\'s x̂_0, e.g. "999,500,0"',
  layout: 'fork: rows | fig7',
  image: 'forward, inpaint: a shipped image, "faces:0" … "faces:39" or "fashion:0" … "fashion:99" (default: the model\'s own held-out set)',
  w: 'guidance: the largest guidance weight (rows 0 … w)',
  weights: 'guidance: exact weights for the rows instead, e.g. "0,4"',
  quadrants: 'inpaint: known quadrants TL TR BL BR as four 0/1, e.g. "1100" (top half known)',
  method: 'inpaint: replacement | repaint',
  jump: 'inpaint, RePaint: jump length',
  resample: 'inpaint, RePaint: resamplings',
  'train-steps': 'spiral: steps of a live training run (Train button)',
  autorun: 'reverse, fork, inpaint, guidance: run once ready, without waiting for a click',
  cpu: 'present on the first element to start: use the CPU even where WebGPU works',
  'worker-url': 'on the first element to start: a module worker on the page\'s own origin that imports www/worker.js, for pages whose CSP forbids blob: workers',
  'files-base': 'on the first element to start: the URL of a folder laid out as the package (it holds www/) to fetch the shipped models and images from, for authors who host them elsewhere',
};
