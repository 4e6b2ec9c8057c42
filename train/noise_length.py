"""Does ε_θ follow the length of the noise it is shown, and does DDIM's grain go with |x_T|?

With diffusers alone on a pipeline folder (the card's figures on DDIM's start on the sphere):

1. scale ε by 0.97 and 1.03 in x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for 16 training images and print
   ε̂'s projection on ε at several t: a model that follows the length moves it by 0.06;
2. DDIM 50, η = 0 from x_T as N(0, I) draws it and from the same x_T scaled to length √d: per
   seed, the grainy samples (mean |Laplacian| over 1.5× the training images', as evaluate.py)
   and the correlation of a sample's grain with |x_T|²/d.

    python train/noise_length.py faces64 --model www/models/faces64 [--seeds 1 2 3] [--steps 50]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from core import null_class
from data import default_out
from diffusers import DDIMScheduler, UNet2DModel
from evaluate import DATA, laplacian_energy, to_range


def to_unit_length(x):
    """Each sample scaled to |x|²/d = 1: the sphere |x| = √d."""
    return x / x.flatten(1).pow(2).mean(1).sqrt().view(-1, 1, 1, 1)


def projection_on_noise(unet, alphas_cumprod, x0, labels, t, scale, noise):
    a = alphas_cumprod[t]
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise * scale
    eps = unet(x_t, t, class_labels=labels).sample
    return ((eps * noise).flatten(1).sum(1) / noise.flatten(1).pow(2).sum(1)).mean().item()


def ddim_grain(unet, scheduler, labels, shape, seed, on_sphere, train_energy):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    length = x.flatten(1).pow(2).mean(1)
    if on_sphere:
        x = to_unit_length(x)
    for t in scheduler.timesteps:
        x = scheduler.step(unet(x, t, class_labels=labels).sample, t, x, eta=0.0).prev_sample
    grain = laplacian_energy(x.clamp(-1, 1)) / train_energy
    return grain, length


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(DATA))
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=default_out())
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    data = np.load(args.data / DATA[args.name])
    train = to_range(data["train"])
    unet = UNet2DModel.from_pretrained(args.model / "unet").float().eval()
    scheduler = DDIMScheduler.from_pretrained(args.model / "scheduler")
    scheduler.set_timesteps(args.steps)
    null = null_class(args.model)
    label = lambda n: None if null is None else torch.full((n,), null)
    with torch.no_grad():
        x0 = train[:16]
        noise = to_unit_length(torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))
        for t in (980, 800, 600, 400, 200, 50):
            low, high = (projection_on_noise(unet, scheduler.alphas_cumprod, x0, label(16), t, s, noise) for s in (0.97, 1.03))
            print(f"t = {t}: ε̂·ε/|ε|² {low:.4f} at 0.97, {high:.4f} at 1.03: follows {(high - low) / 0.06:.0%} of the length")
        train_energy = laplacian_energy(train).mean().item()
        size = unet.config.sample_size
        shape = (args.samples, unet.config.in_channels, size, size)
        for seed in args.seeds:
            for on_sphere in (False, True):
                grain, length = ddim_grain(unet, scheduler, label(args.samples), shape, seed, on_sphere, train_energy)
                corr = np.corrcoef(length.numpy(), grain.numpy())[0, 1]
                where = "on the sphere" if on_sphere else "as drawn     "
                print(
                    f"seed {seed}, x_T {where}: grain {grain.mean():.2f}×, grainy {(grain > 1.5).sum().item()} of {args.samples}, "
                    f"corr(|x_T|²/d, grain) {corr:.2f}"
                )


if __name__ == "__main__":
    main()
