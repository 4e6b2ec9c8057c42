"""Median time of one diffusers UNet2DModel forward pass on the CPU, in ms (last line printed).

Called by `ddpm bench --vs-diffusers` so both run on the same weights in the same run.
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from diffusers import UNet2DModel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = UNet2DModel.from_pretrained(args.model).eval()
    size = model.config.sample_size or 32
    x = torch.randn(args.batch, model.config.in_channels, size, size)
    t = torch.full((args.batch,), 500)
    labels = None
    if model.config.num_class_embeds:
        labels = torch.full((args.batch,), model.config.num_class_embeds - 1)
    times = []
    with torch.no_grad():
        model(x, t, labels)
        for _ in range(args.repeats):
            start = time.perf_counter()
            model(x, t, labels)
            times.append((time.perf_counter() - start) * 1e3)
    print(f"threads {torch.get_num_threads()}")
    print(f"{statistics.median(times):.3f}")


if __name__ == "__main__":
    main()
