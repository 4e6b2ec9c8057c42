// Types of ddpm-web's JS API: the <ddpm-demo> element, the worker client and the model store.
// The wasm module's own types are in pkg/webgpu/ddpm_web.d.ts (import 'ddpm-web/wasm'; 'ddpm-web/wasm-cpu' is the CPU-only build).

/** A diffusers-style DDPM/DDIM sampler setting, as the Rust core takes it (snake_case). */
export interface SamplerSettings {
  method:
    | { kind: 'ddpm'; variance: 'fixed_small' | 'fixed_large' }
    | { kind: 'ddim'; eta: number; use_clipped_model_output?: boolean };
  steps: number;
  spacing: 'leading' | 'trailing' | 'linspace';
  steps_offset: number;
  /** Clip x̂_0 to [−range, range]; absent or null: no clipping. */
  clip_sample?: number | null;
}

/** The parts of a diffusers scheduler_config.json the core reads; absent fields: diffusers' defaults. */
export interface SchedulerConfig {
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  trained_betas?: number[] | null;
  variance_type?: string;
  clip_sample?: boolean;
  clip_sample_range?: number;
  prediction_type?: 'epsilon';
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  steps_offset?: number;
  set_alpha_to_one?: boolean;
}

export interface ModelInfo {
  parameters: number;
  dtypes: string[];
  inChannels: number;
  /** Absent when the config has none (any size works). */
  sampleSize?: number;
  /** With the null class; absent for unconditional models. */
  numClasses?: number;
  /** The label that means "no class" (a run without `class` uses it); absent for unconditional models. */
  nullClass?: number;
  defaultSettings: SamplerSettings;
  scheduler: Required<SchedulerConfig>;
  /** Milliseconds of the first ε_θ evaluation (shader compilation on WebGPU). */
  warmupMs: number;
  /** Milliseconds of a warm ε_θ evaluation of one sample: the basis of the page's run estimates. */
  evalMs: number;
}

export interface Backend {
  kind: 'webgpu' | 'cpu';
  /** Why the CPU runs; absent on WebGPU. */
  reason?: string;
}

export interface RunSettings {
  seed: number;
  batch?: number;
  /** Image side for models whose config has no sample_size. */
  size?: number;
  sampler?: SamplerSettings;
  class?: number;
  /** Classifier-free guidance with weight w (class-conditional models; DDIM then steps with the clipped x̂_0's ε). */
  guidance?: { weight: number };
  /** Continue from one x_t at timestep t: `batch` samples of p(x_0 | x_t). */
  start?: { xt: Float32Array | number[]; t: number };
}

export interface InpaintSettings {
  seed: number;
  batch?: number;
  /** [C, H, W] in [−1, 1]. */
  image: Float32Array;
  /** [H, W], 1 = known, 0 = fill. */
  mask: Float32Array;
  method:
    | { kind: 'replacement'; sampler?: SamplerSettings }
    | { kind: 'repaint'; steps: number; jump_length: number; jump_n_sample: number; eta?: number; clip_sample?: number | null };
}

/** One reverse step: ε_θ was evaluated at `t`; `xt` is the new state at `next` (−1: x_0). NCHW. */
export interface StepOutput {
  t: number;
  next: number;
  xt: Float32Array;
  /** Absent when the step was asked for without it (`Wanted`). */
  x0?: Float32Array;
  eps?: Float32Array;
}

/** What a step reads back besides x_t (both when absent): leave out what will not be drawn. */
export interface Wanted {
  x0?: boolean;
  eps?: boolean;
}

/** `Wanted` of a step whose x̂_0 and ε̂ are not drawn. */
export const XT_ONLY: Readonly<Wanted>;

/** A shipped model's weight files and their SHA-256, the weights cache's keys (www/models/index.json). */
export type WeightHashes = Record<string, { sha256: string; bytes: number }>;

/** What the weights cache did with one file of a load. */
export interface CacheOutcome {
  file: string;
  source: 'cache' | 'network';
  stored: boolean;
  /** Why it was not stored (no Cache API here, storage refused, a hash mismatch). */
  reason?: string;
}

export interface CacheContents {
  available: boolean;
  reason?: string;
  entries: { url: string; bytes: number }[];
}

export type LoadProgress = { phase: 'download'; file: string; loaded: number; total: number } | { phase: 'warmup' };

/** Detail of DdpmClient's 'restart' event: why the worker was replaced and the backend now. */
export interface RestartDetail {
  reason: string;
  /** True after a lost WebGPU device: the new worker runs on the CPU. */
  toCpu: boolean;
  backend?: Backend & { build: 'webgpu' | 'cpu' };
  /** Set when the new worker could not start. */
  error?: Error;
}

/**
 * The page's handle on the worker that runs the wasm core: one promise per request. When the
 * core traps or the WebGPU device is lost, the worker is replaced (on the CPU after a loss),
 * requests under way are rejected with the reason, model keys stay valid (URL-loaded models are
 * loaded again on next use) and a 'restart' event carries a RestartDetail.
 */
export class DdpmClient extends EventTarget {
  /**
   * `workerUrl`: a module worker to run instead of the package's worker.js (one that imports or
   * wraps it; relative to the page). Without it, a package served from another origin starts its
   * worker through a blob: module, which the page's CSP must allow (`worker-src blob:`).
   */
  constructor(options?: { workerUrl?: string | URL });
  /** Picks the build (pkg/webgpu or pkg/cpu) and the device; `build` is the module downloaded. */
  init(forceCpu?: boolean): Promise<Backend & { build: 'webgpu' | 'cpu' }>;
  /** A diffusers folder URL (or `{name: bytes}` files) → a key for the other calls. */
  load(source: string | Record<string, Uint8Array>, onProgress?: (p: LoadProgress) => void, layout?: 'pipeline' | 'unet', hashes?: WeightHashes): Promise<{ key: string; info: ModelInfo; cache: CacheOutcome[] }>;
  /** What the weights cache (Cache API) holds, or why this browser keeps nothing. */
  cacheContents(): Promise<CacheContents>;
  /** Empties the weights cache → the number of files removed. */
  clearCache(): Promise<number>;
  unload(key: string): Promise<boolean>;
  eps(key: string, x: Float32Array, shape: number[], t: number, labels?: number[]): Promise<Float32Array>;
  start(key: string, settings: RunSettings): Promise<{ runId: string; timesteps: number[]; xt: Float32Array }>;
  step(runId: string, wanted?: Wanted): Promise<StepOutput | { renoise: true; xt: Float32Array }>;
  stop(runId: string): Promise<boolean>;
  /** Runs to the end unless cancelled. */
  sample(key: string, settings: RunSettings, onStep?: (out: StepOutput & { step: number; total: number }) => void, wanted?: Wanted): {
    done: Promise<{ cancelled: boolean; steps: number; last: StepOutput | null }>;
    cancel(): void;
  };
  inpaintStart(key: string, settings: InpaintSettings): Promise<{ runId: string; total: number; xt: Float32Array }>;
  spiralLoad(source: string | Record<string, Uint8Array>, hashes?: WeightHashes): Promise<{ key: string }>;
  spiralStart(key: string, settings: { n: number; seed: number; steps?: number }): Promise<{ runId: string; timesteps: number[]; x: Float32Array }>;
  spiralSteps(runId: string, k: number): Promise<{ t: number; next: number; x: Float32Array }>;
  /** μ_θ(x, t) − x at points [N, 2] for the step t → prev (−1: the end). */
  spiralDrift(key: string, points: Float32Array, t: number, prev: number): Promise<Float32Array>;
  spiralTarget(n: number, seed: number, points?: Float32Array): Promise<{ target: Float32Array; distance: number | null }>;
  trainStart(settings: { steps: number; batch?: number; learningRate?: number; seed?: number }): Promise<{ runId: string }>;
  trainSteps(runId: string, k: number): Promise<{ step: number; loss: number }>;
  trainSnapshot(runId: string): Promise<{ key: string }>;
  curves(scheduler?: SchedulerConfig): Promise<{ betas: Float32Array; alphasCumprod: Float32Array; logSnr: Float32Array }>;
  noised(scheduler: SchedulerConfig | undefined, x0: Float32Array, shape: number[], t: number, seed: number): Promise<Float32Array>;
  parseNpy(bytes: Uint8Array): Promise<{ shape: number[]; data: Float32Array }>;
  /** The inpainting mask [height, width] (1 = known) of a quadrant code: four 0/1 for TL TR BL BR. */
  quadrantMask(code: string, height: number, width: number): Promise<Float32Array>;
  /** Which of `total` recorded steps an animation shows (at most `frames`, default 60): evenly spaced, both ends kept. */
  frameSteps(total: number, frames?: number): Promise<number[]>;
  /** RGBA frames (ImageData.data), all width×height → an animated GIF: 80 ms a frame, the last held 2 s, looping. */
  encodeGif(frames: (Uint8ClampedArray | Uint8Array)[], width: number, height: number): Promise<Uint8Array>;
  /** What the core holds now: its wasm memory's size (it never shrinks) and the models, runs and schedules alive. */
  memory(): Promise<{ wasmBytes: number; models: number; runs: number; schedules: number }>;
}

export function describeAdapter(): Promise<{ available: true; name: string; fallback: boolean } | { available: false; reason: string }>;

export interface ModelEntry {
  id: string;
  path: string;
  layout: 'pipeline' | 'unet';
  label: string;
  /** The weight files and their hashes, which key the weights cache. */
  files: WeightHashes;
  kind?: '2d';
  classes?: string[];
}

/** The shipped models, each loaded once and shared. */
export class ModelStore {
  constructor(client: DdpmClient);
  entries(): Promise<ModelEntry[]>;
  image(id: string, onProgress?: (p: LoadProgress) => void): Promise<{ key: string; info: ModelInfo; entry: ModelEntry; cache: CacheOutcome[] }>;
  spiral(id: string): Promise<{ key: string; entry: ModelEntry }>;
}

/** What each attribute of <ddpm-demo> does. */
export const ATTRIBUTES: Record<string, string>;

/**
 * <ddpm-demo view="fork" model="faces64" seed="7" t="250,500,750">: starts when scrolled into
 * view; its `data-state` is then 'starting', 'ready' or 'error'.
 */
export class DdpmDemo extends HTMLElement {}

declare global {
  interface HTMLElementTagNameMap {
    'ddpm-demo': DdpmDemo;
  }
}
