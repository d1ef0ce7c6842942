"""Compositional MNIST (docs/theory/cmnist.md): digit images side by side, two kinds of target.

An example is ``positions`` digit images concatenated horizontally (the original study: three
MNIST digits, a 28×84 image). Its target has two parts:

* compositional (the ``Ωy`` analogue): ``positions`` ten-way one-hots, one per position
  (``10·positions`` outputs);
* non-compositional (the ``Γy`` analogue): a one-hot of the whole number
  ``Σ_i d_i 10^(positions−1−i)`` scaled by ``r`` (``10**positions`` outputs).

Sources (nothing is downloaded):

* ``"digits"`` — scikit-learn's bundled 8×8 handwritten digits (1,797 images, values 0–16
  scaled to [0, 1]); the offline default. Images are split by ``seed`` into a training pool
  (2/3) and a test pool (1/3), stratified by digit.
* ``"idx:DIR"`` — the MNIST IDX files in ``DIR`` (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  optionally gzipped with a ``.gz`` suffix); pixel values scaled to [0, 1].

Protocols. As in the original study, the digit at position i of a training example comes from
the i-th of ``positions`` disjoint parts of the training pool; test examples come from the test
pool. With ``holdout = 0`` (the original protocol) every digit tuple may occur anywhere. With
``holdout > 0`` a fraction of all digit tuples (chosen by ``seed``; every digit still occurs at
every position in training) never occurs in training: the test then has examples of *seen*
combinations and of *held-out* combinations, the sharper test of systematic generalisation.
Each example draws its tuple uniformly from the allowed tuples, then a random image of each
digit from the right pool. Everything is deterministic under ``seed``.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from modspec.theory.errors import ModspecError, bad, check_integer, check_number

__all__ = ["CompositionalMNIST", "IDX_FILES", "Split", "build", "check_build", "check_source",
           "load_source", "read_idx", "targets", "tuple_number"]

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True, eq=False)
class Split:
    """Images (N, 1, H, W) float32 in [0, 1] and their digit tuples (N, positions) int."""

    images: np.ndarray
    digits: np.ndarray

    def __len__(self) -> int:
        return int(self.digits.shape[0])


@dataclass(frozen=True, eq=False)
class CompositionalMNIST:
    """A built Compositional MNIST dataset.

    ``train``, ``test_seen`` (test examples whose digit tuple occurs in training) and
    ``test_heldout`` (tuples never seen in training; empty when ``holdout = 0``), plus the
    settings. ``heldout_tuples`` lists the held-out tuples as numbers.
    """

    train: Split
    test_seen: Split
    test_heldout: Split
    positions: int
    r: float
    source: str
    holdout: float
    seed: int
    heldout_tuples: tuple[int, ...]

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train.images.shape[-2:])

    @property
    def n_compositional(self) -> int:
        return 10 * self.positions

    @property
    def n_noncompositional(self) -> int:
        return 10**self.positions

    def targets(self, digits: np.ndarray) -> np.ndarray:
        """Targets (N, 10·positions + 10**positions): per-position one-hots, then r·one-hot."""
        return targets(digits, self.positions, self.r)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "positions": self.positions, "r": self.r,
                "holdout": self.holdout, "seed": self.seed, "image_shape": list(self.image_shape),
                "n_train": len(self.train), "n_test_seen": len(self.test_seen),
                "n_test_heldout": len(self.test_heldout),
                "heldout_tuples": len(self.heldout_tuples)}


def targets(digits: np.ndarray, positions: int, r: float) -> np.ndarray:
    """Targets for digit tuples ``digits`` (N, positions); float32."""
    digits = np.asarray(digits, dtype=int)
    n = digits.shape[0]
    out = np.zeros((n, 10 * positions + 10**positions), dtype=np.float32)
    rows = np.arange(n)
    for i in range(positions):
        out[rows, 10 * i + digits[:, i]] = 1.0
    out[rows, 10 * positions + tuple_number(digits)] = r
    return out


def tuple_number(digits: np.ndarray) -> np.ndarray:
    """The number written by each digit tuple, ``Σ_i d_i 10^(positions−1−i)``."""
    digits = np.asarray(digits, dtype=int)
    weights = 10 ** np.arange(digits.shape[1] - 1, -1, -1)
    return digits @ weights


# ------------------------------------------------------------------------ sources
def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (unsigned bytes; gzipped or not, detected by content).

    Anything that is not a whole, consistent IDX file — unreadable, a folder, a truncated or
    corrupt gzip stream, a short header, sizes that disagree with the data — is a one-line
    :class:`ModspecError` naming the file.
    """
    if not os.path.isfile(path):
        raise ModspecError(f"{path} is not an IDX file (not a regular file)")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ModspecError(f"{path} cannot be read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ModspecError(f"{path} is a truncated or corrupt gzip file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ModspecError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    start = 4 + 4 * ndim
    if ndim == 0 or len(raw) < start:
        raise ModspecError(f"{path}: IDX header is truncated or has no dimensions "
                           f"({len(raw)} bytes, {ndim} dimensions)")
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    count = math.prod(dims)  # Python integers: sizes cannot overflow
    if len(raw) - start != count:
        raise ModspecError(f"{path}: IDX header says {dims} ({count} bytes) but the file "
                           f"holds {len(raw) - start} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def _find(directory: str, stem: str) -> str:
    alt = stem.replace("-idx", ".idx")  # some mirrors use dots
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        path = os.path.join(directory, name)
        if os.path.lexists(path):
            return path
    raise bad("source", f"idx:{directory}", f"directory must contain {stem} (or {stem}.gz)")


def check_source(source: str) -> dict[str, str]:
    """The IDX file of each of :data:`IDX_FILES` in an ``idx:DIR`` source (nothing for
    ``digits``), found before any work; one line naming the source when one is missing."""
    if not (isinstance(source, str) and source.startswith("idx:")):
        return {}
    directory = source[4:]
    if not os.path.isdir(directory):
        raise bad("source", source, "idx:DIR needs an existing directory")
    return {k: _find(directory, stem) for k, stem in IDX_FILES.items()}


def load_source(source: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                       np.ndarray]:
    """``(train_images, train_labels, test_images, test_labels)``, images float32 in [0, 1]."""
    if source == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:  # pragma: no cover - sklearn is in the validation extra
            raise ModspecError("source='digits' needs scikit-learn (pip install "
                               "'modspec[validation]')") from exc
        d = load_digits()
        images = (d.images / 16.0).astype(np.float32)
        labels = d.target.astype(int)
        rng = np.random.default_rng([seed, 1])
        test = np.zeros(labels.size, dtype=bool)
        for digit in range(10):
            idx = rng.permutation(np.flatnonzero(labels == digit))
            test[idx[: len(idx) // 3]] = True
        return images[~test], labels[~test], images[test], labels[test]
    if isinstance(source, str) and source.startswith("idx:"):
        files = check_source(source)
        arrays = {k: read_idx(path) for k, path in files.items()}
        for part in ("train", "test"):
            im, lab = arrays[f"{part}_images"], arrays[f"{part}_labels"]
            if im.ndim != 3 or lab.ndim != 1 or im.shape[0] != lab.shape[0]:
                raise ModspecError(f"IDX {part} files disagree: images {im.shape}, "
                                   f"labels {lab.shape}")
            if lab.size and lab.max() > 9:
                raise ModspecError(f"IDX {part} labels must be digits 0–9")
            if im.shape[0] == 0:
                raise ModspecError(f"IDX {part} files hold no images")
        if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
            raise ModspecError(f"IDX test images are {arrays['test_images'].shape[1:]} but "
                               f"training images are {arrays['train_images'].shape[1:]}; "
                               "they must have the same size")
        scale = np.float32(1 / 255)
        return (arrays["train_images"].astype(np.float32) * scale,
                arrays["train_labels"].astype(int),
                arrays["test_images"].astype(np.float32) * scale,
                arrays["test_labels"].astype(int))
    raise bad("source", source, "must be digits or idx:DIR")


# ------------------------------------------------------------------------ builder
def build(source: str = "digits", positions: int = 3, n_train: int = 20_000,
          n_test: int = 3_333, holdout: float = 0.0, r: float = 10.0,
          seed: int = 0) -> CompositionalMNIST:
    """Build Compositional MNIST; see the module docstring for sources and protocols.

    ``n_train`` training examples; ``n_test`` test examples of seen tuples and, when
    ``holdout > 0``, ``n_test`` of held-out tuples. ``holdout`` is the fraction of all
    ``10**positions`` digit tuples held out of training, in [0, 0.5].
    """
    check_build(positions, n_train, n_test, holdout, r, seed)
    tr_im, tr_lab, te_im, te_lab = load_source(source, seed)
    rng = np.random.default_rng([seed, 2])       # one stream, drawn in this order
    train_pools, test_pool = _pools(rng, tr_lab, te_lab, positions, source)
    seen_tuples, held_tuples = _hold_out(rng, positions, holdout)
    train = _sample(rng, n_train, seen_tuples, train_pools, tr_im)
    test_seen = _sample(rng, n_test, seen_tuples, [test_pool], te_im)
    if len(held_tuples):
        test_held = _sample(rng, n_test, held_tuples, [test_pool], te_im)
    else:
        h, w = train.images.shape[-2:]
        test_held = Split(np.zeros((0, 1, h, w), np.float32), np.zeros((0, positions), int))
    return CompositionalMNIST(train, test_seen, test_held, positions, float(r), source,
                              float(holdout), int(seed),
                              tuple(int(v) for v in tuple_number(held_tuples)))


def check_build(positions: int, n_train: int, n_test: int, holdout: float, r: float,
                 seed: int) -> None:
    """Refuse, in one line, sizes :func:`build` cannot make."""
    if isinstance(positions, bool) or not isinstance(positions, int) or not 1 <= positions <= 4:
        raise bad("positions", positions, "must be an integer in 1..4")
    for name, value, low in (("n_train", n_train, 1), ("n_test", n_test, 1), ("seed", seed, 0)):
        check_integer(name, value, low)
    if not 0.0 <= float(holdout) <= 0.5:
        raise bad("holdout", holdout, "must be a fraction of digit tuples in [0, 0.5]")
    if positions == 1 and round(holdout * 10):     # a tuple of one digit is the digit
        raise bad("holdout", holdout, "must be at most 0.05 with positions = 1: a held-out "
                  "tuple of one digit would leave that digit out of training")
    check_number("r", r, 0, strict=True)


def _pools(rng: np.random.Generator, tr_lab: np.ndarray, te_lab: np.ndarray, positions: int,
           source: str) -> tuple[list[dict[int, np.ndarray]], dict[int, np.ndarray]]:
    """The images of each digit: in disjoint parts of the training pool, one per position
    (the original protocol), and in the test pool; a part lacking a digit is refused."""
    order = rng.permutation(tr_lab.size)
    parts = np.array_split(order, positions)
    train_pools = [_by_digit(tr_lab, part) for part in parts]
    test_pool = _by_digit(te_lab, np.arange(te_lab.size))
    for pools, what in ((train_pools, "training part"), ([test_pool], "test pool")):
        for pool in pools:
            missing = [d for d in range(10) if pool[d].size == 0]
            if missing:
                raise ModspecError(f"source {source!r}: a {what} has no image of digit(s) "
                                   f"{missing}; it is too small for {positions} positions")
    return train_pools, test_pool


def _hold_out(rng: np.random.Generator, positions: int, holdout: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """The seen and the held-out digit tuples: ``holdout`` of all of them held out, every
    digit still seen at every position."""
    n_tuples = 10**positions
    all_tuples = np.array(np.unravel_index(np.arange(n_tuples), (10,) * positions)).T
    n_held = int(round(holdout * n_tuples))
    held = np.zeros(n_tuples, dtype=bool)
    if n_held:
        for _attempt in range(100):
            held[:] = False
            held[rng.choice(n_tuples, n_held, replace=False)] = True
            seen = all_tuples[~held]
            if all(np.unique(seen[:, i]).size == 10 for i in range(positions)):
                break
        else:  # pragma: no cover - practically impossible for holdout ≤ 0.5
            raise ModspecError("could not hold out tuples while keeping every digit at "
                               "every position in training")
    return all_tuples[~held], all_tuples[held]


def _sample(rng: np.random.Generator, n: int, tuples: np.ndarray,
            pools: list[dict[int, np.ndarray]], images: np.ndarray) -> Split:
    """``n`` examples: a tuple drawn from ``tuples``, then an image of each of its digits from
    that position's pool (one pool shared by every position when only one is given)."""
    choice = tuples[rng.integers(0, len(tuples), n)]
    cols = []
    for i in range(tuples.shape[1]):
        pool = pools[i] if len(pools) > 1 else pools[0]
        idx = np.array([pool[d][rng.integers(0, pool[d].size)] for d in choice[:, i]])
        cols.append(images[idx])
    pics = np.concatenate(cols, axis=2)[:, None, :, :].astype(np.float32)
    return Split(pics, choice.astype(int))


def _by_digit(labels: np.ndarray, subset: np.ndarray) -> dict[int, np.ndarray]:
    return {d: subset[labels[subset] == d] for d in range(10)}
