"""Tests of train/: the data command's output and split, and a training smoke run whose checkpoint
the Rust core loads and evaluates like diffusers.

    $VENV/bin/python -m unittest discover -s tests/train -v   (make test-train)

DDPM_BIN names the native `ddpm` binary (make builds it in test-rust).
"""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "train"
sys.path.insert(0, str(TRAIN))
from data import default_out  # noqa: E402

PYTHON = sys.executable


def ddpm_bin() -> str:
    default = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ddpm-web/target")) / "debug" / "ddpm"
    return os.environ.get("DDPM_BIN", str(default))


def run(*args, **kwargs):
    return subprocess.run([*map(str, args)], check=True, capture_output=True, text=True, **kwargs)


class DataCommand(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Idempotent: fetches from PyPI / Debian the first time, then finds the files present.
        run(PYTHON, TRAIN / "data.py")
        cls.faces = np.load(default_out() / "faces64.npz")
        cls.fashion = np.load(default_out() / "fashion32.npz")

    def test_faces_shapes_and_split(self):
        f = self.faces
        self.assertEqual(f["train"].shape, (360, 64, 64))
        self.assertEqual(f["test"].shape, (40, 64, 64))
        self.assertEqual(f["train"].dtype, np.uint8)
        self.assertEqual(set(f["train_person"].tolist()), set(range(1, 37)))
        self.assertEqual(set(f["test_person"].tolist()), set(range(37, 41)))
        # No held-out face appears among the training faces, even as a pixel copy.
        train = f["train"].reshape(360, -1).astype(np.int32)
        for face in f["test"].reshape(40, -1).astype(np.int32):
            self.assertGreater(np.abs(train - face).sum(1).min(), 0)
        # Real photographs: grey levels spread over the range, not a constant or noise pattern.
        self.assertGreater(f["train"].std(), 20)
        self.assertLess(np.abs(f["train"][:, :, :32].mean() - f["train"][:, :, 32:].mean()), 10)

    def test_page_samples_are_the_held_out_images(self):
        from PIL import Image

        with tempfile.TemporaryDirectory() as tmp:
            run(PYTHON, TRAIN / "page_samples.py", "--out", tmp)
            for name in ("faces-heldout.png", "fashion-test.png", "fashion-class-means.png"):
                fresh = np.asarray(Image.open(Path(tmp) / name))
                shipped = np.asarray(Image.open(ROOT / "www" / "samples" / name))
                self.assertTrue(np.array_equal(fresh, shipped), f"www/samples/{name} is not what page_samples.py makes")
        shipped = np.asarray(Image.open(ROOT / "www" / "samples" / "faces-heldout.png"))
        tiles = shipped.reshape(4, 64, 10, 64).transpose(0, 2, 1, 3).reshape(40, 64, 64)
        train = self.faces["train"].reshape(360, -1).astype(np.int32)
        for tile in tiles:
            self.assertTrue((self.faces["test"] == tile).all((1, 2)).any(), "a page face is not a held-out face")
            self.assertGreater(np.abs(train - tile.reshape(-1).astype(np.int32)).sum(1).min(), 0)

    def test_fashion_shapes_labels_and_padding(self):
        f = self.fashion
        self.assertEqual(f["train"].shape, (60000, 32, 32))
        self.assertEqual(f["test"].shape, (10000, 32, 32))
        self.assertEqual(sorted(np.unique(f["train_labels"]).tolist()), list(range(10)))
        self.assertEqual(np.bincount(f["test_labels"]).tolist(), [1000] * 10)
        # 28 → 32 by two black pixels on every side.
        border = np.concatenate(
            [f["train"][:, :2].ravel(), f["train"][:, -2:].ravel(), f["train"][:, :, :2].ravel(), f["train"][:, :, -2:].ravel()]
        )
        self.assertEqual(border.max(), 0)
        self.assertGreater(f["train"][:, 2:30, 2:30].max(), 200)


class TrainingSmokeRun(unittest.TestCase):
    """A few steps of Algorithm 1 on a tiny class-conditional model, exported as diffusers."""

    @classmethod
    def setUpClass(cls):
        run(PYTHON, TRAIN / "data.py", "--only", "fashion")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name)
        cls.log = run(
            PYTHON, TRAIN / "train.py", "fashion32", "--tiny", "--steps", "4", "--batch", "4", "--out", cls.out / "straight"
        ).stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_rust_core_loads_the_checkpoint_and_matches_diffusers(self):
        from diffusers import UNet2DModel

        folder = self.out / "straight" / "fashion32"
        self.assertTrue((folder / "unet" / "diffusion_pytorch_model.safetensors").exists(), self.log)
        unet = UNet2DModel.from_pretrained(folder / "unet").eval()
        x = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(5))
        np.save(self.out / "x.npy", x.numpy())
        for t, label in ((999, 3), (500, 10), (0, 7)):
            with torch.no_grad():
                expected = unet(x, t, class_labels=torch.full((2,), label)).sample.numpy()
            run(ddpm_bin(), "eps", "--model", folder, "--x", self.out / "x.npy", "--t", t, "--class", label, "--out", self.out / "eps.npy")
            ours = np.load(self.out / "eps.npy")
            self.assertEqual(ours.shape, expected.shape)
            diff = np.abs(ours - expected).max()
            self.assertLess(diff, 1e-4, f"t={t}, class {label}: Rust ε_θ differs from diffusers by {diff:.2e}")
            self.assertGreater(np.abs(expected).max(), 0.1)

    def test_resume_continues_exactly(self):
        split = self.out / "split"
        run(PYTHON, TRAIN / "train.py", "fashion32", "--tiny", "--steps", "2", "--batch", "4", "--out", split)
        log = run(PYTHON, TRAIN / "train.py", "fashion32", "--tiny", "--steps", "4", "--batch", "4", "--out", split, "--resume").stdout
        self.assertIn("resumed fashion32 at step 2", log)
        straight = torch.load(self.out / "straight" / "fashion32.ckpt", weights_only=False)
        resumed = torch.load(split / "fashion32.ckpt", weights_only=False)
        self.assertEqual(resumed["step"], 4)
        for part in ("model", "ema"):
            for key, value in straight[part].items():
                self.assertTrue(torch.equal(value, resumed[part][key]), f"{part}.{key} differs after resume")

    def test_init_starts_from_an_export_and_never_ships_worse(self):
        import json

        from safetensors.torch import load_file

        init = self.out / "straight" / "fashion32" / "unet"
        # At lr 0 nothing moves: the held-out loss never beats the init's, so the init ships as it was.
        log = run(
            PYTHON,
            TRAIN / "train.py",
            "fashion32",
            "--tiny",
            "--steps",
            "2",
            "--batch",
            "4",
            "--lr",
            "0",
            "--eval-every",
            "1",
            "--init",
            init,
            "--out",
            self.out / "init",
        ).stdout
        self.assertIn("init from", log)
        folder = self.out / "init" / "fashion32"
        record = json.loads((folder / "training.json").read_text())
        self.assertEqual(record["init"]["steps"], 4)
        parent = json.loads((init.parent / "training.json").read_text())
        self.assertEqual(record["init"]["history"], parent["history"])
        self.assertEqual(record["init"]["exported_step"], parent["exported_step"])
        self.assertEqual(record["exported_step"], 0)
        self.assertEqual(record["history"][0][0], 0)
        self.assertAlmostEqual(record["history"][0][2], record["exported_held_out_loss"], places=5)
        before = load_file(init / "diffusion_pytorch_model.safetensors")
        after = load_file(folder / "unet" / "diffusion_pytorch_model.safetensors")
        self.assertEqual(before.keys(), after.keys())
        for key in before:
            self.assertTrue(torch.equal(before[key], after[key]), key)

    def test_guidance_figures_through_the_cli(self):
        """evaluate.py's guidance figures on the tiny model, each class at the weights of the page's
        rows (here 0, 0.5 and 4) through `ddpm sample --guidance`, judged by a judge trained on
        1 000 training images (the full evaluation trains it on all 60 000: minutes)."""
        import argparse

        import evaluate

        data = np.load(default_out() / "fashion32.npz")
        subset = {"train_labels": data["train_labels"][:1000], "test_labels": data["test_labels"][:200]}
        train, test = evaluate.to_range(data["train"][:1000]), evaluate.to_range(data["test"][:200])
        args = argparse.Namespace(model=self.out / "straight" / "fashion32")
        # The page's sampler at 5 steps and 4 samples: the debug build runs 30 of them.
        short = "--sampler ddim --steps 5 --eta 1 --seed 2 --n 4"
        with (
            tempfile.TemporaryDirectory() as tmp,
            mock.patch.object(evaluate, "GUIDANCE_SAMPLER", short),
            mock.patch.object(evaluate, "GUIDANCE_WEIGHTS", (0, 0.5, 4)),
        ):
            guidance = evaluate.guidance_figures(args, subset, train, test, 10, Path(tmp))
        self.assertEqual(guidance["sampler"], short)
        self.assertEqual(guidance["weights"], ["0", "0.5", "4"])
        self.assertEqual(guidance["samples"], 4)
        self.assertEqual(guidance["page"], {"sampler": "ddim", "steps": 50, "eta": 1})
        # What the page shows beside its guidance controls: per w, the classes each measure calls better.
        self.assertEqual(list(guidance["better"]), ["0.5", "4"])
        for counts in guidance["better"].values():
            self.assertEqual(sorted(counts), ["l2", "log_p", "shape"])
            self.assertTrue(all(0 <= n <= 10 for n in counts.values()), counts)
        self.assertTrue(0 <= guidance["judge"]["held_out_accuracy"] <= 1)
        self.assertEqual(sorted(guidance["classes"]), list(range(10)))
        for c, row in guidance["classes"].items():
            self.assertEqual(list(row), ["0", "0.5", "4"])
            # One seed, so one x_T: only w differs, and each weight must change the samples.
            self.assertNotAlmostEqual(row["0"]["l2"], row["0.5"]["l2"], places=3, msg=f"class {c}: --guidance 0.5 changed nothing")
            self.assertNotAlmostEqual(row["0.5"]["l2"], row["4"]["l2"], places=3, msg=f"class {c}: --guidance 4 = 0.5")
            for figures in row.values():
                self.assertTrue(0 < figures["l2"] < 64, row)
                self.assertTrue(0 <= figures["shape"] <= 2, row)
                self.assertTrue(0 <= figures["judged"] <= 1, row)
                self.assertLessEqual(figures["log_p"], 0)
        text = evaluate.guidance_markdown(guidance)
        self.assertIn("| 9 Ankle boot |", text)
        self.assertIn("| class | w = 0 | w = 0.5 | w = 4 |", text)

    def test_init_of_another_shape_is_a_clear_error(self):
        shipped = ROOT / "www" / "models" / "fashion32" / "unet"
        result = subprocess.run(
            [PYTHON, TRAIN / "train.py", "fashion32", "--tiny", "--steps", "1", "--init", shipped, "--out", self.out / "mismatch"],
            capture_output=True,
            text=True,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("not a fashion32 UNet", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_training_json_records_the_run(self):
        import json

        record = json.loads((self.out / "straight" / "fashion32" / "training.json").read_text())
        self.assertEqual(record["steps"], 4)
        self.assertEqual(record["batch"], 4)
        self.assertGreater(record["parameters"], 1000)
        self.assertTrue(all(np.isfinite(h[1]) for h in record["history"]))


class FacesTrainingRecipe(unittest.TestCase):
    """What fights overfitting on 360 faces: augmentation and dropout by flag, the learning-rate
    schedule; by default flips alone."""

    @classmethod
    def setUpClass(cls):
        import argparse

        from train import Trainer

        run(PYTHON, TRAIN / "data.py", "--only", "faces")
        cls.args = argparse.Namespace(
            data=default_out(),
            seed=0,
            tiny=True,
            lr=2e-4,
            steps=10_000,
            batch=8,
            dropout=0.1,
            shift=3,
            brightness=0.1,
            ema=0.999,
            init=None,
        )
        cls.trainer = Trainer("faces64", cls.args)
        cls.defaults = Trainer("faces64", argparse.Namespace(**{**vars(cls.args), "dropout": None, "shift": None, "brightness": None}))

    def test_augmentation_keeps_range_and_shape_and_changes_every_image(self):
        x0 = self.trainer.train_x[:8]
        out = self.trainer.augment(x0)
        self.assertEqual(out.shape, x0.shape)
        self.assertGreaterEqual(out.min().item(), -1.0)
        self.assertLessEqual(out.max().item(), 1.0)
        for original, augmented in zip(x0, out, strict=True):
            self.assertFalse(torch.equal(original, augmented))
            # A face shifted by ≤ 3 px, maybe mirrored, with ±10 % gain and offset: still close.
            best = min((original.flip(-1) if f else original).sub(augmented).abs().mean().item() for f in (0, 1))
            self.assertLess(best, 0.5)

    def test_augmentation_is_seeded(self):
        from train import Trainer

        x0 = self.trainer.train_x[:4]
        a = Trainer("faces64", self.args).augment(x0)
        b = Trainer("faces64", self.args).augment(x0)
        self.assertTrue(torch.equal(a, b))

    def test_learning_rate_warms_up_then_decays_by_cosine(self):
        lr = self.trainer.learning_rate
        self.assertAlmostEqual(lr(0), 2e-4 / 500)
        self.assertAlmostEqual(lr(499), 2e-4)
        self.assertAlmostEqual(lr(10_000), 2e-5)
        decay = [lr(s) for s in range(500, 10_001, 500)]
        self.assertTrue(all(a > b for a, b in zip(decay, decay[1:], strict=False)))

    def test_dropout_is_in_the_model_and_off_in_the_ema(self):
        self.assertEqual(self.trainer.model.config.dropout, 0.1)
        self.assertFalse(self.trainer.ema.training)

    def test_defaults_are_flips_alone_and_no_dropout(self):
        self.assertEqual(self.defaults.model.config.dropout, 0.0)
        x0 = self.defaults.train_x[:16]
        out = self.defaults.augment(x0)
        mirrored = [torch.equal(a, o.flip(-1)) and not torch.equal(a, o) for o, a in zip(x0, out, strict=True)]
        for original, augmented in zip(x0, out, strict=True):
            self.assertTrue(torch.equal(augmented, original) or torch.equal(augmented, original.flip(-1)))
        self.assertTrue(any(mirrored))
        # Flags override a model's spec for that run only.
        self.assertEqual(self.trainer.spec["shift"], 3)
        self.assertEqual(self.defaults.spec["shift"], 0)


class AsksTheCore(unittest.TestCase):
    """train/core.py: the null class and the quadrant masks come from the Rust core."""

    def test_null_class_and_quadrant_masks(self):
        import core

        fixtures = ROOT / "tests/reference/fixtures/unet"
        self.assertEqual(core.null_class(fixtures / "class_cond"), 10)
        self.assertIsNone(core.null_class(fixtures / "f16_grey"))
        mask = core.quadrant_mask("1100", 6)
        self.assertEqual(tuple(mask.shape), (6, 6))
        self.assertTrue(bool((mask[:3] == 1).all()) and bool((mask[3:] == 0).all()), "1100: the top half known")
        self.assertEqual(core.quadrant_mask("0111", 4)[0].tolist(), [0, 0, 1, 1])


class DefaultSamplerRule(unittest.TestCase):
    """evaluate.py's choice of the page's starting sampler per backend, from a sampler table."""

    def test_default_sampler_rule(self):
        from evaluate import default_samplers

        row = lambda grain, grainy: {"grain_ratio": grain, "grainy_share": grainy, "nearest_neighbour_ratio": 1.0}
        table = {
            "DDPM 1000": row(0.9, 0.0),
            "DDPM 100 strided": row(1.1, 1 / 32),
            "DDIM 50, η = 0": row(1.4, 11 / 32),
            "DDIM 50, η = 1": row(1.0, 0.0),
        }
        chosen = default_samplers(table)
        self.assertEqual((chosen["webgpu"]["name"], chosen["cpu"]["name"]), ("DDPM 1000", "DDIM 50, η = 1"))
        self.assertEqual({k: chosen["cpu"][k] for k in ("sampler", "steps", "eta")}, {"sampler": "ddim", "steps": 50, "eta": 1})
        # A tie in steps goes to the less grainy; with nothing clean, the least grainy everywhere.
        table["DDIM 50, η = 0"] = row(0.95, 0.0)
        self.assertEqual(default_samplers(table)["cpu"]["name"], "DDIM 50, η = 0")
        grainy = {name: row(1.3 + i / 10, 0.2) for i, name in enumerate(table)}
        chosen = default_samplers(grainy)
        self.assertEqual((chosen["webgpu"]["name"], chosen["cpu"]["name"]), ("DDPM 1000", "DDPM 1000"))
        self.assertIn("no sampler is clean", chosen["why"])

    def test_every_sampler_reaches_the_cli_by_the_pages_name(self):
        """The page's names are the CLI's: ddpm-large stays ddpm-large, and `ddpm sample` takes each."""
        from evaluate import SAMPLERS, cli_arguments

        self.assertEqual(cli_arguments({"sampler": "ddpm-large", "steps": 100}), ["--sampler", "ddpm-large", "--steps", "100"])
        help_text = run(ddpm_bin(), "sample", "--help").stdout
        for page in SAMPLERS.values():
            self.assertEqual(cli_arguments(page)[:2], ["--sampler", page["sampler"]])
            self.assertIn(page["sampler"], help_text)

    def test_a_partial_table_chooses_nothing(self):
        from evaluate import sampler_markdown

        row = {"grain_ratio": 0.8, "grainy_share": 0.0, "nearest_neighbour_ratio": 0.9, "grid": "g.png", "samples": 32}
        partial = {"DDPM 100 strided": row, "DDIM 50, η = 1": row}
        text = sampler_markdown(partial)
        self.assertIn("Not measured yet: DDPM 1000, DDIM 50, η = 0, DDIM 100, η = 0, DDIM 200, η = 0.", text)
        self.assertNotIn("The page starts", text)
        self.assertTrue(text.startswith("32 samples per sampler"))

    def test_rows_kept_from_a_run_with_another_count_say_their_own(self):
        from evaluate import sampler_markdown

        row = {"grain_ratio": 0.8, "grainy_share": 0.0, "nearest_neighbour_ratio": 0.9, "grid": "g.png"}
        text = sampler_markdown({"DDPM 1000": {**row, "samples": 16}, "DDIM 50, η = 1": {**row, "samples": 64}})
        self.assertTrue(text.startswith("Samples per sampler"))
        self.assertIn("| sampler | samples | grain |", text)
        self.assertIn("| DDPM 1000 | 16 | 0.80× |", text)
        self.assertIn("| DDIM 50, η = 1 | 64 | 0.80× |", text)


class LossCurveOverContinuations(unittest.TestCase):
    """evaluate.py's loss.png of a run continued with --init: one curve over the whole chain."""

    def test_parents_are_cut_at_their_export_and_continued_from_it(self):
        from evaluate import whole_history

        base = {
            "steps": 300,
            "exported_step": 200,
            "init": None,
            "history": [[100, 0.5, 0.40, 10], [200, 0.3, 0.30, 20], [300, 0.2, 0.35, 30]],
        }
        first = {"steps": 100, "exported_step": None, "init": base, "history": [[0, None, 0.30, 0], [100, 0.25, 0.28, 9]]}
        run = {"steps": 100, "exported_step": 50, "init": first, "history": [[0, None, 0.28, 0], [50, 0.2, 0.27, 5], [100, 0.2, 0.29, 9]]}
        history, starts = whole_history(run)
        # The last run is whole: its held-out loss rising after the export is why it was chosen.
        self.assertEqual([h[0] for h in history], [100, 200, 200, 300, 300, 350, 400])
        self.assertEqual([h[2] for h in history], [0.40, 0.30, 0.30, 0.28, 0.28, 0.27, 0.29])
        self.assertEqual(starts, [200, 300])
        self.assertEqual(
            whole_history({"steps": 2, "history": [[1, 0.9, None, 1], [2, 0.8, 0.7, 2]]}), ([(1, 0.9, None, 1), (2, 0.8, 0.7, 2)], [])
        )

    def test_plot_draws_both_curves_and_the_continuations(self):
        from evaluate import loss_curve
        from PIL import Image

        history = [(0, None, 0.3, 0)] + [(s, 0.3 - s / 1000, 0.3 - s / 2000 if s % 50 == 0 else None, s) for s in range(10, 200, 10)]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "loss.png"
            loss_curve(history, path, starts=[100])
            pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).tolist()
        colours = {tuple(p) for p in pixels}
        for colour in ((40, 90, 200), (220, 80, 40), (170, 170, 170)):
            self.assertIn(colour, colours)


class GuidanceJudge(unittest.TestCase):
    """judge.py's classifier, which evaluate.py uses to say how clearly guided samples are of their class."""

    @staticmethod
    def halves(n, seed):
        """Noisy images with one bright half (top, bottom, left, right: the class) in [−1, 1]."""
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(n) % 4
        images = torch.full((n, 1, 16, 16), -0.6) + 0.3 * torch.randn(n, 1, 16, 16, generator=g)
        for i, c in enumerate(labels.tolist()):
            region = [(slice(0, 8), slice(None)), (slice(8, 16), slice(None)), (slice(None), slice(0, 8)), (slice(None), slice(8, 16))][c]
            images[i, 0][region] += 1.2
        return images.clamp(-1, 1), labels

    def test_learns_the_classes_deterministically_and_judges_by_class(self):
        from judge import ClassJudge

        train, labels = self.halves(800, 0)
        test, test_labels = self.halves(200, 1)
        judge = ClassJudge(train, labels, 4)
        self.assertGreater(judge.accuracy(test, test_labels), 0.95)
        tops = test[test_labels == 0]
        as_top, as_bottom = judge.verdict(tops, 0), judge.verdict(tops, 1)
        self.assertGreater(as_top["accuracy"], 0.95)
        self.assertEqual(as_bottom["accuracy"], 0.0)
        self.assertGreater(as_top["log_p"], as_bottom["log_p"] + 2)
        self.assertTrue(torch.equal(ClassJudge(train, labels, 4).log_probs(test), judge.log_probs(test)))

    def test_card_counts_each_measure(self):
        from evaluate import guidance_markdown

        figures = lambda judged, log_p, l2, shape: {"judged": judged, "log_p": log_p, "l2": l2, "shape": shape}
        # At w = 1 log p rises for classes 0–6, L2 falls for 0–2, shape for all; at w = 4 L2 falls for none.
        row = lambda c: {
            "0": figures(0.5, -1.0, 10.0, 0.2),
            "1": figures(0.75, -0.5 if c < 7 else -2.0, 9.0 if c < 3 else 12.0, 0.1),
            "4": figures(1.0, -0.1, 11.0, 0.3 if c == 9 else 0.1),
        }
        guidance = {
            "sampler": "--sampler ddim --eta 1",
            "weights": ["0", "1", "4"],
            "samples": 4,
            "judge": {"held_out_accuracy": 0.9},
            "classes": {c: row(c) for c in range(10)},
        }
        text = guidance_markdown(guidance)
        self.assertIn("`ddpm sample --sampler ddim --eta 1 --class C --guidance W`", text)
        self.assertIn("Per class, 4 samples at each w of the page's rows (0 … 4)", text)
        self.assertIn("| 0 | — | — | — | 20 of 40 |", text)
        self.assertIn("| 1 | 7 of 10 | 3 of 10 | 10 of 10 | 30 of 40 |", text)
        self.assertIn("| 4 | 10 of 10 | 0 of 10 | 9 of 10 | 40 of 40 |", text)
        self.assertIn("| 9 Ankle boot | 50 % | 75 % | 100 % |", text)
        self.assertIn("| 9 Ankle boot | -1.000 | -2.000 | -0.100 |", text)
        self.assertIn("| 0 T-shirt/top | 10.00 | 9.00 | 11.00 |", text)


class EvaluateInpaintingAndSamplers(unittest.TestCase):
    """evaluate.py's inpainting and per-sampler tables, on a tiny faces model, through the Rust CLI."""

    @classmethod
    def setUpClass(cls):
        run(PYTHON, TRAIN / "data.py", "--only", "faces")
        cls.tmp = tempfile.TemporaryDirectory()
        out = Path(cls.tmp.name)
        run(PYTHON, TRAIN / "train.py", "faces64", "--tiny", "--steps", "2", "--batch", "2", "--out", out)
        cls.model = out / "faces64"
        (cls.model / "README.md").write_text("# tiny faces\n\nHand-written text stays.\n")
        env = {**os.environ, "DDPM_BIN": ddpm_bin()}
        cls.log = run(
            PYTHON,
            TRAIN / "evaluate.py",
            "faces64",
            "--model",
            cls.model,
            "--inpaint",
            "--inpaint-faces",
            "1",
            "--inpaint-steps",
            "10",
            "--samplers",
            "--samples",
            "2",
            env=env,
        ).stdout
        cls.evaluation = __import__("json").loads((cls.model / "evaluation.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_inpainting_table_covers_every_mask_and_fill(self):
        table = self.evaluation["inpainting"]
        self.assertEqual(list(table), ["right half", "bottom half", "top-left", "top-right", "bottom-left", "bottom-right"])
        for row in table.values():
            self.assertEqual(
                set(row),
                {
                    "mean face",
                    "mirror",
                    "nearest training face",
                    "Gaussian posterior mean",
                    "ours, repaint",
                    "ours, repaint, mean of 4",
                    "ours, replacement",
                },
            )
            for figures in row.values():
                self.assertTrue(5 < figures["psnr"] < 60, figures)
                self.assertTrue(-1 <= figures["ssim"] <= 1, figures)
        self.assertIn("RePaint − best model-free fill", self.log)
        self.assertIn("mean of 4 RePaint fills − it", self.log)

    def test_sampler_table_and_grids(self):
        table = self.evaluation["samplers"]
        self.assertEqual(
            list(table), ["DDPM 1000", "DDPM 100 strided", "DDIM 50, η = 0", "DDIM 50, η = 1", "DDIM 100, η = 0", "DDIM 200, η = 0"]
        )
        from evaluate import SAMPLERS, is_clean

        for name, row in table.items():
            self.assertEqual(row["page"], SAMPLERS[name])
            self.assertEqual(row["clean"], is_clean(row))
            self.assertGreater(row["grain_ratio"], 0)
            self.assertTrue(0 <= row["grainy_share"] <= 1)
            self.assertGreater(row["nearest_neighbour_ratio"], 0)
            self.assertTrue((self.model / row["grid"]).exists())
            self.assertEqual(row["samples"], 2)

    def test_the_page_default_comes_from_the_table(self):
        from evaluate import SAMPLERS, default_samplers

        chosen = self.evaluation["default_sampler"]
        self.assertEqual(chosen, default_samplers(self.evaluation["samplers"]))
        for backend in ("webgpu", "cpu"):
            self.assertIn(chosen[backend]["name"], SAMPLERS)
        self.assertIn(f"The page starts with **{chosen['webgpu']['name']}** on WebGPU", (self.model / "README.md").read_text())

    def test_card_gets_both_tables_and_keeps_its_text(self):
        card = (self.model / "README.md").read_text()
        self.assertIn("Hand-written text stays.", card)
        for marker in ("inpainting", "samplers"):
            self.assertEqual(card.count(f"<!-- {marker} -->"), 1)
            self.assertEqual(card.count(f"<!-- /{marker} -->"), 1)
        self.assertIn("| right half |", card)
        self.assertIn("| DDIM 50, η = 0 |", card)

    def test_model_free_fills(self):
        sys.path.insert(0, str(TRAIN))
        from evaluate import mirror_fill, psnr, quadrant_mask, ssim

        mask = quadrant_mask("1010", 8)  # left half known
        self.assertEqual(mask[:, :4].min().item(), 1)
        self.assertEqual(mask[:, 4:].max().item(), 0)
        symmetric = torch.rand(8, 4)
        face = torch.cat([symmetric, symmetric.flip(-1)], 1) * 2 - 1
        self.assertTrue(torch.equal(mirror_fill(face, mask), face))
        self.assertGreater(psnr(face, face, 1 - mask), 100)
        self.assertAlmostEqual(ssim(face, face, 1 - mask), 1.0, places=5)
        self.assertLess(psnr(-face, face, 1 - mask), 20)

    def test_gaussian_fill_recovers_a_linear_relation_and_keeps_the_known_part(self):
        """On images of three components (and their flips, which the fill adds), the unknown part is
        a linear function of the known part: the Gaussian posterior mean finds it, the mean face
        does not, and the known pixels are the image's own."""
        sys.path.insert(0, str(TRAIN))
        from evaluate import gaussian_fill, psnr, quadrant_mask

        generator = torch.Generator().manual_seed(0)
        components = torch.randn(3, 16, 16, generator=generator) * 0.3
        draw = lambda n: torch.einsum("nc,chw->nhw", torch.randn(n, 3, generator=generator) * 3, components)
        train, people = draw(80), np.repeat(np.arange(1, 9), 10)
        mask = quadrant_mask("1100", 16)  # top half known
        fill = gaussian_fill(train, people, mask)
        for image in draw(4):
            filled = fill(image)
            self.assertTrue(torch.equal(filled * mask, image * mask))
            self.assertGreater(psnr(filled, image, 1 - mask), 50)
            self.assertLess(psnr(train.mean(0), image, 1 - mask), 30)


class NoiseLength(unittest.TestCase):
    """noise_length.py's measure of how far ε_θ follows the length of the noise it is shown."""

    def test_an_oracle_follows_the_length_and_a_normalising_model_does_not(self):
        from noise_length import projection_on_noise

        alphas_cumprod = torch.linspace(0.99, 0.01, 1000)
        x0 = torch.rand(4, 1, 8, 8) * 2 - 1
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))

        class Out:
            def __init__(self, sample):
                self.sample = sample

        def oracle(x_t, t, class_labels=None):
            a = alphas_cumprod[t]
            return Out((x_t - a.sqrt() * x0) / (1 - a).sqrt())

        def unit_length(x_t, t, class_labels=None):
            eps = oracle(x_t, t).sample
            return Out(eps / eps.flatten(1).pow(2).mean(1).sqrt().view(-1, 1, 1, 1))

        for t in (900, 100):
            for scale in (0.97, 1.03):
                self.assertAlmostEqual(projection_on_noise(oracle, alphas_cumprod, x0, None, t, scale, noise), scale, places=4)
            blind = [projection_on_noise(unit_length, alphas_cumprod, x0, None, t, s, noise) for s in (0.97, 1.03)]
            self.assertAlmostEqual(blind[0], blind[1], places=4)


if __name__ == "__main__":
    unittest.main()
