#!/usr/bin/env python3
"""Regenerate the reference fixtures under tests/reference/fixtures/ with the real diffusers.

Run with the pinned venv (tests/reference/requirements.txt), e.g. `make fixtures`, i.e.
    $(VENV)/bin/python tests/reference/make_fixtures.py

Deterministic (torch.manual_seed per case, one CPU thread, float32), offline, < 1 minute.
Writes:
  fixtures/unet/<case>/{config.json, diffusion_pytorch_model.safetensors, io.safetensors}
  fixtures/unet/cases.json, fixtures/unet/param_counts.json
  fixtures/schedulers.json, fixtures/schedulers.safetensors
"""

import hashlib
import json
import math
import os
import re
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import diffusers  # noqa: E402
import diffusers.schedulers.scheduling_ddim as ddim_mod  # noqa: E402
import diffusers.schedulers.scheduling_ddpm as ddpm_mod  # noqa: E402
import diffusers.schedulers.scheduling_repaint as repaint_mod  # noqa: E402
import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
from diffusers import DDIMScheduler, DDPMScheduler, RePaintScheduler, UNet2DModel  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = Path(__file__).resolve().parent
FIX = HERE / "fixtures"
UNET_DIR = FIX / "unet"

VERSIONS = {
    "torch": torch.__version__,
    "diffusers": diffusers.__version__,
    "safetensors": safetensors.__version__,
    "numpy": np.__version__,
}


# ----------------------------------------------------------------------------------------------
# UNet2DModel cases
# ----------------------------------------------------------------------------------------------

# Two levels, attention at the second; each case below names how it differs.
TWO_LEVELS = dict(
    sample_size=16,
    in_channels=3,
    out_channels=3,
    block_out_channels=(8, 16),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    downsample_padding=1,
    flip_sin_to_cos=True,
    freq_shift=0,
    norm_num_groups=4,
    norm_eps=1e-5,
)

UNET_CASES = [
    {
        "name": "padding1_new_keys",
        "dtype": "float32",
        "notes": "downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, attention_head_dim=4 "
        "(4 heads of 4 at 16 channels), norm_eps=1e-5, new attention keys (to_q/to_k/to_v/to_out.0)",
        "config": dict(TWO_LEVELS, attention_head_dim=4),
        "timesteps": [7, 613],
        "class_labels": None,
    },
    {
        "name": "padding0_old_keys",
        "dtype": "float32",
        "notes": "DDPM-CIFAR10-like: downsample_padding=0 (asymmetric F.pad (0,1,0,1) then stride-2 conv "
        "with padding 0), flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6, attention_head_dim=None "
        "(one head of dim = channels), layers_per_block=2; checkpoint rewritten with the OLD attention "
        "key names (query/key/value/proj_attn) like google/ddpm-cifar10-32",
        "config": dict(
            TWO_LEVELS,
            block_out_channels=(8, 8, 16),
            layers_per_block=2,
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            downsample_padding=0,
            flip_sin_to_cos=False,
            freq_shift=1,
            attention_head_dim=None,
            norm_eps=1e-6,
        ),
        "timesteps": [999, 0],
        "class_labels": None,
    },
    {
        "name": "f16_grey",
        "dtype": "float16",
        "notes": "1 channel in/out, weights stored as float16; output computed in float32 from the "
        "f16 weights upcast (.float()); center_input_sample=True (x -> 2x-1), "
        "mid_block_scale_factor=sqrt(2) (mid resnets and mid attention divide by it), "
        "attention_head_dim=8 (2 heads at 16 channels)",
        "config": dict(
            TWO_LEVELS,
            in_channels=1,
            out_channels=1,
            attention_head_dim=8,
            center_input_sample=True,
            mid_block_scale_factor=math.sqrt(2.0),
        ),
        "timesteps": [7, 613],
        "class_labels": None,
    },
    {
        "name": "class_cond",
        "dtype": "float32",
        "notes": "num_class_embeds=11 (10 classes + null class 10): class_embedding.weight [11, 32] is "
        "added to the time embedding after time_embedding (no activation in between); class_labels "
        "[3, 10]; 1 channel; attention_head_dim=None; sample_size 8",
        "config": dict(TWO_LEVELS, sample_size=8, in_channels=1, out_channels=1, attention_head_dim=None, num_class_embeds=11),
        "timesteps": [250, 42],
        "class_labels": [3, 10],
    },
    {
        "name": "scale_shift",
        "dtype": "float32",
        "notes": "resnet_time_scale_shift='scale_shift': time_emb_proj outputs 2*C, chunked (scale, shift), "
        "h = norm2(h) * (1 + scale) + shift; the MID-block attention then has NO group_norm "
        "(attn_norm_num_groups=None -> attn_groups=None unless 'default'), while Attn{Down,Up}Block2D "
        "attentions keep theirs; attention at the first (full-resolution) level, last up block is "
        "AttnUpBlock2D without upsampler; attention_head_dim=8",
        "config": dict(
            TWO_LEVELS,
            down_block_types=("AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D"),
            attention_head_dim=8,
            resnet_time_scale_shift="scale_shift",
        ),
        "timesteps": [613, 7],
        "class_labels": None,
    },
]


def randomize_(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Randomise every parameter so that zero-initialised layers cannot hide bugs.

    GroupNorm: weight 1 + 0.1 N(0,1), bias 0.1 N(0,1). Conv/Linear: weight N(0,1)/sqrt(fan_in),
    bias 0.1 N(0,1). Embedding: 0.5 N(0,1). Order: named_modules() order (deterministic).
    """
    seen = set()

    def rn(p):
        return torch.randn(p.shape, generator=gen, dtype=torch.float32)

    with torch.no_grad():
        for _, mod in model.named_modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.weight.copy_(1.0 + 0.1 * rn(mod.weight))
                mod.bias.copy_(0.1 * rn(mod.bias))
            elif isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(rn(mod.weight) / math.sqrt(fan_in))
                if mod.bias is not None:
                    mod.bias.copy_(0.1 * rn(mod.bias))
            elif isinstance(mod, torch.nn.Embedding):
                mod.weight.copy_(0.5 * rn(mod.weight))
            else:
                continue
            for p in mod.parameters(recurse=False):
                seen.add(id(p))
    missing = [n for n, p in model.named_parameters() if id(p) not in seen]
    assert not missing, f"parameters not randomised: {missing}"


OLD_KEY_RENAMES = [(".to_q.", ".query."), (".to_k.", ".key."), (".to_v.", ".value."), (".to_out.0.", ".proj_attn.")]


def rewrite_old_attention_keys(path: Path) -> int:
    sd = load_file(str(path))
    out = {}
    n = 0
    for k, v in sd.items():
        nk = k
        for a, b in OLD_KEY_RENAMES:
            nk = nk.replace(a, b)
        n += nk != k
        out[nk] = v.contiguous()
    save_file(out, str(path), metadata={"format": "pt"})
    return n


def run_unet(model, io):
    with torch.no_grad():
        return model(io["sample"], io["timesteps"], io.get("class_labels")).sample


def load_for_f32(case_dir: Path):
    m = UNet2DModel.from_pretrained(str(case_dir), local_files_only=True).float().eval()
    return m


def make_unet_cases():
    UNET_DIR.mkdir(parents=True, exist_ok=True)
    index = []
    for seed, case in enumerate(UNET_CASES):
        name = case["name"]
        d = UNET_DIR / name
        torch.manual_seed(1000 + seed)
        gen = torch.Generator().manual_seed(1000 + seed)
        model = UNet2DModel(**case["config"]).eval()
        randomize_(model, gen)
        nparams = sum(p.numel() for p in model.parameters())

        cfg = case["config"]
        b, c, s = 2, cfg["in_channels"], cfg["sample_size"]
        io = {
            "sample": torch.randn((b, c, s, s), generator=gen, dtype=torch.float32),
            "timesteps": torch.tensor(case["timesteps"], dtype=torch.int64),
        }
        if case["class_labels"] is not None:
            io["class_labels"] = torch.tensor(case["class_labels"], dtype=torch.int64)

        if case["dtype"] == "float16":
            model.half().save_pretrained(str(d), safe_serialization=True)
            model = load_for_f32(d)
            assert all(p.dtype == torch.float32 for p in model.parameters())
            sd16 = load_file(str(d / "diffusion_pytorch_model.safetensors"))
            assert all(v.dtype == torch.float16 for v in sd16.values())
        else:
            model.save_pretrained(str(d), safe_serialization=True)

        out = run_unet(model, io)
        io["output"] = out.contiguous()

        if name == "padding0_old_keys":
            n = rewrite_old_attention_keys(d / "diffusion_pytorch_model.safetensors")
            assert n > 0
            keys = load_file(str(d / "diffusion_pytorch_model.safetensors")).keys()
            assert not any(".to_q." in k or ".to_out." in k for k in keys)
            reloaded = load_for_f32(d)
            out2 = run_unet(reloaded, io)
            assert torch.equal(out, out2), "old-key checkpoint does not reproduce through from_pretrained"

        save_file(io, str(d / "io.safetensors"), metadata={"case": name})
        amax = float(out.abs().max())
        std = float(out.std())
        assert math.isfinite(amax) and 0.05 < std < 20.0, (name, std, amax)
        print(f"[unet] {name}: params={nparams} out std={std:.3f} max|.|={amax:.3f}")
        index.append(
            {
                "name": name,
                "dtype": case["dtype"],
                "notes": case["notes"],
                "num_parameters": nparams,
                "timesteps": case["timesteps"],
                "class_labels": case["class_labels"],
                "sample_shape": list(io["sample"].shape),
                "output_std": round(std, 6),
            }
        )
    dump_json(UNET_DIR / "cases.json", {"versions": VERSIONS, "cases": index})


# What Ho et al.'s released models share (the google/ddpm-* configs); each names its levels.
HO_ET_AL = dict(
    in_channels=3,
    out_channels=3,
    layers_per_block=2,
    downsample_padding=0,
    flip_sin_to_cos=False,
    freq_shift=1,
    norm_eps=1e-6,
    norm_num_groups=32,
    attention_head_dim=None,
)

REAL_CONFIGS = {
    "cifar10": dict(
        HO_ET_AL,
        sample_size=32,
        block_out_channels=(128, 256, 256, 256),
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    ),
    "celebahq256": dict(
        HO_ET_AL,
        sample_size=256,
        block_out_channels=(128, 128, 256, 256, 512, 512),
        down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4,
    ),
}


def make_param_counts():
    out = {}
    for name, cfg in REAL_CONFIGS.items():
        with torch.device("meta"):
            m = UNet2DModel(**cfg)
        n = sum(p.numel() for p in m.parameters())
        conf = json.loads(m.to_json_string())
        conf.pop("_name_or_path", None)
        out[name] = {"config": conf, "num_parameters": n}
        print(f"[param_counts] {name}: {n}")
    dump_json(UNET_DIR / "param_counts.json", out)


# ----------------------------------------------------------------------------------------------
# Schedulers
# ----------------------------------------------------------------------------------------------

SHAPE = (2, 1, 4, 4)


class NoiseFeed:
    """Replaces randn_tensor in a scheduler module: hands out pre-drawn tensors, records calls."""

    def __init__(self):
        self.queue = []
        self.calls = 0

    def load(self, tensors):
        self.queue = list(tensors)
        self.calls = 0

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None, **kw):
        assert self.queue, "scheduler drew more noise than prepared"
        t = self.queue.pop(0)
        assert tuple(shape) == tuple(t.shape), (shape, t.shape)
        self.calls += 1
        return t.clone()


FEED = NoiseFeed()
for _m in (ddpm_mod, ddim_mod, repaint_mod):
    assert hasattr(_m, "randn_tensor")
    _m.randn_tensor = FEED


def dump_json(path: Path, obj) -> None:
    """indent=2, but lists of scalars on one line (keeps the 1000-entry timestep lists small)."""
    text = json.dumps(obj, indent=2)
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
    assert json.loads(text) == json.loads(json.dumps(obj))
    path.write_text(text + "\n")


def sched_config(s):
    c = json.loads(s.to_json_string())
    return c


# fmt: off
SCHED_CASES = [
    # name, kind, ctor kwargs, set_timesteps kwargs, eta, which timesteps to record, chained, sample scale
    ("ddpm_linear_small_clip", "ddpm", dict(beta_schedule="linear", variance_type="fixed_small", clip_sample=True),
     dict(num_inference_steps=1000), None, [999, 998, 500, 1, 0], False, 2.0),
    ("ddpm_linear_large_noclip", "ddpm", dict(beta_schedule="linear", variance_type="fixed_large", clip_sample=False),
     dict(num_inference_steps=1000), None, [999, 998, 500, 1, 0], False, 2.0),
    ("ddpm_cosine_small_clip", "ddpm",
     dict(beta_schedule="squaredcos_cap_v2", variance_type="fixed_small", clip_sample=True),
     dict(num_inference_steps=1000), None, [999, 998, 500, 1, 0], False, 2.0),
    ("ddpm_scaled_linear_small", "ddpm",
     dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, variance_type="fixed_small",
          clip_sample=False),
     dict(num_inference_steps=1000), None, [999, 998, 500, 1, 0], False, 2.0),
    ("ddpm_linear_small_50steps", "ddpm", dict(beta_schedule="linear", variance_type="fixed_small", clip_sample=True),
     dict(num_inference_steps=50), None, [980, 960, 500, 20, 0], False, 2.0),
    ("ddim_eta0_leading_clip", "ddim", dict(), dict(num_inference_steps=10), 0.0, "all", True, 1.0),
    ("ddim_eta1_noclip", "ddim", dict(clip_sample=False), dict(num_inference_steps=10), 1.0, "all", True, 1.0),
    ("ddim_trailing_eta0", "ddim", dict(timestep_spacing="trailing"), dict(num_inference_steps=10), 0.0, "all",
     True, 1.0),
    ("ddim_offset1_alpha0_eta05", "ddim",
     dict(set_alpha_to_one=False, steps_offset=1, clip_sample=False, beta_schedule="scaled_linear",
          beta_start=0.00085, beta_end=0.012),
     dict(num_inference_steps=10), 0.5, "all", True, 1.0),
    # diffusers' use_clipped_model_output=True (on for guided sampling, see src/sampler/ddim.rs).
    ("ddim_eta05_clip_clipped_eps", "ddim", dict(), dict(num_inference_steps=10), 0.5, "all", True, 1.5),
]
# fmt: on


def f32(t):
    return t.detach().to(torch.float32).clone().contiguous()


def run_ddpm_ddim(name, kind, ctor, st_args, eta, which, chained, scale, tensors, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sched = (DDPMScheduler if kind == "ddpm" else DDIMScheduler)(**ctor)
    sched.set_timesteps(**st_args)
    timesteps = [int(t) for t in sched.timesteps]
    picks = timesteps if which == "all" else which
    steps = []
    sample = torch.randn(SHAPE, generator=gen) * scale
    for i, t in enumerate(picks):
        idx = timesteps.index(t)
        if not chained and i > 0:
            sample = torch.randn(SHAPE, generator=gen) * scale
        model_output = torch.randn(SHAPE, generator=gen)
        noise = torch.randn(SHAPE, generator=gen)
        tt = sched.timesteps[idx]  # a 0-d int64 tensor, as the pipelines pass it
        if kind == "ddpm":
            FEED.load([noise])
            out = sched.step(model_output, tt, sample)
            noise_used = FEED.calls == 1
            assert noise_used == (t > 0)
            prev_t = int(sched.previous_timestep(tt))
        else:
            FEED.load([])
            out = sched.step(model_output, tt, sample, eta=eta, variance_noise=noise, use_clipped_model_output=name.endswith("clipped_eps"))
            noise_used = eta > 0
            prev_t = t - sched.config.num_train_timesteps // sched.num_inference_steps
        key = f"{name}/{i}"
        tensors[f"{key}/sample"] = f32(sample)
        tensors[f"{key}/model_output"] = f32(model_output)
        tensors[f"{key}/noise"] = f32(noise)
        tensors[f"{key}/prev_sample"] = f32(out.prev_sample)
        tensors[f"{key}/pred_original_sample"] = f32(out.pred_original_sample)
        clipped = bool(sched.config.clip_sample and (out.pred_original_sample.abs() >= sched.config.clip_sample_range).any())
        steps.append(
            {
                "i": i,
                "key": key,
                "kind": "step",
                "index": idx,
                "timestep": t,
                "prev_timestep": prev_t,
                "noise_used": bool(noise_used),
                "clipped": clipped,
            }
        )
        if chained:
            sample = out.prev_sample
    if sched.config.clip_sample:
        assert any(s["clipped"] for s in steps), f"{name}: clipping never happened"
    case = {
        "name": name,
        "scheduler": kind,
        "config": sched_config(sched),
        "set_timesteps": st_args,
        "timesteps": timesteps,
        "chained": chained,
        "steps": steps,
    }
    if kind == "ddim":
        case["eta"] = eta
        case["use_clipped_model_output"] = name.endswith("clipped_eps")
        case["final_alpha_cumprod"] = float(sched.final_alpha_cumprod)
    return case


def run_repaint(name, eta, st_args, max_entries, tensors, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sched = RePaintScheduler(eta=eta)
    sched.set_timesteps(**st_args)
    sched.eta = eta  # what RePaintPipeline does
    timesteps = [int(t) for t in sched.timesteps]
    n_undo = sched.config.num_train_timesteps // sched.num_inference_steps
    original_image = torch.rand(SHAPE, generator=gen) * 2 - 1
    mask = (torch.rand(SHAPE, generator=gen) < 0.5).to(torch.float32)  # 1 = known
    image = torch.randn(SHAPE, generator=gen)
    t_last = sched.timesteps[0] + 1
    steps = []
    for i, t in enumerate(sched.timesteps[:max_entries]):
        key = f"{name}/{i}"
        tensors[f"{key}/sample"] = f32(image)
        if t < t_last:
            model_output = torch.randn(SHAPE, generator=gen)
            noise = torch.randn(SHAPE, generator=gen)
            FEED.load([noise])
            out = sched.step(model_output, t, image, original_image, mask)
            assert FEED.calls == 1
            tensors[f"{key}/model_output"] = f32(model_output)
            tensors[f"{key}/noise"] = f32(noise)
            tensors[f"{key}/original_image"] = f32(original_image)
            tensors[f"{key}/mask"] = f32(mask)
            tensors[f"{key}/pred_original_sample"] = f32(out.pred_original_sample)
            image = out.prev_sample
            steps.append({"i": i, "key": key, "kind": "step", "index": i, "timestep": int(t), "prev_timestep": int(t) - n_undo})
        else:
            noise = torch.randn((n_undo, *SHAPE), generator=gen)
            FEED.load(list(noise.unbind(0)))
            image = sched.undo_step(image, t_last)
            assert FEED.calls == n_undo
            tensors[f"{key}/noise"] = f32(noise)
            steps.append(
                {
                    "i": i,
                    "key": key,
                    "kind": "undo",
                    "index": i,
                    "timestep": int(t),
                    "undo_step_timestep": int(t_last),
                    "num_noise": n_undo,
                    "betas_used": f"betas[{int(t_last)}..{int(t_last) + n_undo - 1}]",
                }
            )
        tensors[f"{key}/prev_sample"] = f32(image)
        t_last = t
    return {
        "name": name,
        "scheduler": "repaint",
        "config": sched_config(sched),
        "set_timesteps": st_args,
        "eta": eta,
        "timesteps": timesteps,
        "chained": True,
        "steps": steps,
    }


def make_scheduler_cases():
    tensors = {}
    cases = []
    for k, (name, kind, ctor, st, eta, which, chained, scale) in enumerate(SCHED_CASES):
        cases.append(run_ddpm_ddim(name, kind, ctor, st, eta, which, chained, scale, tensors, 2000 + k))
    rp = dict(num_inference_steps=20, jump_length=5, jump_n_sample=2)
    cases.append(run_repaint("repaint_eta0", 0.0, rp, 20, tensors, 3000))  # steps, 5 undos, re-steps
    cases.append(run_repaint("repaint_eta1", 1.0, rp, None, tensors, 3001))  # full 50 entries, ends at t=0
    save_file(tensors, str(FIX / "schedulers.safetensors"), metadata={"format": "pt"})
    doc = {
        "versions": VERSIONS,
        "shape": list(SHAPE),
        "notes": [
            "Tensor keys are '<key>/<field>' with <key> = steps[j].key = '<case>/<i>'.",
            "step fields: sample, model_output, noise, prev_sample, pred_original_sample "
            "(+ original_image, mask for repaint; mask 1 = known).",
            "undo fields (repaint): sample, noise [num_noise, *shape] (one draw per inner iteration, in order), prev_sample.",
            "noise is the tensor the scheduler received (ddpm: its randn draw, unused when t == 0; "
            "ddim: variance_noise, unused when eta == 0; repaint step: always used for the known part).",
            "timestep is passed as a 0-d int64 tensor taken from scheduler.timesteps.",
            "chained: sample of step i+1 is prev_sample of step i; otherwise each step gets a fresh sample.",
        ],
        "cases": cases,
    }
    dump_json(FIX / "schedulers.json", doc)
    for c in cases:
        print(f"[sched] {c['name']}: {len(c['steps'])} entries, timesteps[:6]={c['timesteps'][:6]}")


# ----------------------------------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------------------------------


def verify_unets():
    for case in UNET_CASES:
        d = UNET_DIR / case["name"]
        io = load_file(str(d / "io.safetensors"))
        model = load_for_f32(d)
        out = run_unet(model, io)
        err = float((out - io["output"]).abs().max())
        assert err == 0.0, (case["name"], err)
        print(f"[verify] {case['name']}: reload via UNet2DModel.from_pretrained reproduces output (max err {err})")


def make_pickle_pipeline():
    """The padding0_old_keys model as google/ddpm-celebahq-256 ships: a pipeline folder whose
    UNet weights are PyTorch's pickle `diffusion_pytorch_model.bin` with the old attention keys."""
    src = UNET_DIR / "padding0_old_keys"
    d = FIX / "pipeline_pickle"
    (d / "unet").mkdir(parents=True)
    (d / "scheduler").mkdir()
    state = load_file(str(src / "diffusion_pytorch_model.safetensors"))
    torch.save(state, str(d / "unet" / "diffusion_pytorch_model.bin"))
    shutil.copy(src / "config.json", d / "unet" / "config.json")
    scheduler = DDPMScheduler(variance_type="fixed_large", clip_sample=False)
    scheduler.save_pretrained(str(d / "scheduler"))
    dump_json(
        d / "model_index.json",
        {
            "_class_name": "DDPMPipeline",
            "_diffusers_version": VERSIONS["diffusers"],
            "scheduler": ["diffusers", "DDPMScheduler"],
            "unet": ["diffusers", "UNet2DModel"],
        },
    )
    print(f"[pipeline] {d.name}: pickle weights, {len(state)} tensors")


def main():
    if FIX.exists():
        shutil.rmtree(FIX)
    FIX.mkdir(parents=True)
    make_unet_cases()
    make_param_counts()
    make_scheduler_cases()
    make_pickle_pipeline()
    verify_unets()
    total = 0
    digest = hashlib.sha256()
    for p in sorted(FIX.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            digest.update(p.relative_to(FIX).as_posix().encode())
            digest.update(p.read_bytes())
    print(f"[done] {total} bytes in {FIX}; sha256 of tree {digest.hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
