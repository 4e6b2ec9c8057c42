"""Exports a diffusers UNet2DModel (ε_θ) to ONNX for the onnxruntime-web peer of `make bench`.

    python train/export_onnx.py OUT_DIR [--model www/models/faces64/unet]

Writes OUT_DIR/model.onnx: TorchScript exporter (dynamo=False), opset 17, fp32, the batch axis
dynamic. Inputs: sample [N, C, H, W] float32 and timestep [N] float32 (UNet2DModel takes either
dtype); output: eps [N, C, H, W]. Then checks the file with onnxruntime against torch on the
bench's inputs (x[i] = sin(i), t = 500) at batch 1 and 8 and prints max |Δ|; exits 1 over 1e-4.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from diffusers import UNet2DModel
from diffusers.utils import logging

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4


class Eps(torch.nn.Module):
    """ε_θ(x, t) as one tensor, not diffusers' output dataclass."""

    def __init__(self, unet: UNet2DModel) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, timestep, return_dict=False)[0]


def bench_inputs(unet: UNet2DModel, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """What scripts/bench-peer.mjs feeds both sides: x[i] = sin(i) in float32, t = 500."""
    shape = (batch, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    x = np.sin(np.arange(np.prod(shape), dtype=np.float64)).astype(np.float32).reshape(shape)
    return x, np.full((batch,), 500.0, dtype=np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for model.onnx (a cache, not the repository)")
    parser.add_argument("--model", type=Path, default=ROOT / "www" / "models" / "faces64" / "unet")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "model.onnx"

    logging.set_verbosity_error()
    unet = UNet2DModel.from_pretrained(args.model).eval()
    model = Eps(unet).eval()
    x, t = bench_inputs(unet, 2)
    # Tracing warns of the Python branches on shapes it freezes; none of them depends on the batch.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    # The TorchScript exporter on purpose: one graph with a dynamic batch axis, no torch.export.
    warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.from_numpy(x), torch.from_numpy(t)),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["sample", "timestep"],
            output_names=["eps"],
            dynamic_axes={"sample": {0: "batch"}, "timestep": {0: "batch"}, "eps": {0: "batch"}},
        )
    onnx.checker.check_model(str(path))

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in (1, 8):
        x, t = bench_inputs(unet, batch)
        with torch.no_grad():
            expected = model(torch.from_numpy(x), torch.from_numpy(t)).numpy()
        (got,) = session.run(["eps"], {"sample": x, "timestep": t})
        delta = float(np.abs(got - expected).max())
        worst = max(worst, delta)
        print(f"batch {batch}: max |onnxruntime − torch| = {delta:.2e}")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, opset 17, fp32)")
    if worst > TOLERANCE:
        print(f"the export differs from torch by more than {TOLERANCE}", file=sys.stderr)
        path.unlink()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
