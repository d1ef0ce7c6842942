"""Figures (matplotlib, no TeX, no pyplot state): theory dashed, simulation solid.

Curves come as :class:`~modspec.numerics.record.Trajectory` records: the *theory* (no seed
axis) dashed, the *measured* run (NumPy simulator or PyTorch training, ``(seeds, T)``) solid as
the mean over seeds with a ±1 std band. Times are epochs of full-batch gradient descent.
Losses are per sample (mean over samples of the summed squared
error over the block's units). Each function draws on a new
:class:`matplotlib.figure.Figure` (no pyplot, no backend switch) or, with ``ax=``, on the
caller's axes (a sequence of axes for the figures of several panels); it returns the Figure and,
given a ``path``, also writes it there (the format named by the suffix, atomically, never
through a symbolic link: :func:`save_figure`); :func:`save_png_pdf` writes PNG and PDF.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modspec.numerics.record import Trajectory

__all__ = ["cmnist_claim_figure", "cmnist_figure", "heldout_figure", "losses_figure",
           "modes_figure", "quadrants_figure", "save_figure", "save_png_pdf",
           "theories_figure"]


def _mean_std(values: Any) -> tuple[np.ndarray, np.ndarray | None]:
    a = np.asarray(values, dtype=float)
    if a.ndim == 2:
        return a.mean(axis=0), a.std(axis=0)
    return a, None


def _figure(figsize: tuple[float, float], ax: Any = None, n: int = 1) -> tuple[Any, Any]:
    """The figure and axes to draw on: the caller's ``ax`` (one axes, or a sequence of ``n``)
    or a new :class:`~matplotlib.figure.Figure` (no pyplot: no global state, no backend)."""
    if ax is not None:
        axes = list(np.ravel(np.asarray(ax, dtype=object))) if n > 1 else [ax]
        if len(axes) != n or not all(hasattr(a, "plot") for a in axes):
            raise ValueError(f"ax must be {'a sequence of ' + str(n) if n > 1 else 'one'} "
                             "matplotlib axes")
        return axes[0].figure, (axes if n > 1 else axes[0])
    from matplotlib.figure import Figure

    with _no_tex():
        fig = Figure(figsize=figsize)
    return fig, (list(fig.subplots(1, n)) if n > 1 else fig.subplots())


def _no_tex() -> Any:
    import matplotlib

    return matplotlib.rc_context({"text.usetex": False})


def save_figure(fig: Any, path: str | os.PathLike[str], **savefig: Any) -> str:
    """Render a matplotlib figure in memory (the format named by the file's suffix: ``.png``,
    ``.pdf``, …) and write it atomically (:func:`modspec.theory.cache.atomic_write_bytes`):
    a reader never sees half a figure and a symbolic link at ``path`` is replaced, never
    written through. ``savefig`` goes to :meth:`~matplotlib.figure.Figure.savefig`
    (``dpi``, ``bbox_inches``, …). Returns ``path`` as a string."""
    import io

    from modspec.theory.cache import atomic_write_bytes

    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix or None, **savefig)
    atomic_write_bytes(path, buffer.getvalue())
    return os.fspath(path)


def save_png_pdf(fig: Any, path: str | os.PathLike[str], **savefig: Any) -> list[str]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (:func:`save_figure`; the suffix of
    ``path`` is replaced). Returns both paths."""
    stem = os.path.splitext(os.fspath(path))[0]
    return [save_figure(fig, f"{stem}.{ext}", **savefig) for ext in ("png", "pdf")]


def _save(fig: Any, path: str | None, own: bool = True) -> Any:
    """Lay out a figure this module made (``own``) and write it to ``path`` if given."""
    if own:
        fig.tight_layout()
    if path is not None:
        with _no_tex():
            save_figure(fig, path, dpi=110)
    return fig


def _panel(ax: Any, theory: Trajectory | None, measured: Trajectory, field: str,
           keys: Sequence[str] | None, title: str, ylabel: str) -> None:
    sim = getattr(measured, field)
    pred = getattr(theory, field) if theory is not None else {}
    keys = list(keys or dict.fromkeys([*sim, *pred]))
    import matplotlib

    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, key in enumerate(keys):
        c = colours[n % len(colours)]
        if key in sim:
            m, s = _mean_std(sim[key])
            t = np.asarray(measured.t, dtype=float)
            ax.plot(t, m, "-", color=c, label=f"{key} (simulation)")
            if s is not None and np.any(s > 0):
                ax.fill_between(t, m - s, m + s, color=c, alpha=0.2, lw=0)
        if key in pred and pred[key] is not None:
            m, _ = _mean_std(pred[key])
            ax.plot(np.asarray(theory.t, dtype=float), m, "--", color=c, lw=1.6,
                    label=f"{key} (theory)")
    ax.set_title(title)
    ax.set_xlabel("t (epochs of full-batch GD)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def _curves_figure(field: str, default_title: str, ylabel: str, theory: Trajectory | None,
                   measured: Trajectory, path: str | None, title: str, ax: Any) -> Any:
    fig, axes = _figure((6, 4), ax)
    _panel(axes, theory, measured, field, None, title or default_title, ylabel)
    return _save(fig, path, ax is None)


def modes_figure(theory: Trajectory | None, measured: Trajectory,
                 path: str | None = None, title: str = "", *, ax: Any = None) -> Any:
    """Mode strengths a(t): theory dashed, simulation solid (mean ± std over seeds)."""
    return _curves_figure("modes", "mode strengths",
                          "a (projection on analytic singular vectors)", theory, measured,
                          path, title, ax)


def quadrants_figure(theory: Trajectory | None, measured: Trajectory,
                     path: str | None = None, title: str = "", *, ax: Any = None) -> Any:
    """Quadrant norms ‖W[i→o]‖_F (functional for non-linear networks)."""
    return _curves_figure("quadrant_norms", "quadrant norms", "Frobenius norm", theory,
                          measured, path, title, ax)


def losses_figure(theory: Trajectory | None, measured: Trajectory,
                  path: str | None = None, title: str = "", *, ax: Any = None) -> Any:
    """Block losses: compositional (Oy rows) and non-compositional (Gy rows), per sample."""
    return _curves_figure("loss", "block losses",
                          "loss per sample (summed over the block's units)", theory,
                          measured, path, title, ax)


#: Line styles of the theories of :func:`theories_figure`, in order.
THEORY_STYLES = ("--", "-.", ":")


def _theories_panel(ax: Any, theories: Sequence[tuple[str, Trajectory]], measured: Trajectory,
                    field: str, title: str, ylabel: str,
                    targets: Mapping[str, float] | None) -> None:
    import matplotlib

    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    sim = getattr(measured, field)
    t = np.asarray(measured.t, dtype=float)
    for n, key in enumerate(sim):
        c = colours[n % len(colours)]
        m, s = _mean_std(sim[key])
        ax.plot(t, m, "-", color=c, label=f"{key} (measured)")
        if s is not None and np.any(s > 0):
            ax.fill_between(t, m - s, m + s, color=c, alpha=0.2, lw=0)
        for (label, theory), style in zip(theories, THEORY_STYLES, strict=False):
            values = getattr(theory, field).get(key)
            if values is not None:
                ax.plot(np.asarray(theory.t, dtype=float), _mean_std(values)[0], style,
                        color=c, lw=1.4, label=f"{key} ({label})")
        if targets and key in targets:
            ax.axhline(targets[key], color=c, lw=0.8, ls=(0, (1, 3)),
                       label=f"{key} (W* {targets[key]:.4f})")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("t (epochs)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def theories_figure(theories: Sequence[tuple[str, Trajectory]], measured: Trajectory,
                    path: str | None = None, targets: Mapping[str, float] | None = None,
                    title: str = "", *, ax: Any = None) -> Any:
    """Two panels of one measured run against any number of theories.

    Left, mode strengths; right, quadrant norms. The run is solid (mean ± std over seeds);
    each ``(label, theory)`` of ``theories`` (records without a seed axis) gets its own line
    style (:data:`THEORY_STYLES`), in the colour of the observable; ``targets``
    ``{quadrant: value}`` (say ``W*``'s norms) are dotted horizontal lines.
    """
    if len(theories) > len(THEORY_STYLES):
        raise ValueError(f"at most {len(THEORY_STYLES)} theories per figure")
    fig, (left, right) = _figure((14, 4), ax, n=2)
    _theories_panel(left, theories, measured, "modes", f"{title}: mode strengths",
                    "a (projection on analytic singular vectors)", None)
    _theories_panel(right, theories, measured, "quadrant_norms", f"{title}: quadrant norms",
                    "Frobenius norm", targets)
    return _save(fig, path, ax is None)


def heldout_figure(curves: Mapping[str, Any], t: Any, path: str | None = None,
                   title: str = "", ylabel: str = "Oy squared error per held-out object", *,
                   ax: Any = None) -> Any:
    """Held-out error over time, one curve per entry of ``curves`` (mean ± std): by default
    the compositional error of each network; any per-object error with ``ylabel``.

    ``t`` is one time axis for all curves or a dict ``{name: t}``.
    """
    own = ax is None
    fig, ax = _figure((6, 4), ax)
    for name, values in curves.items():
        m, s = _mean_std(values)
        times = np.asarray(t[name] if isinstance(t, Mapping) else t, dtype=float)
        ax.plot(times, m, label=name)
        if s is not None:
            ax.fill_between(times, m - s, m + s, alpha=0.2, lw=0)
    ax.set_title(title or "error on held-out objects")
    ax.set_xlabel("t (epochs of full-batch GD)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return _save(fig, path, own)


def _missing_as_nan(values: Sequence[float | None]) -> np.ndarray:
    """A JSON curve as floats, a missing value (``None``) as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _band(ax: Any, epochs: Sequence[float], curve: Mapping[str, Any], colour: Any,
          label: str, style: str = "-") -> None:
    """A JSON curve's ``mean`` against ``epochs`` with its ± ``std`` band."""
    t = np.asarray(epochs, dtype=float)
    m, s = _missing_as_nan(curve["mean"]), _missing_as_nan(curve["std"])
    ax.plot(t, m, style, color=colour, label=label)
    ax.fill_between(t, m - s, m + s, color=colour, alpha=0.15, lw=0)


def cmnist_figure(summary: Mapping[str, Any], path: str | None = None, *,
                  ax: Any = None) -> Any:
    """Compositional MNIST curves: per part, train/seen/held-out errors of each network
    (three panels; ``ax`` a sequence of three axes)."""
    parts = ("compositional", "noncompositional")
    own = ax is None
    fig, axes = _figure((15, 4), ax, n=3)
    styles = {"train": ":", "seen": "--", "heldout": "-"}
    colours = {"dense": "tab:red", "split": "tab:blue"}
    for ax, part in zip(axes[:2], parts, strict=True):
        for arch, a in summary["archs"].items():
            for split, ls in styles.items():
                c = a["curves"][f"{split}/{part}"]
                if not np.isnan(_missing_as_nan(c["mean"])).all():
                    _band(ax, a["curves"]["epochs"], c, colours.get(arch), f"{arch} {split}", ls)
        ax.set_title(f"{part} error (normalised)")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    ax = axes[2]
    for arch, a in summary["archs"].items():
        _band(ax, a["curves"]["epochs"], a["curves"]["gap"], colours.get(arch), arch)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title("gap: held-out − seen (compositional)")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7)
    return _save(fig, path, own)


def cmnist_claim_figure(summary: Mapping[str, Any], path: str | None = None, *,
                        ax: Any = None) -> Any:
    """The claim over time: paired difference dense − split of each verdict metric against
    epochs, mean ± 2 sem over seeds; the claim holds where the band is above 0 (two panels;
    ``ax`` a sequence of two axes)."""
    over = summary["over_time"]
    t = np.asarray(over["epochs"], dtype=float)
    own = ax is None
    fig, axes = _figure((11, 3.6), ax, n=2)
    for ax, name in zip(axes, ("error", "gap"), strict=True):
        m = over[name]
        mean = np.array(m["mean"], dtype=float)
        sem = _missing_as_nan(m["sem"])
        ax.plot(t, mean, color="tab:purple", label="dense − split (mean)")
        ax.fill_between(t, mean - 2 * sem, mean + 2 * sem, color="tab:purple", alpha=0.2,
                        lw=0, label="± 2 sem")
        ax.axhline(0, color="k", lw=0.5)
        if m["holds_from"] is not None:
            ax.axvline(m["holds_from"], color="tab:green", ls="--",
                       label=f"holds from epoch {m['holds_from']}")
        stopped = summary.get("convergence", {}).get("stopped_epoch")
        if stopped is not None:
            ax.axvline(stopped, color="0.5", ls=":", label=f"stopped (epoch {stopped})")
        ax.set_title(textwrap.fill(f"dense − split: {m['metric']}", 60), fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    return _save(fig, path, own)
