"""Trains an ε_θ by Ho et al.'s Algorithm 1 (L_simple) and exports it as a diffusers pipeline.

    python train/train.py faces64   --steps 20000 [--batch 16] [--out DIR]
    python train/train.py fashion32 --steps 3000

Algorithm 1: x_0 ~ data, t ~ U{0..T−1}, ε ~ N(0, I), step on ‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖².
AdamW with a linear warm-up and a cosine decay, an EMA of the weights (what ships), label dropout
0.1 to the null class for the class-conditional model (classifier-free guidance).

Against overfitting a small set (360 faces): what ships is not the last step's EMA but the one
with the lowest held-out L_simple (measured every --eval-every steps): `best_ema` in the
checkpoint, exported at the end. Dropout in every ResNet block (diffusers' `dropout` key) and
augmentation beyond flips (shifts of a few pixels, brightness and contrast) are there by flag;
on faces64 they left the held-out loss where early stopping alone puts it (0.0430 against 0.0422
at step 4 000) and misshaped the samples (its card), so its defaults are flips and early stopping.

`--init DIR` starts from an exported UNet (the shipped weights, say) instead of random weights:
model and EMA both start there and the init's held-out loss is the best to beat, so a run that
does not improve exports the init unchanged. A model too slow to converge in one session goes on
this way across sessions, each continuing from what shipped.

Checkpoints every few minutes hold the model, EMA, best EMA, optimiser, step and every RNG state,
so `--resume` continues exactly as if the run had never stopped; a long run can be split over
several sessions.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from data import default_out
from diffusers import DDPMScheduler, UNet2DModel
from tqdm import tqdm

# What a model has unless its entry says otherwise: no augmentation, Ho et al.'s σ_t² = β̃_t and
# x̂_0 clipped to [−1, 1]; grey images, one ResNet block a level, 32 channels an attention head.
SPEC_DEFAULTS = dict(flip=False, shift=0, brightness=0.0, dropout=0.0, scheduler=dict(variance_type="fixed_small", clip_sample=True))
UNET_DEFAULTS = dict(in_channels=1, out_channels=1, layers_per_block=1, attention_head_dim=32)

MODELS = {
    # 64×64 grey faces, attention at 16×16. Narrow at full resolution, where a 2-core CPU spends
    # its time: 0.74 s/step at batch 16 on 2 threads, 1.10 s on one (measured 2026-12-01 with
    # nothing else running; channels_last and torch.compile were slower).
    "faces64": dict(
        data="faces64.npz",
        flip=True,
        unet=dict(
            sample_size=64,
            block_out_channels=(16, 32, 64, 128),
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
            norm_num_groups=8,
        ),
    ),
    # Fashion-MNIST padded to 32×32, 10 classes + the null class 10.
    "fashion32": dict(
        data="fashion32.npz",
        classes=10,
        unet=dict(
            sample_size=32,
            block_out_channels=(32, 64, 96),
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            norm_num_groups=16,
            num_class_embeds=11,
        ),
    ),
}
LABEL_DROPOUT = 0.1
WARMUP_STEPS = 500
FINAL_LR_FRACTION = 0.1


def to_model_range(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W] → float32 [N,1,H,W] in [−1, 1]."""
    return torch.from_numpy(images).float().div(127.5).sub(1.0).unsqueeze(1)


class Trainer:
    def __init__(self, name: str, args):
        self.name, self.spec, self.args = name, {**SPEC_DEFAULTS, **MODELS[name]}, args
        torch.manual_seed(args.seed)
        data = np.load(args.data / self.spec["data"])
        self.train_x, self.test_x = to_model_range(data["train"]), to_model_range(data["test"])
        self.train_y = torch.from_numpy(data["train_labels"]) if "classes" in self.spec else None
        self.test_y = torch.from_numpy(data["test_labels"]) if "classes" in self.spec else None
        unet = {**UNET_DEFAULTS, **self.spec["unet"]}
        if args.tiny:
            # Same blocks, a few thousand parameters: the smoke test of tests/train.
            unet.update(
                block_out_channels=tuple(8 * (i + 1) for i in range(len(unet["block_out_channels"]))),
                norm_num_groups=4,
                attention_head_dim=8,
            )
        for key in ("dropout", "shift", "brightness"):
            if getattr(args, key) is not None:
                self.spec[key] = getattr(args, key)
        unet["dropout"] = self.spec["dropout"]
        self.model = UNet2DModel(**unet)
        self.ema = UNet2DModel(**unet)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        self.ema.eval()
        self.best_ema = None  # (held-out loss, step, state dict) of the best EMA so far
        self.init = None  # where --init came from, and how many steps it had been trained
        if args.init is not None:
            self.init = self.load_init(args.init)
        self.scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", **self.spec["scheduler"])
        self.alphas_cumprod = self.scheduler.alphas_cumprod
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr, weight_decay=0.0)
        self.generator = torch.Generator().manual_seed(args.seed)
        self.step = 0
        self.history = []  # (step, train loss EMA, held-out loss or None, seconds)
        self.elapsed = 0.0

    def load_init(self, folder: Path) -> dict:
        """Weights of an exported UNet folder (f16 or f32 safetensors) into model and EMA. The
        architecture is this model's own: a folder of another shape is an error, not a resize."""
        from safetensors.torch import load_file

        files = sorted(folder.glob("*.safetensors"))
        if len(files) != 1:
            raise SystemExit(f"--init {folder}: expected one .safetensors file, found {len(files)}")
        state = {k: v.float() for k, v in load_file(files[0]).items()}
        try:
            self.model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise SystemExit(f"--init {folder}: not a {self.name} UNet: {error}") from error
        self.ema.load_state_dict(state)
        record = folder.parent / "training.json"
        prior = json.loads(record.read_text()) if record.exists() else {}
        # The parent's curve and its export's step come along, so the shipped record holds the
        # whole chain of runs (evaluate.py plots it as one curve).
        return {
            "from": str(folder),
            "steps": prior.get("steps"),
            "batch": prior.get("batch"),
            "exported_step": prior.get("exported_step"),
            "history": prior.get("history"),
            "init": prior.get("init"),
        }

    # Algorithm 1, lines 2–5.
    def loss(self, model, x0, labels, generator):
        t = torch.randint(0, 1000, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        a = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        return F.mse_loss(model(x_t, t, class_labels=labels).sample, noise)

    def learning_rate(self, step):
        """Linear warm-up, then cosine decay to FINAL_LR_FRACTION of --lr at --steps."""
        if step < WARMUP_STEPS:
            return self.args.lr * (step + 1) / WARMUP_STEPS
        progress = min(1.0, (step - WARMUP_STEPS) / max(1, self.args.steps - WARMUP_STEPS))
        return self.args.lr * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))

    def augment(self, x0):
        """Flips, shifts (reflected borders) and brightness/contrast, each drawn per image."""
        n = x0.shape[0]
        if self.spec["flip"]:
            flip = torch.rand(n, generator=self.generator) < 0.5
            x0 = torch.where(flip.view(-1, 1, 1, 1), x0.flip(-1), x0)
        if self.spec["shift"]:
            s = self.spec["shift"]
            padded = F.pad(x0, (s, s, s, s), mode="reflect")
            dx, dy = torch.randint(0, 2 * s + 1, (2, n), generator=self.generator)
            h, w = x0.shape[-2:]
            x0 = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])
        if self.spec["brightness"]:
            b = self.spec["brightness"]
            gain = 1 + (torch.rand(n, 1, 1, 1, generator=self.generator) * 2 - 1) * b
            offset = (torch.rand(n, 1, 1, 1, generator=self.generator) * 2 - 1) * b
            x0 = (x0 * gain + offset).clamp(-1, 1)
        return x0

    def batch(self):
        idx = torch.randint(0, self.train_x.shape[0], (self.args.batch,), generator=self.generator)
        x0 = self.augment(self.train_x[idx])
        labels = None
        if self.train_y is not None:
            labels = self.train_y[idx].clone()
            dropped = torch.rand(labels.shape[0], generator=self.generator) < LABEL_DROPOUT
            labels[dropped] = self.spec["classes"]
        return x0, labels

    @torch.no_grad()
    def held_out_loss(self, n=256):
        """L_simple of the EMA model on held-out data, with a fixed generator (comparable runs)."""
        generator = torch.Generator().manual_seed(1234)
        # A small held-out set (40 faces) is repeated, each copy with its own t and ε.
        reps = math.ceil(n / len(self.test_x[:n]))
        x0 = self.test_x[:n].repeat(reps, 1, 1, 1)
        labels = self.test_y[:n].repeat(reps) if self.test_y is not None else None
        losses = [
            self.loss(self.ema, x0[i : i + 64], None if labels is None else labels[i : i + 64], generator).item()
            for i in range(0, len(x0), 64)
        ]
        return float(np.mean(losses))

    def keep_if_best(self, held_out: float):
        """The EMA as it is now becomes what ships if its held-out loss is the lowest so far."""
        if self.best_ema is None or held_out < self.best_ema[0]:
            self.best_ema = (held_out, self.step, {k: v.clone() for k, v in self.ema.state_dict().items()})

    def checkpoint_path(self):
        return self.args.out / f"{self.name}.ckpt"

    def save_checkpoint(self):
        state = dict(
            model=self.model.state_dict(),
            ema=self.ema.state_dict(),
            best_ema=self.best_ema,
            optimizer=self.optimizer.state_dict(),
            step=self.step,
            generator=self.generator.get_state(),
            torch_rng=torch.get_rng_state(),
            history=self.history,
            elapsed=self.elapsed,
            args={k: str(v) for k, v in vars(self.args).items()},
        )
        tmp = self.checkpoint_path().with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint_path())

    def load_checkpoint(self):
        state = torch.load(self.checkpoint_path(), weights_only=False)
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.best_ema = state.get("best_ema")
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.history, self.elapsed = state["step"], state["history"], state["elapsed"]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])

    def export(self):
        """The best EMA weights (lowest held-out loss) as a diffusers pipeline folder (f32; the
        shipped copy is converted to f16)."""
        folder = self.args.out / self.name
        if self.best_ema is not None:
            self.ema.load_state_dict(self.best_ema[2])
        self.ema.save_pretrained(folder / "unet", safe_serialization=True)
        self.scheduler.save_pretrained(folder / "scheduler")
        (folder / "model_index.json").write_text(
            json.dumps(
                {
                    "_class_name": "DDPMPipeline",
                    "_diffusers_version": "0.42.1",
                    "scheduler": ["diffusers", "DDPMScheduler"],
                    "unet": ["diffusers", "UNet2DModel"],
                },
                indent=2,
            )
        )
        (folder / "training.json").write_text(
            json.dumps(
                {
                    "model": self.name,
                    "steps": self.step,
                    "batch": self.args.batch,
                    "lr": self.args.lr,
                    "ema_decay": self.args.ema,
                    "dropout": self.ema.config.dropout,
                    "augment": {k: self.spec[k] for k in ("flip", "shift", "brightness")},
                    "lr_schedule": f"linear warm-up {WARMUP_STEPS} steps, cosine to {FINAL_LR_FRACTION} × lr",
                    "init": self.init,
                    "exported_step": None if self.best_ema is None else self.best_ema[1],
                    "exported_held_out_loss": None if self.best_ema is None else self.best_ema[0],
                    "wall_seconds": round(self.elapsed),
                    "threads": torch.get_num_threads(),
                    "parameters": sum(p.numel() for p in self.model.parameters()),
                    "history": self.history,
                },
                indent=1,
            )
        )
        return folder

    def run(self):
        if self.args.resume and self.checkpoint_path().exists():
            self.load_checkpoint()
            print(f"resumed {self.name} at step {self.step}")
        elif self.init is not None:
            held_out = self.held_out_loss()
            self.keep_if_best(held_out)
            self.history.append((0, None, round(held_out, 5), 0))
            print(f"init from {self.init['from']}: held-out loss (EMA) {held_out:.5f}")
        bar = tqdm(total=self.args.steps, initial=self.step, desc=self.name, dynamic_ncols=True)
        smoothed = None
        last_save = time.monotonic()
        started = time.monotonic() - self.elapsed
        while self.step < self.args.steps:
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(self.step)
            x0, labels = self.batch()
            self.model.train()
            loss = self.loss(self.model, x0, labels, self.generator)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                    e.lerp_(p, 1 - self.args.ema)
            self.step += 1
            smoothed = loss.item() if smoothed is None else 0.98 * smoothed + 0.02 * loss.item()
            self.elapsed = time.monotonic() - started
            held_out = None
            if self.step % self.args.eval_every == 0 or self.step == self.args.steps:
                held_out = self.held_out_loss()
                self.keep_if_best(held_out)
                # Five places: late in a run the held-out loss moves by 0.0001 per evaluation.
                bar.write(
                    f"step {self.step}: train loss {smoothed:.4f}, held-out loss (EMA) {held_out:.5f}"
                    f" (best {self.best_ema[0]:.5f} at step {self.best_ema[1]})"
                )
            if self.step % 50 == 0 or held_out is not None:
                self.history.append((self.step, round(smoothed, 5), None if held_out is None else round(held_out, 5), round(self.elapsed)))
            bar.set_postfix(loss=f"{smoothed:.4f}")
            bar.update(1)
            if time.monotonic() - last_save > self.args.checkpoint_minutes * 60:
                self.save_checkpoint()
                last_save = time.monotonic()
        bar.close()
        self.save_checkpoint()
        print(f"exported {self.export()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--steps", type=int, required=True, help="total steps (a resumed run continues to this)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--dropout", type=float, default=None, help="ResNet dropout (default: the model's)")
    parser.add_argument("--shift", type=int, default=None, help="random shifts of up to this many pixels (default: the model's)")
    parser.add_argument("--brightness", type=float, default=None, help="random brightness and contrast of ± this (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--checkpoint-minutes", type=float, default=5)
    parser.add_argument("--data", type=Path, default=default_out())
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("DDPM_CACHE", Path.home() / ".cache/ddpm-web")) / "runs")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init", type=Path, help="start from this exported UNet folder (e.g. www/models/fashion32/unet)")
    parser.add_argument("--tiny", action="store_true", help="a very small model of the same architecture (smoke tests)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    Trainer(args.model, args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
