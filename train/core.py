"""What train/ asks the Rust core (the `ddpm` command line) instead of working it out again: a
model folder's facts and class rules (`ddpm info --json`: num_classes, null_class, the sampler
names) and the inpainting view's quadrant masks (`ddpm mask`)."""

import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch


def ddpm_bin():
    """The `ddpm` make test builds (DDPM_BIN overrides)."""
    default = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ddpm-web/target")) / "debug" / "ddpm"
    return os.environ.get("DDPM_BIN", str(default))


def ddpm(*args, capture=False):
    """Runs `ddpm ARGS`; its standard output when `capture`."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.run([ddpm_bin(), *map(str, args)], check=True, stdout=out, text=True).stdout


@functools.cache
def model_info(model):
    """`ddpm info --json` of a model or pipeline folder."""
    return json.loads(ddpm("info", "--model", model, "--json", capture=True))


def sampler_names(model):
    """The names `ddpm sample --sampler` takes, the page's menu values."""
    return model_info(model)["samplers"]


def null_class(model):
    """The label that means "no class" (None for an unconditional model): the core's rule."""
    return model_info(model)["null_class"]


@functools.cache
def quadrant_mask(known, size):
    """[size, size] float32 with 1 where known, for known quadrants TL TR BL BR such as "1100"."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mask.npy"
        ddpm("mask", "--known", known, "--size", size, "--out", path)
        return torch.from_numpy(np.load(path)).float()
