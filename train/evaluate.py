"""Measures a trained image model and writes its model card figures.

    python train/evaluate.py fashion32 --model www/models/fashion32 [--images 64]

- Likelihood: the variational bound in bits/dim on held-out images (Ho et al. Table 2 method:
  L_T + Σ_{t=2..T} L_{t−1} + L_0 with the discretised Gaussian decoder), every t summed with one
  x_t ~ q(x_t|x_0) per t; against a per-pixel independent Gaussian fitted to the training set.
- Not copies: samples drawn by the Rust CLI (`ddpm sample`, which proves the shipped files load in
  the core) against their nearest training image, and held-out images against theirs.
- Guidance (class-conditional models): per class, samples at each w of the page's rows (0 … 4);
  how clearly they are of their class by a classifier trained on the training images
  (`judge.py`), and their mean distance to the class's training mean image: L2, and the shape
  distance 1 − Pearson correlation, which ignores brightness and contrast (what the page's
  guidance view shows); per w, in how many classes each measure is better than at w = 0.
- Inpainting (--inpaint, faces): held-out faces with the right half, the bottom half or one
  quadrant unknown, filled by the project's own core (`ddpm inpaint`, RePaint and replacement);
  PSNR and SSIM of the filled region against fills that need no model: the mean training face,
  the mirror of the known part, and the training face nearest on the known part. Beside them,
  two estimates of E[unknown | known], the fill with the least expected squared error: the pixel
  mean of the core's RePaint fills, and the posterior mean of a Gaussian fitted to the training
  faces (the best a linear model of the data does). One fill drawn from a calibrated posterior
  has twice that posterior mean's expected squared error (3 dB less PSNR).
- Samplers (--samplers): for DDPM 1000 steps, DDPM 100 strided, DDIM 50 η = 0 and η = 1, the
  grain ratio (mean |Laplacian| of samples over the training images'), the share of grainy
  samples (over 1.5× the training images' mean), the nearest-neighbour ratio, and a grid each;
  from it, the sampler the page starts with on each backend (`default_sampler`).
Prints every figure and writes them to <model>/evaluation.json (+ PNGs); the inpainting and
sampler tables also go into the model card (README.md) between their markers.
"""

import argparse
import functools
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from core import ddpm, null_class, quadrant_mask, sampler_names
from data import default_out
from diffusers import DDPMScheduler, UNet2DModel
from judge import DESCRIPTION as JUDGE
from judge import ClassJudge
from page_samples import FASHION_CLASSES
from PIL import Image, ImageDraw

print = functools.partial(print, flush=True)  # progress shows up when piped

ROOT = Path(__file__).resolve().parent.parent
DATA = {"faces64": "faces64.npz", "fashion32": "fashion32.npz"}


def approx_std_normal_cdf(x):
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def discretized_gaussian_log_likelihood(x, means, log_scales):
    """log p of x in [−1, 1] quantised to 256 levels (Ho et al.'s decoder, diffusion_utils_2)."""
    centered = x - means
    inv_stdv = torch.exp(-log_scales)
    cdf_plus = approx_std_normal_cdf(inv_stdv * (centered + 1.0 / 255.0))
    cdf_min = approx_std_normal_cdf(inv_stdv * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    cdf_delta = cdf_plus - cdf_min
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, torch.log(cdf_delta.clamp(min=1e-12))))


def normal_kl(mean1, logvar1, mean2, logvar2):
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


@torch.no_grad()
def bits_per_dim(model, scheduler, x0, labels, seed=0):
    """The variational bound (eq. 5) in bits/dim, all T terms summed, fixed-small variance."""
    g = torch.Generator().manual_seed(seed)
    T = scheduler.config.num_train_timesteps
    ab = scheduler.alphas_cumprod.double()
    betas = scheduler.betas.double()
    ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
    post_var = betas * (1 - ab_prev) / (1 - ab)
    post_logvar = torch.log(torch.cat([post_var[1:2], post_var[1:]]))  # clipped at t = 0, as Ho et al.
    coef1 = betas * ab_prev.sqrt() / (1 - ab)
    coef2 = (1 - ab_prev) * (1 - betas).sqrt() / (1 - ab)
    dims = x0[0].numel()
    x0 = x0.double()
    total = torch.zeros(x0.shape[0], dtype=torch.float64)
    # L_T: KL(q(x_T|x_0) ‖ N(0, I))
    total += (
        normal_kl(ab[-1].sqrt() * x0, torch.log(1 - ab[-1]).expand_as(x0), torch.zeros_like(x0), torch.zeros_like(x0)).flatten(1).sum(1)
    )
    for t in range(T):
        noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
        x_t = ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * noise
        eps = model(x_t.float(), torch.full((x0.shape[0],), t), class_labels=labels).sample.double()
        pred_x0 = ((x_t - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()).clamp(-1, 1)
        mean_p = coef1[t] * pred_x0 + coef2[t] * x_t
        if t == 0:
            # L_0 = −log p(x_0 | x_1) with the discretised Gaussian decoder
            total += -discretized_gaussian_log_likelihood(x0, mean_p, 0.5 * post_logvar[0]).flatten(1).sum(1)
        else:
            mean_q = coef1[t] * x0 + coef2[t] * x_t
            total += normal_kl(mean_q, post_logvar[t].expand_as(x0), mean_p, post_logvar[t].expand_as(x0)).flatten(1).sum(1)
    return (total / (dims * math.log(2))).mean().item()


def gaussian_baseline_bpd(train, test):
    """Per-pixel independent Gaussian fitted to the training set, discretised like the decoder."""
    mean = train.mean(0, keepdim=True)
    log_scale = torch.log(train.std(0, keepdim=True).clamp(min=1e-3))
    ll = discretized_gaussian_log_likelihood(test, mean.expand_as(test), log_scale.expand_as(test))
    return (-ll.flatten(1).sum(1) / (test[0].numel() * math.log(2))).mean().item()


def shape_distance(samples, mean):
    """1 − Pearson correlation of each sample with `mean`: [N,1,H,W] → [N]."""
    a = samples.flatten(1) - samples.flatten(1).mean(1, keepdim=True)
    b = (mean.flatten() - mean.flatten().mean()).unsqueeze(0)
    return 1 - (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp(min=1e-12)


def to_range(images):
    return torch.from_numpy(images).float().div(127.5).sub(1.0).unsqueeze(1)


def read_npy(path):
    return torch.from_numpy(np.load(path)).float()


def tile(images, columns, path):
    """[N,1,H,W] in [−1, 1] → a PNG grid."""
    n, _, h, w = images.shape
    rows = math.ceil(n / columns)
    canvas = Image.new("L", (columns * (w + 2) + 2, rows * (h + 2) + 2), 255)
    for i, img in enumerate(images):
        pixels = ((img[0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        canvas.paste(Image.fromarray(pixels), (2 + (i % columns) * (w + 2), 2 + (i // columns) * (h + 2)))
    canvas.save(path)


def whole_history(record):
    """One curve over a run (its training.json) and the runs its --init came from, oldest first:
    each parent cut at the step its export was taken, the next going on from there; the last run
    whole, since what followed its export is why that export was chosen. Returns the history and
    the steps at which each continuation began."""
    chain = []
    while record:
        chain.insert(0, record)
        record = record.get("init")
    history, starts, offset = [], [], 0
    for stage in chain:
        end = stage["exported_step"] if stage.get("exported_step") is not None else stage.get("steps") or 0
        if stage is not chain[0]:
            starts.append(offset)
        last = stage is chain[-1]
        history += [(offset + step, *rest) for step, *rest in stage.get("history") or [] if last or step <= end]
        offset += end
    return history, starts


def loss_curve(history, path, starts=()):
    """Train loss (blue; a continuation's first entry has none) and held-out loss (red) against
    steps, a grey line where each continuation began."""
    steps = [h[0] for h in history]
    train = [(h[0], h[1]) for h in history if h[1] is not None]
    held = [(h[0], h[2]) for h in history if h[2] is not None]
    width, height, pad = 480, 240, 30
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    # Log scale: the first steps' loss is ten times the last, and a fine-tune's gains are 1 %.
    values = [v for _, v in train + held]
    bottom, top = min(values) * 0.9, max(values) * 1.1
    sx = lambda s: pad + (width - 2 * pad) * s / max(steps)
    sy = lambda v: height - pad - (height - 2 * pad) * math.log(v / bottom) / math.log(top / bottom)
    for start in starts:
        d.line([(sx(start), pad), (sx(start), height - pad)], fill=(170, 170, 170), width=1)
    d.line([(sx(s), sy(v)) for s, v in train], fill=(40, 90, 200), width=2)
    if held:
        d.line([(sx(s), sy(v)) for s, v in held], fill=(220, 80, 40), width=2)
    d.rectangle([pad, pad, width - pad, height - pad], outline="black")
    d.text((pad + 4, pad + 4), f"L_simple: train (blue), held-out EMA (red); log scale {bottom:.3f} … {top:.3f}", fill="black")
    d.text((pad, height - pad + 6), f"0 … {max(steps)} steps" + (" (grey: continued with --init)" if starts else ""), fill="black")
    img.save(path)


# Inpainting masks: name → known quadrants TL TR BL BR (`ddpm inpaint --known`).
MASKS = {
    "right half": "1010",
    "bottom half": "1100",
    "top-left": "0111",
    "top-right": "1011",
    "bottom-left": "1101",
    "bottom-right": "1110",
}


def mirror_fill(image, mask):
    """Each unknown pixel from its mirror image across the known part's side: left ↔ right where
    the mirror pixel is known, otherwise top ↔ bottom, otherwise the known part's mean."""
    flipped_h, flipped_v = image.flip(-1), image.flip(-2)
    known_h, known_v = mask.flip(-1), mask.flip(-2)
    mean = (image * mask).sum() / mask.sum()
    fill = torch.where(known_h > 0, flipped_h, torch.where(known_v > 0, flipped_v, mean))
    return torch.where(mask > 0, image, fill)


def psnr(a, b, region):
    """On [−1, 1] images (peak-to-peak 2), over the pixels where `region` is 1."""
    mse = ((a - b) ** 2 * region).sum() / region.sum()
    return 10 * math.log10(4 / max(mse.item(), 1e-12))


def ssim(a, b, region):
    """Mean SSIM map (11×11 Gaussian window, σ 1.5, data range 2) over `region`."""
    g = torch.exp(-((torch.arange(11) - 5) ** 2) / (2 * 1.5**2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2).view(1, 1, 11, 11)
    blur = lambda x: torch.nn.functional.conv2d(x.view(1, 1, *x.shape[-2:]), window, padding=5)[0, 0]
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ((ssim_map * region).sum() / region.sum()).item()


# Fills the model's estimate of the posterior mean averages; the page's inpainting view shows as many.
INPAINT_MEAN_OF = 4
# Candidate ridges for the Gaussian fill, in the units of [−1, 1] pixels summed over the known part.
RIDGES = (10, 30, 100, 300, 1000, 3000, 10000)
MODEL_FREE = ("mean face", "mirror", "nearest training face")


def gaussian_fill(train, people, mask):
    """The posterior mean E[unknown | known] of a Gaussian fitted to the training images (with their
    flips), as a function of an image: ridge regression of the unknown pixels on the known ones, in
    its dual form (N×N for N images). The ridge is chosen by cross-validation over whole training
    people in groups of 4, as the held-out split is made, so the held-out images choose nothing."""
    known = mask.flatten() > 0
    images = torch.cat([train, train.flip(-1)]).flatten(1).double()
    group = torch.from_numpy((np.concatenate([people, people]) - people.min()) // 4)

    def fit(rows):
        """For each ridge, the fill of `rows`' Gaussian: one eigendecomposition of the Gram matrix serves all."""
        mean = images[rows].mean(0)
        x = images[rows] - mean
        xk = x[:, known]
        eigenvalues, u = torch.linalg.eigh(xk @ xk.T)
        coefficients = u.T @ x[:, ~known]

        def predict(flat, ridge):
            return (((flat - mean)[..., known] @ xk.T @ u) / (eigenvalues + ridge)) @ coefficients + mean[~known]

        return predict

    def validation_error(ridge, folds):
        return sum(((predict(images[held], ridge) - images[held][:, ~known]) ** 2).sum().item() for held, predict in folds)

    folds = [(group == g, fit(group != g)) for g in group.unique()]
    ridge = min(RIDGES, key=lambda r: validation_error(r, folds))
    predict = fit(torch.ones(len(images), dtype=torch.bool))

    def fill(image):
        flat = image.flatten().double().clone()
        flat[~known] = predict(flat, ridge)
        return flat.view(image.shape).float()

    return fill


def inpainting_table(args, train, people, test, tmp):
    """PSNR/SSIM of the filled region, per mask and method, averaged over held-out faces."""
    size = test.shape[-1]
    faces = test[: args.inpaint_faces, 0]
    mean_face = train[:, 0].mean(0)
    flat_train = train[:, 0].flatten(1)
    mean_of = f"ours, repaint, mean of {INPAINT_MEAN_OF}"
    table = {}
    for name, known in MASKS.items():
        mask = quadrant_mask(known, size)
        unknown = 1 - mask
        gaussian = gaussian_fill(train[:, 0], people, mask)
        scores = {}
        for i, face in enumerate(faces):
            png = tmp / "face.png"
            Image.fromarray(((face + 1) * 127.5).round().clamp(0, 255).byte().numpy()).save(png)
            nearest = flat_train[((flat_train - face.flatten()) ** 2 * mask.flatten()).sum(1).argmin()].view(size, size)
            fills = {
                "mean face": mean_face,
                "mirror": mirror_fill(face, mask),
                "nearest training face": nearest,
                "Gaussian posterior mean": gaussian(face),
            }
            for method, n in (("repaint", INPAINT_MEAN_OF), ("replacement", 1)):
                npy = tmp / f"{method}.npy"
                ddpm(
                    "inpaint",
                    "--model",
                    str(args.model),
                    "--image",
                    str(png),
                    "--known",
                    known,
                    "--method",
                    method,
                    "--steps",
                    str(args.inpaint_steps),
                    "--seed",
                    str(i),
                    "--n",
                    str(n),
                    "--out",
                    str(tmp / "strip.png"),
                    "--npy",
                    str(npy),
                )
                drawn = read_npy(npy)[:, 0]
                # The first of a batch is the fill `--n 1` gives with the same seed.
                fills[f"ours, {method}"] = drawn[0]
                if n > 1:
                    fills[mean_of] = drawn.mean(0)
            for fill_name, fill in fills.items():
                scores.setdefault(fill_name, []).append((psnr(fill, face, unknown), ssim(fill, face, unknown)))
        table[name] = {k: {"psnr": float(np.mean([p for p, _ in v])), "ssim": float(np.mean([q for _, q in v]))} for k, v in scores.items()}
        row = table[name]
        best_free = max(row[k]["psnr"] for k in MODEL_FREE)
        print(
            f"{name}: "
            + ", ".join(f"{k} {v['psnr']:.2f} dB / {v['ssim']:.3f}" for k, v in row.items())
            + f"; RePaint − best model-free fill: {row['ours, repaint']['psnr'] - best_free:+.2f} dB"
            + f", mean of {INPAINT_MEAN_OF} RePaint fills − it: {row[mean_of]['psnr'] - best_free:+.2f} dB"
        )
    return table


def inpainting_markdown(table, args):
    methods = list(next(iter(table.values())).keys())
    lines = [
        f"Held-out faces: {args.inpaint_faces}; fills by `ddpm inpaint` ({args.inpaint_steps} steps; RePaint: jump 5, 5 resamplings), "
        "PSNR (dB) / SSIM of the filled region. The first three fills need no model. The Gaussian posterior mean is "
        "E[unknown | known] under a Gaussian fitted to the training faces (ridge regression, the ridge chosen by "
        f'cross-validation over training people); "mean of {INPAINT_MEAN_OF}" is the pixel mean of {INPAINT_MEAN_OF} RePaint '
        'fills, the first of which is the "ours, repaint" fill: both estimate the fill of least squared error, '
        "where one drawn fill pays the posterior's spread as well.",
        "",
        "| unknown | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[m]['psnr']:.2f} / {row[m]['ssim']:.3f}" for m in methods) + " |")
    return "\n".join(lines)


# What evaluation.json holds from the --inpaint and --samplers runs.
TABLES = ("inpainting", "samplers", "default_sampler")
# name → the page's settings (its sampler menu's value, steps, η); the CLI arguments follow from them.
SAMPLERS = {
    "DDPM 1000": {"sampler": "ddpm-small", "steps": 1000},
    "DDPM 100 strided": {"sampler": "ddpm-small", "steps": 100},
    "DDIM 50, η = 0": {"sampler": "ddim", "steps": 50, "eta": 0},
    "DDIM 50, η = 1": {"sampler": "ddim", "steps": 50, "eta": 1},
    # The page lets a person take DDIM η = 0 to more steps, where it follows the model's own flow more closely.
    "DDIM 100, η = 0": {"sampler": "ddim", "steps": 100, "eta": 0},
    "DDIM 200, η = 0": {"sampler": "ddim", "steps": 200, "eta": 0},
}
# Issue 12's bar for a clean sampler: grain at most 1.15× the training images', at most 1 grainy sample in 32.
CLEAN_GRAIN_RATIO = 1.15
CLEAN_GRAINY_SHARE = 1 / 32


def cli_arguments(page):
    """The page's settings as `ddpm sample` arguments: the CLI's --sampler takes the page's names."""
    eta = ["--eta", str(page["eta"])] if page["sampler"] == "ddim" else []
    return ["--sampler", page["sampler"], "--steps", str(page["steps"]), *eta]


def unmeasured(table):
    """The samplers of SAMPLERS a table has no row for; the page's default is chosen only without any."""
    return [name for name in SAMPLERS if name not in table]


def is_clean(row):
    return row["grain_ratio"] <= CLEAN_GRAIN_RATIO and row["grainy_share"] <= CLEAN_GRAINY_SHARE


def default_samplers(table):
    """The page's starting sampler per backend, from the measured table. WebGPU: Algorithm 2 as
    written (the most steps) among the clean samplers; the CPU path: the fewest network evaluations
    among them. With none clean, both take the least grainy."""
    clean = [name for name, row in table.items() if is_clean(row)]
    if clean:
        webgpu = max(clean, key=lambda n: (SAMPLERS[n]["steps"], -table[n]["grain_ratio"]))
        cpu = min(clean, key=lambda n: (SAMPLERS[n]["steps"], table[n]["grain_ratio"]))
        why = f"clean: grain ≤ {CLEAN_GRAIN_RATIO}× and at most {CLEAN_GRAINY_SHARE:.0%} grainy"
    else:
        webgpu = cpu = min(table, key=lambda n: table[n]["grain_ratio"])
        why = "no sampler is clean by the bar above; the least grainy"
    return {"webgpu": {"name": webgpu, **SAMPLERS[webgpu]}, "cpu": {"name": cpu, **SAMPLERS[cpu]}, "why": why}


def laplacian_energy(images):
    """Mean |4-neighbour Laplacian| per image: grain shows as high-frequency energy."""
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return torch.nn.functional.conv2d(images, kernel).abs().flatten(1).mean(1)


def sampler_table(args, train, test, tmp):
    train_energy = laplacian_energy(train).mean().item()
    flat_train = train.flatten(1)
    held = torch.cdist(test[: args.samples].flatten(1), flat_train).min(1).values.mean().item()
    table = {}
    for name, page in SAMPLERS.items():
        if name in args.skip_samplers:
            continue
        npy = tmp / "s.npy"
        grid = args.model / f"samples-{name.split(',')[0].lower().replace(' ', '-')}{'-eta1' if 'η = 1' in name else ''}.png"
        ddpm(
            "sample",
            "--model",
            str(args.model),
            *cli_arguments(page),
            "--seed",
            "1",
            "--n",
            str(args.samples),
            "--out",
            str(grid),
            "--npy",
            str(npy),
        )
        samples = read_npy(npy)
        energy = laplacian_energy(samples)
        nn = torch.cdist(samples.flatten(1), flat_train).min(1).values.mean().item()
        table[name] = {
            "grain_ratio": energy.mean().item() / train_energy,
            "grainy_share": (energy > 1.5 * train_energy).float().mean().item(),
            "nearest_neighbour_ratio": nn / held,
            "grid": grid.name,
            "samples": args.samples,
        }
        t = table[name]
        print(
            f"{name}: grain {t['grain_ratio']:.2f}×, grainy {t['grainy_share'] * 100:.0f} %, "
            f"nearest-neighbour ratio {t['nearest_neighbour_ratio']:.2f}"
        )
    return table


def sampler_markdown(table):
    # Rows kept from an earlier run (--skip-samplers) may have another sample count than this one's.
    counts = sorted({t["samples"] for t in table.values()})
    each = len(counts) == 1
    count, column = (f"{counts[0]} samples", "") if each else ("Samples", " samples |")
    lines = [
        f"{count} per sampler (seed 1, `ddpm sample`). Grain: mean |Laplacian| over the training images'; grainy: over "
        "1.5× it; nearest-neighbour ratio: distance to the nearest training image over that of as many held-out images.",
        "",
        f"| sampler |{column} grain | grainy | nearest-neighbour ratio | grid |",
        f"|---|{'---|' if column else ''}---|---|---|---|",
    ]
    for name, t in table.items():
        samples = "" if each else f" {t['samples']} |"
        lines.append(
            f"| {name} |{samples} {t['grain_ratio']:.2f}× | {t['grainy_share'] * 100:.0f} % | "
            f"{t['nearest_neighbour_ratio']:.2f} | `{t['grid']}` |"
        )
    missing = unmeasured(table)
    if missing:
        lines += [
            "",
            f"Not measured yet: {', '.join(missing)}. Until every row is, the page keeps its own default "
            "(Algorithm 2 as written on WebGPU, DDPM 100 strided on the CPU path).",
        ]
        return "\n".join(lines)
    chosen = default_samplers(table)
    lines += [
        "",
        f"The page starts with **{chosen['webgpu']['name']}** on WebGPU and **{chosen['cpu']['name']}** on the CPU path "
        f"({chosen['why']}; WebGPU takes the most steps, the CPU path the fewest). `node scripts/model-index.mjs` copies "
        "this choice into `www/models/index.json`.",
    ]
    return "\n".join(lines)


def write_card_section(card, marker, text):
    """Replaces (or appends) the card's section between <!-- marker --> and <!-- /marker -->."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    body = card.read_text() if card.exists() else ""
    block = f"{start}\n{text}\n{end}"
    if start in body and end in body:
        body = body[: body.index(start)] + block + body[body.index(end) + len(end) :]
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    card.write_text(body)


# The page's guidance view: DDIM, 50 steps, η = 1, and its rows at the default w = 4: the ladder
# 0, 0.5, 1, 2, 4 (www/views/guidance.js, DEFAULTS and LADDER).
GUIDANCE_PAGE = {"sampler": "ddim", "steps": 50, "eta": 1}
GUIDANCE_SAMPLER = f"--sampler ddim --steps {GUIDANCE_PAGE['steps']} --eta {GUIDANCE_PAGE['eta']} --seed 2 --n 16"
GUIDANCE_WEIGHTS = (0, 0.5, 1, 2, 4)


def guidance_figures(args, data, train, test, null, tmp):
    """Per class and per weight w of the page's rows: 16 samples (one seed, so the same x_T for
    every w), how far they are from the class's mean training image (L2 and shape: 1 − correlation),
    and how clearly they are of their class by a judge trained on the training images (`judge.py`)."""
    labels = torch.from_numpy(data["train_labels"])
    judge = ClassJudge(train, labels, null)
    judge_accuracy = judge.accuracy(test, torch.from_numpy(data["test_labels"]))
    print(f"class judge: {judge_accuracy * 100:.1f} % held-out accuracy")
    classes = {}
    for c in range(null):
        class_mean = train[labels == c].mean(0)
        row = {}
        for w in GUIDANCE_WEIGHTS:
            npy_c = tmp / f"c{c}w{w}.npy"
            ddpm(
                "sample",
                "--model",
                str(args.model),
                *GUIDANCE_SAMPLER.split(),
                "--class",
                str(c),
                "--guidance",
                str(w),
                "--out",
                str(tmp / "g.png"),
                "--npy",
                str(npy_c),
            )
            samples = read_npy(npy_c)
            verdict = judge.verdict(samples, c)
            row[f"{w:g}"] = {
                "l2": (samples - class_mean).flatten(1).norm(dim=1).mean().item(),
                "shape": shape_distance(samples, class_mean).mean().item(),
                "judged": verdict["accuracy"],
                "log_p": verdict["log_p"],
            }
        classes[c] = row
        trace = lambda measure, places, row=row: " → ".join(f"{r[measure]:.{places}f}" for r in row.values())
        print(
            f"class {c}, w = {' → '.join(row)}: L2 to the class mean {trace('l2', 3)}; shape distance {trace('shape', 4)}; "
            f"log p {trace('log_p', 3)}"
        )
    guidance = {
        "sampler": GUIDANCE_SAMPLER,
        "page": GUIDANCE_PAGE,
        "weights": [f"{w:g}" for w in GUIDANCE_WEIGHTS],
        "samples": len(samples),
        "judge": {"what": JUDGE, "held_out_accuracy": judge_accuracy},
        "classes": classes,
    }
    # The page shows these beside its guidance controls (scripts/model-index.mjs copies them).
    guidance["better"] = {w: guidance_counts(guidance, w) for w in guidance["weights"][1:]}
    return guidance


# What each measure says of a class at weight w against w = 0: is it better?
GUIDANCE_BETTER = {
    "log_p": lambda guided, unguided: guided > unguided,
    "l2": lambda guided, unguided: guided < unguided,
    "shape": lambda guided, unguided: guided < unguided,
}


def guidance_counts(guidance, w):
    """For each measure, in how many classes the samples at w are better than at w = 0."""
    return {
        measure: sum(better(row[w][measure], row["0"][measure]) for row in guidance["classes"].values())
        for measure, better in GUIDANCE_BETTER.items()
    }


def guidance_markdown(guidance):
    classes, weights = guidance["classes"], guidance["weights"]
    header = "| class | " + " | ".join(f"w = {w}" for w in weights) + " |"
    rule = "|---|" + "---|" * len(weights)

    def table(title, cell):
        return (
            [title, "", header, rule]
            + [f"| {c} {FASHION_CLASSES[int(c)]} | " + " | ".join(cell(row[w]) for w in weights) + " |" for c, row in classes.items()]
            + [""]
        )

    lines = [
        f"Per class, {guidance['samples']} samples at each w of the page's rows ({weights[0]} … {weights[-1]}) from one x_T "
        f"and noise (`ddpm sample {guidance['sampler']} --class C --guidance W`, the page's guidance view). "
        "Judged: the share the class judge (`train/judge.py`, "
        f"{guidance['judge']['held_out_accuracy'] * 100:.1f} % on held-out images) assigns to the class, and its mean "
        "log p(class | x). L2 and shape: distance to the class's mean training image.",
        "",
        "Against w = 0, the classes where each measure is better:",
        "",
        "| w | log p(class \\| x) rises | L2 to the class mean falls | shape distance falls | judged of its class |",
        "|---|---|---|---|---|",
    ]
    total = len(classes)
    judged = lambda w: f"{sum(round(row[w]['judged'] * guidance['samples']) for row in classes.values())} of {guidance['samples'] * total}"
    lines.append(f"| {weights[0]} | — | — | — | {judged(weights[0])} |")
    for w in weights[1:]:
        n = guidance_counts(guidance, w)
        lines.append(f"| {w} | {n['log_p']} of {total} | {n['l2']} of {total} | {n['shape']} of {total} | {judged(w)} |")
    lines.append("")
    lines += table("Judged of its class:", lambda r: f"{r['judged'] * 100:.0f} %")
    lines += table("Mean log p(class | x):", lambda r: f"{r['log_p']:.3f}")
    lines += table("L2 to the class mean:", lambda r: f"{r['l2']:.2f}")
    lines += table("Shape distance to the class mean:", lambda r: f"{r['shape']:.4f}")
    return "\n".join(lines).rstrip("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(DATA))
    parser.add_argument("--model", type=Path, required=True, help="the pipeline folder (model_index.json, unet/, scheduler/)")
    parser.add_argument("--images", type=int, default=64, help="held-out images for the bound")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--data", type=Path, default=default_out())
    parser.add_argument(
        "--grid-sampler",
        default="ddpm-small",
        help="sampler of the 64-sample grid, by the CLI's name (`ddpm sample --sampler`; Algorithm 2 by default)",
    )
    parser.add_argument("--grid-steps", type=int, default=1000)
    parser.add_argument(
        "--bound-only", action="store_true", help="print the bound and the baseline only, writing nothing (to compare checkpoints)"
    )
    parser.add_argument("--guidance-only", action="store_true", help="redo only the guidance figures, keeping the rest of evaluation.json")
    parser.add_argument(
        "--reuse-bound", action="store_true", help="keep the bound from the last evaluation.json (it takes ~40 min of CPU for fashion32)"
    )
    parser.add_argument("--inpaint", action="store_true", help="only the inpainting table (faces), into evaluation.json and the card")
    parser.add_argument("--inpaint-faces", type=int, default=16)
    parser.add_argument("--inpaint-steps", type=int, default=50)
    parser.add_argument("--samplers", action="store_true", help="only the per-sampler quality table, into evaluation.json and the card")
    parser.add_argument(
        "--skip-samplers",
        nargs="*",
        default=[],
        help='sampler names to leave out of --samplers (e.g. "DDPM 1000"); their rows from the last run stay',
    )
    args = parser.parse_args()
    if args.grid_sampler not in sampler_names(args.model):
        parser.error(f"--grid-sampler {args.grid_sampler}: the CLI's samplers are {', '.join(sampler_names(args.model))}")
    torch.manual_seed(0)
    data = np.load(args.data / DATA[args.name])
    train, test = to_range(data["train"]), to_range(data["test"])
    model = UNet2DModel.from_pretrained(args.model / "unet").float().eval()
    scheduler = DDPMScheduler.from_pretrained(args.model / "scheduler")
    null = null_class(args.model)
    conditional = null is not None
    test_labels = torch.from_numpy(data["test_labels"][: args.images]) if conditional else None
    out = {"model": args.name, "held_out_images": args.images}

    previous = args.model / "evaluation.json"
    if args.inpaint or args.samplers:
        # The tables take minutes to hours: evaluation.json is read and written only once they are
        # measured, so an --inpaint and a --samplers run on one model can go side by side.
        with tempfile.TemporaryDirectory() as tmp:
            inpainting = inpainting_table(args, train, data["train_person"], test, Path(tmp)) if args.inpaint else None
            samplers = sampler_table(args, train, test, Path(tmp)) if args.samplers else None
        out = json.loads(previous.read_text()) if previous.exists() else out
        if inpainting:
            out["inpainting"] = inpainting
            write_card_section(args.model / "README.md", "inpainting", inpainting_markdown(inpainting, args))
        if samplers:
            # Rows of samplers skipped this time are kept from the last run, in the table's order.
            # Each row carries the page's settings and the bar's verdict: the page shows them beside its
            # sampler controls (scripts/model-index.mjs copies them into www/models/index.json).
            measured = {**out.get("samplers", {}), **samplers}
            out["samplers"] = {
                name: {**measured[name], "page": SAMPLERS[name], "clean": is_clean(measured[name])} for name in SAMPLERS if name in measured
            }
            # A choice made without every row would pick among fewer samplers than the page offers.
            if not unmeasured(out["samplers"]):
                out["default_sampler"] = default_samplers(out["samplers"])
            else:
                out.pop("default_sampler", None)
            write_card_section(args.model / "README.md", "samplers", sampler_markdown(out["samplers"]))
        previous.write_text(json.dumps(out, indent=1))
        return 0
    if args.guidance_only:
        out = json.loads(previous.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            out["guidance"] = guidance_figures(args, data, train, test, null, Path(tmp))
        write_card_section(args.model / "README.md", "guidance", guidance_markdown(out["guidance"]))
        previous.write_text(json.dumps(out, indent=1))
        return 0
    if args.reuse_bound and previous.exists():
        old = json.loads(previous.read_text())
        out["held_out_images"] = old["held_out_images"]
        out["bits_per_dim"] = old["bits_per_dim"]
    else:
        out["bits_per_dim"] = bits_per_dim(model, scheduler, test[: args.images], test_labels)
    out["bits_per_dim_baseline_gaussian"] = gaussian_baseline_bpd(train, test[: out["held_out_images"]])
    print(f"bound: {out['bits_per_dim']:.3f} bits/dim (model) vs {out['bits_per_dim_baseline_gaussian']:.3f} (per-pixel Gaussian)")
    if args.bound_only:
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        grid_png = args.model / "samples.png"
        npy = Path(tmp) / "samples.npy"
        sample_args = [
            "sample",
            "--model",
            str(args.model),
            "--sampler",
            args.grid_sampler,
            "--steps",
            str(args.grid_steps),
            "--seed",
            "1",
            "--n",
            str(args.samples),
            "--out",
            str(grid_png),
            "--npy",
            str(npy),
        ]
        ddpm(*sample_args)
        out["sample_grid"] = {"command": "ddpm " + " ".join(sample_args[:-2]).replace(tmp + "/", ""), "file": "samples.png"}
        samples = read_npy(npy)
        flat_train = train.flatten(1)
        nearest = lambda x: torch.cdist(x.flatten(1), flat_train).min(1)
        d_samples, idx = nearest(samples)
        d_held, _ = nearest(test[: args.samples])
        out["nearest_train_distance_samples"] = d_samples.mean().item()
        out["nearest_train_distance_held_out"] = d_held.mean().item()
        out["copy_ratio"] = out["nearest_train_distance_samples"] / out["nearest_train_distance_held_out"]
        print(
            f"nearest training image: samples {out['nearest_train_distance_samples']:.3f}, "
            f"held-out {out['nearest_train_distance_held_out']:.3f} (ratio {out['copy_ratio']:.2f})"
        )
        closest = d_samples.argsort()[:8]
        pairs = torch.stack([x for i in closest for x in (samples[i], train[idx[i]])])
        tile(pairs, 2, args.model / "closest_pairs.png")

        if conditional:
            out["guidance"] = guidance_figures(args, data, train, test, null, Path(tmp))
            write_card_section(args.model / "README.md", "guidance", guidance_markdown(out["guidance"]))
    record = args.model / "training.json"
    history, starts = whole_history(json.loads(record.read_text())) if record.exists() else ([], [])
    if history:
        loss_curve(history, args.model / "loss.png", starts)
    # The tables are measured by their own runs (--inpaint, --samplers), which may go side by side
    # with this one: theirs are kept. After new weights, delete evaluation.json and run all three.
    if previous.exists():
        out.update({k: v for k, v in json.loads(previous.read_text()).items() if k in TABLES})
    previous.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
