/// <reference lib="esnext.disposable" />
// Types of ddpm-web's JS API: the <ddpm-demo> element, the worker client and the model store.
// The wasm module's own types are in pkg/webgpu/ddpm_web.d.ts (import 'ddpm-web/wasm'; 'ddpm-web/wasm-cpu' is the CPU-only build);
// its classes use Symbol.dispose, hence the lib reference above.

// The types that cross into the wasm core are generated from its Rust structs (tsify, at build
// time) into pkg/webgpu/ddpm_web.d.ts; they are re-exported here. Their keys are camelCase, except
// SchedulerConfig's, which are diffusers' scheduler_config.json keys, file for file.
import type {
  BackendInfo, GuidanceSettings, InpaintMethod, InpaintSettings, Method, ModelInfo as CoreModelInfo, RePaintSettings, Renoise,
  RunSettings, SamplerSettings, SchedulerConfig, Spacing, SpiralRun, StartState, StepOutput, TrainerSettings, Variance, Wanted,
} from './pkg/webgpu/ddpm_web.js';

export type {
  BackendInfo, GuidanceSettings, InpaintMethod, InpaintSettings, Method, RePaintSettings, Renoise, RunSettings,
  SamplerSettings, SchedulerConfig, Spacing, SpiralRun, StartState, StepOutput, TrainerSettings, Variance, Wanted,
};

/** What the worker measures once a model is loaded (the `timing` of `load`). */
export interface ModelTiming {
  /** Milliseconds of the first ε_θ evaluation (shader compilation on WebGPU). */
  warmupMs: number;
  /** Milliseconds of a warm ε_θ evaluation of one sample: the basis of the page's run estimates. */
  evalMs: number;
}

/** The core's `info()`, with the timing once the model has warmed up (absent until then). */
export interface ModelInfo extends CoreModelInfo, Partial<ModelTiming> {}

export type Backend = BackendInfo;

/** `Wanted` of a step whose x̂_0 and ε̂ are not drawn. */
export const XT_ONLY: Readonly<Wanted>;

/** A shipped model's weight files and their SHA-256, the weights cache's keys (www/models/index.json). */
export type WeightHashes = Record<string, { sha256: string; bytes: number }>;

/**
 * A model's files for `load`: where each is when not in the folder (a bundler's copy), and the
 * hashes of shipped ones, which let them come from the weights cache.
 */
export type FileManifest = Record<string, { url?: string; sha256?: string; bytes?: number }>;

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

export type LoadProgress = { phase: 'download'; file: string; loaded: number; total: number };

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
  /**
   * `threads` (on the CPU): the pool's size, more than 1 in the threaded build, which runs where
   * the page is cross-origin isolated and the device has cores to spare; `threadsReason` says why.
   */
  init(forceCpu?: boolean): Promise<Backend & { build: 'webgpu' | 'cpu' | 'cpu-threads'; threads?: number; threadsReason?: string }>;
  /**
   * A diffusers folder URL (or `{name: bytes}` files), its weights safetensors or PyTorch's
   * `diffusion_pytorch_model.bin`, → a key for the other calls. Resolves as soon as the model is
   * built; `timing` once it has warmed up (WebGPU compiles its shaders then), which also fills
   * `info.warmupMs` and `info.evalMs`.
   */
  load(source: string | Record<string, Uint8Array>, onProgress?: (p: LoadProgress) => void, layout?: 'pipeline' | 'unet', manifest?: FileManifest): Promise<{ key: string; info: ModelInfo; cache: CacheOutcome[]; timing: Promise<ModelTiming> }>;
  /** What the weights cache (Cache API) holds, or why this browser keeps nothing. */
  cacheContents(): Promise<CacheContents>;
  /** Empties the weights cache → the number of files removed. */
  clearCache(): Promise<number>;
  unload(key: string): Promise<boolean>;
  eps(key: string, x: Float32Array, shape: number[], t: number, labels?: number[]): Promise<Float32Array>;
  /** Opens a run of the core; then `step` until done, and `stop`. `run` does all three. */
  open<K extends RunKind>(spec: RunSpec<K>): Promise<{ runId: string } & RunStart[K]>;
  /** One step of an open run: `wanted` says how many steps to take at once ({k}, 1 when absent; inpainting takes 1) and, for a sampling run, what comes back ({x0, eps}, both true when absent). */
  step<K extends RunKind = 'sample'>(runId: string, wanted?: Partial<Wanted>): Promise<RunStep[K]>;
  stop(runId: string): Promise<boolean>;
  /**
   * A run stepped to its end: yields `{step: 0, total, ...start}`, then `{step, total, ...output}`
   * after each step. `signal` cancels it between steps; the run is stopped in the worker however
   * the loop ends.
   */
  run<K extends RunKind>(spec: RunSpec<K>, options?: { signal?: AbortSignal; wanted?: Partial<Wanted> | ((step: number) => Partial<Wanted>) }): AsyncGenerator<{ step: number; total: number } & (RunStart[K] | RunStep[K])>;
  /** A sampling run to its end (the shortcut `run` makes). */
  sample(key: string, settings: RunSettings, onStep?: (out: StepOutput & { step: number; total: number }) => void, wanted?: Wanted): {
    done: Promise<{ cancelled: boolean; steps: number; last: StepOutput | null }>;
    cancel(): void;
  };
  spiralLoad(source: string | Record<string, Uint8Array>, manifest?: FileManifest): Promise<{ key: string }>;
  /** μ_θ(x, t) − x at points [N, 2] for the step t → prev (−1: the end). */
  spiralDrift(key: string, points: Float32Array, t: number, prev: number): Promise<Float32Array>;
  spiralTarget(n: number, seed: number, points?: Float32Array): Promise<{ target: Float32Array; distance: number | null }>;
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

/** The core's runs: what each opens with (`settings`), starts from, and gives back each step. */
export type RunKind = 'sample' | 'inpaint' | 'spiral' | 'train';
export type RunSpec<K extends RunKind> = K extends 'train'
  ? { kind: K; settings: RunSettingsOf[K] }
  : { kind: K; key: string; settings: RunSettingsOf[K] };
interface RunSettingsOf {
  sample: RunSettings;
  inpaint: InpaintSettings;
  spiral: SpiralRun;
  train: TrainerSettings;
}
interface RunStart {
  sample: { total: number; timesteps: number[]; current: Float32Array };
  inpaint: { total: number; current: Float32Array };
  spiral: { total: number; timesteps: number[]; current: Float32Array };
  train: { total: number; current: { step: number } };
}
interface RunStep {
  sample: StepOutput;
  inpaint: StepOutput | Renoise;
  spiral: StepOutput;
  train: { step: number; loss: number };
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
  /** `filesBase`: as `setFilesBase`. */
  constructor(client: DdpmClient, options?: { filesBase?: string | null });
  entries(): Promise<ModelEntry[]>;
  image(id: string, onProgress?: (p: LoadProgress) => void): Promise<{ key: string; info: ModelInfo; entry: ModelEntry; cache: CacheOutcome[]; timing: Promise<ModelTiming> }>;
  spiral(id: string): Promise<{ key: string; entry: ModelEntry }>;
}

/**
 * Fetch the shipped files (www/models/…, www/samples/…) from under `base`, a folder laid out as
 * the package is (it holds www/), instead of from where the page loaded the package; null: back
 * to the default.
 */
export function setFilesBase(base: string | null): void;

/** What each attribute of <ddpm-demo> does. */
export const ATTRIBUTES: Record<string, string>;

/**
 * <ddpm-demo view="fork" model="faces64" seed="7" t="250,500,750">: starts when scrolled into
 * view; its `data-state` is then 'starting', 'ready' or 'error'.
 */
export class DdpmDemo extends HTMLElement {
  /** The view it hosts, once started (www/views/<name>.js `mount`). */
  view?: ViewHandle;
}

/** What a view's `mount(root, services, settings)` returns, to the page and to <ddpm-demo> alike. */
export interface ViewHandle {
  /** Runs once ready (what `autorun` does); resolves when the run ends. */
  run(): Promise<unknown>;
  cancel(): void;
  /** The view's settings now, named as the element's attributes (in camelCase). */
  state: Record<string, string | number>;
  /** Resolves once the view can run (its model loaded). */
  ready: Promise<unknown>;
  /** Keys the view answers, e.g. ' ' → play or pause. */
  keys?: Record<string, () => void>;
}

declare global {
  interface HTMLElementTagNameMap {
    'ddpm-demo': DdpmDemo;
  }
}
