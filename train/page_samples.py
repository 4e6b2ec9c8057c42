"""The page's sample inputs: held-out images the models never trained on, as PNG sprites.

    python train/page_samples.py [--data DIR] [--out www/samples]

- faces-heldout.png: the 40 held-out ORL faces (people s37–s40, ten views each), 64×64 grey,
  one person per row. Credit: AT&T Laboratories Cambridge.
- fashion-test.png: the first ten Fashion-MNIST test images of each class, 32×32 grey, one class
  per row (row = label).
- fashion-class-means.png: the mean training image of each class, 32×32 grey, one row of ten
  (column = label): what the guidance view measures its samples against.
- samples.json: the sprites' tile sizes, rows and what each row is, for the page.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from data import default_out
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def sprite(rows: list[np.ndarray]) -> Image.Image:
    """rows of [columns, H, W] uint8 → one grey image, no gaps (the page cuts tiles by size)."""
    return Image.fromarray(np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_out())
    parser.add_argument("--out", type=Path, default=ROOT / "www" / "samples")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    faces = np.load(args.data / "faces64.npz")
    people = sorted(set(faces["test_person"].tolist()))
    sprite([faces["test"][faces["test_person"] == p] for p in people]).save(args.out / "faces-heldout.png", optimize=True)

    fashion = np.load(args.data / "fashion32.npz")
    labels = fashion["test_labels"]
    sprite([fashion["test"][labels == c][:10] for c in range(10)]).save(args.out / "fashion-test.png", optimize=True)

    means = [fashion["train"][fashion["train_labels"] == c].astype(np.float64).mean(axis=0) for c in range(10)]
    sprite([np.stack([np.round(m).astype(np.uint8) for m in means])]).save(args.out / "fashion-class-means.png", optimize=True)

    (args.out / "samples.json").write_text(
        json.dumps(
            {
                "faces-heldout.png": {
                    "tile": 64,
                    "columns": 10,
                    "rows": [f"person s{p}" for p in people],
                    "credit": "ORL faces, AT&T Laboratories Cambridge",
                    "held_out_from": "faces64",
                },
                "fashion-test.png": {
                    "tile": 32,
                    "columns": 10,
                    "rows": FASHION_CLASSES,
                    "credit": "Fashion-MNIST test set, Zalando Research (MIT)",
                    "held_out_from": "fashion32",
                },
                "fashion-class-means.png": {
                    "tile": 32,
                    "columns": 10,
                    "rows": ["mean training image, column = class"],
                    "columns_are": FASHION_CLASSES,
                    "credit": "Fashion-MNIST training set, Zalando Research (MIT)",
                },
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}/faces-heldout.png, fashion-test.png, fashion-class-means.png, samples.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
