"""The whole study as a resumable pipeline of parts (``modspec reproduce``).

Each part is a function ``part(ctx) -> Part`` that computes numbers, claims (predicted value,
measured value, tolerance, verdict) and figures. Finished parts are written to
``OUT/parts/<name>.json`` as soon as they complete; a rerun with the same configuration loads
them instead of recomputing, so an interrupted run resumes where it stopped. At the end the
report files are assembled from all parts: ``results.json``, ``report.md``, ``report.html``
(self-contained) and ``derivation.tex``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modspec.theory import architectures as arch
from modspec.theory.converged import converged
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.observables import QUADRANTS, quadrant_name
from modspec.theory.spectrum import spectrum
from modspec.validation.report import (
    Claim,
    Part,
    atomic_write_text,
    jsonable,
    write_html,
    write_markdown,
    write_results,
)

D0 = {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1}
DECOUPLED = ("dense", "shallow", "split", "segregated")


@dataclass
class Context:
    """What every part sees: output folder, configuration, and progress settings."""

    out: Path
    quick: bool
    seed: int
    quiet: bool
    device: str = "auto"

    @property
    def dataset(self) -> CompositionalDataset:
        return CompositionalDataset(**D0)

    def figure(self, fig: Any, name: str) -> list[str]:
        """Save a matplotlib figure as PNG and PDF; returns the file names."""
        import matplotlib.pyplot as plt

        names = []
        for ext in ("png", "pdf"):
            path = self.out / f"{name}.{ext}"
            fig.savefig(path, dpi=120, bbox_inches="tight")
            names.append(path.name)
        plt.close(fig)
        return names


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------- parts
def part_spectrum(ctx: Context) -> Part:
    """D0 spectrum derived by the projector algebra against numpy.linalg."""
    ds = ctx.dataset
    spec = spectrum(ds)
    X, Y = ds.X, ds.Y
    P = X.shape[1]
    sv = np.linalg.svd(Y @ X.T / P, compute_uv=False)
    ev = np.sort(np.linalg.eigvalsh(X @ X.T / P))[::-1]
    derived_sv = spec.singular_values()
    derived_ev = spec.input_variances()
    part = Part("spectrum", "Spectrum of D0 (theory.md §3)")
    part.numbers = {"modes": spec.as_dict(), "numpy_singular_values": sv[: len(derived_sv)],
                    "numpy_sigma_x_eigenvalues": ev[: len(derived_sv)]}
    err_sv = float(np.max(np.abs(derived_sv - sv[: len(derived_sv)]) / derived_sv))
    err_ev = float(np.max(np.abs(derived_ev - ev)))
    part.claims = [
        Claim("derived singular values of Σyx = numpy SVD", derived_sv.round(6).tolist(),
              sv[: len(derived_sv)].round(6).tolist(), "relative 1e-10", err_sv < 1e-10,
              f"max relative error {err_sv:.2e}"),
        Claim("derived eigenvalues of Σx = numpy eigvalsh", derived_ev[:8].round(6).tolist(),
              ev[:8].round(6).tolist(), "absolute 1e-10", err_ev < 1e-10,
              f"max error {err_ev:.2e}"),
    ]
    for inputs, outputs, label in ((("Ox", "Gx"), ("Oy",), "split module A"),
                                   (("Ox",), ("Oy",), "segregated module A"),
                                   (("Gx",), ("Gy",), "segregated module B")):
        m = spectrum(ds, inputs, outputs)
        part.numbers[label] = m.as_dict()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(range(len(sv)), sv, color="0.7", label="numpy SVD")
    ax.plot(range(len(derived_sv)), derived_sv, "o", color="C3", label="derived")
    ax.set_xlabel("index")
    ax.set_ylabel("singular value of Σyx")
    ax.legend()
    part.figures = ctx.figure(fig, "spectrum_d0")
    return part


def _numpy_converged(ds: CompositionalDataset, network: arch.Network) -> np.ndarray:
    """The converged map computed directly: each module's ``Y_m X_m⁺`` (min-norm)."""
    X, Y = ds.X, ds.Y
    W = np.zeros((Y.shape[0], X.shape[0]))
    for module in network.modules:
        rows = np.concatenate([np.arange(*ds.output_blocks[b]) for b in module.outputs])
        cols = np.concatenate([np.arange(*ds.input_blocks[b]) for b in module.inputs])
        W[np.ix_(rows, cols)] += Y[rows] @ np.linalg.pinv(X[cols])
    return W


def part_converged(ctx: Context) -> Part:
    """Converged maps of the decoupled architectures: derived norms against numpy."""
    ds = ctx.dataset
    part = Part("converged", "Converged maps and systematicity (theory.md §4.4–4.5)")
    table = {}
    for name in DECOUPLED:
        net = arch.architecture(name)
        conv = converged(ds, net)
        derived = {k: float(v) for k, v in conv.quadrant_norms.items()}
        W = _numpy_converged(ds, net)
        measured = {}
        for inp, out in QUADRANTS:
            r = slice(*ds.output_blocks[out])
            c = slice(*ds.input_blocks[inp])
            measured[quadrant_name(inp, out)] = float(np.linalg.norm(W[r, c]))
        table[name] = {"derived": derived, "numpy": measured,
                       "systematic": conv.systematic, "rule_error": float(conv.rule_error)}
        err = max(abs(derived[k] - measured[k]) for k in derived)
        part.claims.append(Claim(f"{name}: derived quadrant norms of W* = numpy min-norm map",
                                 [round(derived[k], 4) for k in derived],
                                 [round(measured[k], 4) for k in measured], "absolute 1e-10",
                                 err < 1e-10, f"max error {err:.1e}"))
    systematic = {n: table[n]["systematic"] for n in DECOUPLED}
    part.claims.append(Claim("only the segregated network converges to a systematic map",
                             {"segregated": True, "others": False}, systematic, "exact",
                             systematic == {"dense": False, "shallow": False, "split": False,
                                            "segregated": True}))
    part.numbers = table
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    width = 0.2
    for i, name in enumerate(DECOUPLED):
        vals = [table[name]["derived"][quadrant_name(*q)] for q in QUADRANTS]
        ax.bar(np.arange(4) + i * width, vals, width, label=name)
    ax.set_xticks(np.arange(4) + 1.5 * width, [quadrant_name(*q) for q in QUADRANTS])
    ax.set_ylabel("‖W*[quadrant]‖ (Frobenius)")
    ax.legend(fontsize=8)
    part.figures = ctx.figure(fig, "converged_quadrants")
    return part


PARTS: dict[str, Callable[[Context], Part]] = {
    "spectrum": part_spectrum,
    "converged": part_converged,
}


# ------------------------------------------------------------------------ pipeline
def config_key(config: dict[str, Any]) -> str:
    """Hash of the configuration: a finished part is reused only under the same one."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def run_study(out: Path | str, quick: bool = True, seed: int = 0, quiet: bool = False,
              device: str = "auto", parts: Sequence[str] | None = None,
              derivation_tex: Callable[[], str] | None = None) -> list[Part]:
    """Run (or resume) every part, then write results.json, report.md, report.html.

    ``derivation_tex`` returns the LaTeX of the D0 derivation; it is written to
    ``derivation.tex``. Parts already finished under the same configuration are loaded.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    names = list(PARTS) if parts is None else list(parts)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise ModspecError(f"parts={unknown!r} is invalid: must be among {list(PARTS)}")
    config = {"quick": quick, "seed": seed, "dataset": D0}
    key = config_key(config)
    ctx = Context(out, quick, seed, quiet, device)
    done: list[Part] = []
    bar = tqdm(names, desc="modspec reproduce", disable=quiet, unit="part")
    for name in bar:
        bar.set_postfix_str(name)
        path = out / "parts" / f"{name}.json"
        if path.exists():
            try:
                saved = json.loads(path.read_text())
                if saved.get("config_key") == key:
                    done.append(Part.from_json(saved["part"]))
                    continue
            except (json.JSONDecodeError, KeyError, TypeError):
                pass  # a corrupt or partial file: recompute this part
        part = PARTS[name](ctx)
        atomic_write_text(path, json.dumps({"config_key": key,
                                            "part": jsonable(part.to_json())}, indent=2))
        done.append(part)
    if derivation_tex is not None:
        atomic_write_text(out / "derivation.tex", derivation_tex())
    write_results(out, done, config)
    write_markdown(out, done, config)
    write_html(out, done, config)
    return done
