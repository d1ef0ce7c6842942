"""Options shared by sub-commands, and the argparse types that check every value.

Every value is checked when the command line (or a ``--config`` file, whose values are parsed
by the same parser) is read, before any work starts: a bad value is one line naming the option,
the value and what is allowed, and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modspec.theory import defaults
from modspec.theory.architectures import MAX_DEPTH, PRESETS
from modspec.theory.defaults import D0

# what the parsed options name, importable from here as before
from .from_options import (
    check_objects_option,
    dataset_from,
    network_from,
    objects_within,
    parse_objects,
    rule_from,
    run_spec,
)

__all__ = [
    "add_architecture_options",
    "add_dataset_options",
    "add_init_options",
    "add_model_options",
    "add_objects_option",
    "add_out_option",
    "add_rule_options",
    "Given",
    "add_schedule_options",
    "add_weights_options",
    "dataset_file",
    "dataset_from",
    "device",
    "image_source",
    "SEED",
    "check_objects_option",
    "integer",
    "network_from",
    "number",
    "objects_within",
    "output_folder",
    "parse_objects",
    "rule_from",
    "rule_name",
    "run_spec",
    "write_json",
]


# ------------------------------------------------------------------ value types
def _invalid(text: str, allowed: str) -> argparse.ArgumentTypeError:
    """argparse prefixes ``argument --option:``, so the line names option, value and range."""
    return argparse.ArgumentTypeError(f"{text!r} is invalid: {allowed}")


def _value_type(name: str, convert: Callable[[str], Any], ok: Callable[[Any], bool],
                allowed: str) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)`` when it succeeds and the value is ``ok``, else
    the line ``'TEXT' is invalid: ALLOWED``."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:  # also digit strings too long for int()
            raise _invalid(text, allowed) from None
        if not ok(value):
            raise _invalid(text, allowed)
        return value

    parse.__name__ = name
    return parse


def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number ``low ≤ n`` (``≤ high`` when given)."""
    allowed = (f"must be an integer ≥ {low}" if high is None
               else f"must be an integer in [{low}, {high}]")
    return _value_type("integer", int,
                       lambda n: n >= low and (high is None or n <= high), allowed)


def number(low: float | None = None, *, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite real number, ``> low`` (strict) or ``≥ low`` when given.

    NaN and ±inf (also ``1e999``, which reads as inf) are refused: no option of modspec means
    anything at an infinite value.
    """
    if low is None:
        allowed = "must be a finite number"
    else:
        allowed = f"must be a finite number {'>' if strict else '≥'} {low:g}"
    return _value_type("number", float, lambda x: math.isfinite(x) and (
        low is None or (x > low if strict else x >= low)), allowed)


#: Seeds: NumPy takes any, PyTorch's generators 64 bits; modspec adds small offsets to them.
SEED = integer(0, 2**32 - 1)


def device(text: str) -> str:
    """An argparse type: a PyTorch device, ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    name, _, index = text.partition(":")
    if text == "cuda":
        from modspec.validation.devices import no_gpu_here

        if no_gpu_here():     # known without PyTorch: refused before any folder is made
            raise _invalid(text, "CUDA is not available here; use auto or cpu")
    if text in ("auto", "cpu", "cuda"):
        return text
    if name == "cuda" and index.isdigit():
        try:                  # the index is checked here when PyTorch is installed
            from modspec.validation.devices import cuda_index_problem

            problem = cuda_index_problem(text)
        except ImportError:
            return text
        if problem:
            raise _invalid(text, problem)
        return text
    raise _invalid(text, "must be auto, cpu, cuda or cuda:N")


def image_source(text: str) -> str:
    """An argparse type: Compositional MNIST images, ``digits`` or ``idx:DIR`` (a folder).

    Only the form is checked here; the files in the folder are read (and checked) by the run.
    """
    if text == "digits":
        return text
    if text.startswith("idx:") and Path(text[4:]).expanduser().is_dir():
        return text
    raise _invalid(text, "must be digits or idx:DIR with DIR an existing folder")


def output_folder(text: str) -> str:
    """An argparse type: a folder the command can write its results in.

    The folder may exist (results are added to it) or not (it is created later, with its
    parents); either way the check runs before any work, so a bad path is refused at once
    instead of after training: an empty path, an existing file (or a file on the way), or a
    place this process cannot write in. Nothing is created; a probe file is written and
    removed in the folder (or its nearest existing parent).
    """
    if not text.strip():
        raise _invalid(text, "must be a folder path (it is empty)")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise _invalid(text, "must be a folder; it is an existing file")
    parent = path.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise _invalid(text, f"must be a folder path; {str(parent)!r} on the way is a file")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".modspec-probe-"):
            pass
    except OSError as exc:
        raise _invalid(text, f"cannot write in {str(parent)!r} ({exc.strerror})") from None
    return text


def add_out_option(parser: argparse.ArgumentParser) -> None:
    """``--out FOLDER`` (required): where a command writes its results (:func:`output_folder`)."""
    parser.add_argument("--out", type=output_folder, required=True,
                        help="output folder (created if needed; must be writable)")


# -------------------------------------------------------------- option groups
def dataset_file(text: str) -> dict[str, Any]:
    """An argparse type: a TOML file declaring a dataset, read into a table whose key
    ``family`` names the family (``docs/theory/families.md``); the declaration itself is
    checked by :func:`dataset_from` before any work."""
    from modspec.theory.inputfile import InputFileError, read_toml

    try:
        spec = read_toml(text)
    except InputFileError as exc:
        raise _invalid(text, exc.reason) from None
    if "family" not in spec:
        from modspec.theory.families import FAMILIES, names

        known = [*FAMILIES, *(n for n in names() if n not in FAMILIES)]
        raise _invalid(text, f"must set family = {', '.join(known[:-1])} or {known[-1]}")
    return spec


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """``--dataset FILE.toml`` or ``--nx --ny --kx --ky --r --rx --ry`` (defaults: the
    reference dataset D0)."""
    g = parser.add_argument_group("dataset (docs/theory/dataset.md; defaults give D0)")
    g.add_argument("--dataset", type=dataset_file, default=None, metavar="FILE.toml",
                   help="a dataset family declared in a TOML file: family = compositional "
                        "(nx ny kx ky r), hierarchical (levels branching features r), parity "
                        "(nx outputs kx ky r), contexts (C r rc variants) or declared (space, "
                        "inputs, outputs); "
                        "see docs/theory/families.md. Overrides --nx … --ry")
    g.add_argument("--nx", type=integer(1), default=D0["nx"],
                   help="compositional input features (≥ 1)")
    g.add_argument("--ny", type=integer(0), default=D0["ny"],
                   help="compositional output features (0 ≤ ny ≤ nx)")
    g.add_argument("--kx", type=integer(0), default=D0["kx"],
                   help="identity repeats in the input (≥ 0)")
    g.add_argument("--ky", type=integer(0), default=D0["ky"],
                   help="identity repeats in the output (≥ 0)")
    g.add_argument("--r", type=number(0), default=float(D0["r"]), help="identity scale (≥ 0)")
    g.add_argument("--rx", type=number(0), default=None,
                   help="input identity scale (≥ 0, default r)")
    g.add_argument("--ry", type=number(0), default=None,
                   help="output identity scale (≥ 0, default r)")


def rule_name(text: str) -> str:
    """An argparse type: the name of a learning rule preset (modspec.theory.rule_presets)."""
    from modspec.theory.rule_presets import COEFFICIENTS as PRESETS  # no SymPy

    if text not in PRESETS:
        raise _invalid(text, f"must be one of {', '.join(PRESETS)}")
    return text


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """``--rule``, ``--gamma``, ``--nabla``: the learning rule and its coefficients."""
    g = parser.add_argument_group("learning rule (dense two-layer networks only)")
    g.add_argument("--rule", type=rule_name, default="gradient-descent", metavar="NAME",
                   help="gradient-descent (default), hebbian (nabla=0.001), anti-hebbian "
                        "(nabla=-0.001), contrastive-hebbian (gamma=1) or predictive-coding "
                        "(gamma=-1)")
    g.add_argument("--gamma", type=number(), default=None,
                   help="coefficient of the output term gamma (Y Y^T - Yhat Yhat^T) W2 / tau "
                        "(0, or 2.2e-308 to 4.5e15 in size; default: the rule's)")
    g.add_argument("--nabla", type=number(), default=None,
                   help="coefficient of the Hebbian term on W1 (0, or 2.2e-308 to 4.5e15 in "
                        "size; > 0 Oja, < 0 anti-Hebbian; default: the rule's)")


def add_init_options(parser: argparse.ArgumentParser) -> None:
    """``--init``, ``--lam``, ``--init-scale``: the kind of start (docs/theory/any-start.md)."""
    g = parser.add_argument_group("start (docs/theory/any-start.md)")
    g.add_argument("--init", choices=("random", "lambda-balanced"), default="random",
                   help="random: small Gaussian weights (default); lambda-balanced: two-layer "
                        "modules with W2^T W2 - W1 W1^T = LAM I exactly (exact theory for "
                        "whitened inputs)")
    g.add_argument("--lam", type=number(), default=0.0,
                   help="balance of a lambda-balanced start (finite; default 0)")
    g.add_argument("--init-scale", type=number(0), default=1.0,
                   help="std of the Gaussian layer of a lambda-balanced start (≥ 0; "
                        "default 1)")


class Given(argparse.Action):
    """Store the value and note the option in ``namespace.given`` (a set of dests): an
    option given on the line (or in ``--config``) is told apart from its default."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", set()) | {self.dest}


def add_architecture_options(parser: argparse.ArgumentParser) -> None:
    """``--arch`` and ``--depth``."""
    g = parser.add_argument_group("architecture")
    g.add_argument("--arch", choices=sorted(PRESETS), default="dense", action=Given,
                   help="modular architecture (default dense)")
    g.add_argument("--depth", type=integer(1, MAX_DEPTH), default=2, action=Given,
                   help=f"layers per module (1 … {MAX_DEPTH}, default 2)")


def add_model_options(parser: argparse.ArgumentParser, *, init: bool = True) -> None:
    """The dataset, the architecture, the learning rule and (``init``) the start: what every
    command that runs a modular network takes."""
    add_dataset_options(parser)
    add_architecture_options(parser)
    add_rule_options(parser)
    if init:
        add_init_options(parser)


def add_schedule_options(parser: Any, epochs_help: str) -> None:
    """``--lr`` and ``--epochs``, both required."""
    parser.add_argument("--lr", type=number(0, strict=True), required=True,
                        help="learning rate (> 0)")
    parser.add_argument("--epochs", type=integer(0), required=True, help=epochs_help)


def add_weights_options(parser: Any, *, seeds: int) -> None:
    """``--hidden``, ``--init-std``, ``--seeds`` (default ``seeds``) and ``--seed``: the
    networks of a run (defaults: :mod:`modspec.theory.defaults`)."""
    for flag, kind, default, text in (
            ("--hidden", integer(1), defaults.HIDDEN, "hidden units per module layer (≥ 1)"),
            ("--init-std", number(0), defaults.INIT_STD, "std of the initial weights (≥ 0)"),
            ("--seeds", integer(1), seeds, "independent initialisations (≥ 1)"),
            ("--seed", SEED, defaults.SEED, "first random seed (same seed, same numbers)")):
        parser.add_argument(flag, type=kind, default=default, help=text)


def write_json(payload: Any, stream: Any = None) -> None:
    """Print ``payload`` as indented, strict JSON.

    JSON has no NaN or Infinity: a payload holding one is refused with a ModspecError (one
    line, exit status 2) before anything is written, instead of printing invalid JSON.
    """
    from modspec.theory.export import strict_json

    text = strict_json(payload)
    out = stream or sys.stdout
    out.write(text + "\n")


def add_objects_option(parser: Any, name: str = "--train-objects", default: Any = None,
                       help: str = "objects to train on, by index (spaces or commas: "
                                   "0 1 2 4 7 or 0,1,2,4,7); the rest are held out") -> None:
    """An option that takes a list of object indices, written with spaces or commas."""
    parser.add_argument(name, nargs="+", default=default, metavar="J", help=help)
