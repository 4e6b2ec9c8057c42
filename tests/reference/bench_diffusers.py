"""diffusers' side of `ddpm bench --vs-diffusers`: the same measurements on the same weights.

Prints one JSON line (the last line): {"eps": [[batch, median ms], ...], "ddim": median ms or null},
the shape `ddpm bench` reads. ε_θ is one UNet2DModel forward pass; the DDIM run is diffusers'
own loop (DDIMScheduler.step over every timestep, η = 0) from drawing x_T to the final sample.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from diffusers import DDIMScheduler, UNet2DModel


def median_ms(run, repeats):
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batches", default="1")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ddim-steps", type=int)
    parser.add_argument("--ddim-batch", type=int, default=8)
    args = parser.parse_args()
    model = UNet2DModel.from_pretrained(args.model).eval()
    size = model.config.sample_size or 32
    channels = model.config.in_channels

    def labels(batch):
        if model.config.num_class_embeds:
            return torch.full((batch,), model.config.num_class_embeds - 1)
        return None

    report = {"eps": [], "ddim": None, "threads": torch.get_num_threads()}
    with torch.no_grad():
        for batch in (int(b) for b in args.batches.split(",")):
            x = torch.randn(batch, channels, size, size)
            t = torch.full((batch,), 500)
            y = labels(batch)
            report["eps"].append([batch, median_ms(lambda x=x, t=t, y=y: model(x, t, y), args.repeats)])
        if args.ddim_steps:
            scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=True)
            batch = args.ddim_batch
            y = labels(batch)

            def ddim():
                scheduler.set_timesteps(args.ddim_steps)
                sample = torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))
                for t in scheduler.timesteps:
                    eps = model(sample, t, y).sample
                    sample = scheduler.step(eps, t, sample, eta=0.0).prev_sample
                return sample.numpy()

            report["ddim"] = median_ms(ddim, max(1, args.repeats // 2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
