"""Phase diagrams of a sweep store (:func:`modspec.validation.sweeps.plot`).

A store's rows are distinct points. A figure draws one value over one parameter (curves) or
two (a colour surface) and never averages distinct points: every other parameter the sweep
varies is drawn too, or the figure is refused.

* A parameter that *moves with* the drawn ones (one value at each drawn value, e.g. ``ry``
  when the grid sets ``r``, which gives ``rx = ry``) is not a dimension of its own: it is named
  on the axis.
* The other varied parameters are *free*. Curves take a colour per value of one free
  parameter (the one with the most values) and a panel (small multiples) per combination of
  the others; surfaces take a panel per combination of all of them. More than
  :data:`MAX_PANELS` panels or :data:`MAX_COLOURS` colours is refused in one line
  (:class:`~modspec.theory.errors.ModspecError`): plot a part of the store.

The theory of a curve over a continuous parameter (``rx``, ``ry``, ``lr``, ``init_std``) of
decoupled networks on generic datasets is evaluated between the grid points as well (one
batch of the compiled family, :func:`~modspec.validation.sweeps.theory.theory_values`, checked
to pass through the stored values) and drawn as a smooth line; elsewhere (integer parameters such as
``kx``, where the theory exists only at the grid points) it is drawn as marked points, labelled
so. Measured values are points with error bars (± std over seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modspec.theory.errors import ModspecError, bad

__all__ = ["CONTINUOUS", "MAX_COLOURS", "MAX_PANELS", "SMOOTH", "Layout", "layout",
           "phase_diagram", "smooth_theory"]

#: Most panels (small multiples) in one figure, and most colours in one panel.
MAX_PANELS = 12
MAX_COLOURS = 10
#: Parameters the theory can be evaluated between grid points, and how many points a smooth
#: theory curve has (besides the grid points themselves).
CONTINUOUS = ("rx", "ry", "lr", "init_std")
SMOOTH = 64

KINDS = ("theory", "simulate", "train")


def phase_diagram(store: Any, x: str, value: str, y: str | None = None,
                  out: str | Path | None = None, *, ax: Any = None) -> Any:
    """The phase diagram of a store (a path or :func:`load_sweep`'s DataFrame); see the
    module docstring. Returns the :class:`matplotlib.figure.Figure`; ``out`` (``.png`` or
    ``.pdf``) saves it. ``ax``: draw on the caller's axes instead of a new figure — one axes
    when the figure has one panel, else a sequence of at least as many axes as panels (the
    unused ones are hidden). ``value`` takes the shell-safe alias of an observable
    (``Gx_Oy`` for ``Gx->Oy``)."""
    from .store import load_sweep, observable_name

    df = load_sweep(store) if not hasattr(store, "columns") else store
    value = observable_name(value, _observables(df))
    kinds = _kinds(df, x, value, y, out)
    drawn = [x] if y is None else [x, y]
    lay = layout(df, drawn, curves=y is None)
    facets, moving = list(lay.facets), list(lay.moving)
    panels = list(df.groupby(facets, sort=True)) if facets else [((), df)]
    fig, axes, ncols = _panels(ax, len(panels), facets, surface=y is not None)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    with_x = [m for m in moving if _determine(df, x, m)]
    with_y = [m for m in moving if m not in with_x and y is not None and _determine(df, y, m)]
    with_both = [m for m in moving if m not in with_x and m not in with_y]
    moved = (f" ({', '.join(with_x)} with it)" if with_x else "") + \
        (f" ({', '.join(with_both)} with {x} and {y})" if with_both else "")
    if y is None:
        palette = _colours(df, lay.colour)      # one colour per value in every panel
        for ax, (label, part) in zip(axes, panels, strict=False):
            _curves(ax, part, x, value, kinds, lay.colour, moving, palette)
            ax.set_title(_label(df, lay, facets, label), fontsize="small")
            ax.set_xlabel(x + moved)
        for ax in axes[::ncols]:
            ax.set_ylabel(value)
        axes[0].legend(handles=_legend(axes[0], df, kinds, lay), fontsize="small")
    else:
        _surfaces(fig, axes[:len(panels)], panels, [_label(df, lay, facets, label)
                                                    for label, _ in panels], x, y, value, kinds)
        for ax in axes[:len(panels)]:
            ax.set_xlabel(x + moved)
        for ax in axes[::ncols]:
            ax.set_ylabel(y + (f" ({', '.join(with_y)} with it)" if with_y else ""))
    if out is not None:
        from ..figures import save_figure  # atomic, never through a symbolic link

        save_figure(fig, out, dpi=120, bbox_inches="tight")   # the image fits every label
    return fig


def _kinds(df: Any, x: str, value: str, y: str | None, out: str | Path | None) -> list[str]:
    """What drew ``value`` (theory, simulate, train), the request checked against the store:
    ``x``/``y`` are distinct parameters of it, ``value`` an observable, ``out`` a figure."""
    if out is not None and Path(out).suffix.lower() not in (".png", ".pdf"):
        raise bad("--out", str(out), "must end in .png or .pdf")
    for name in (x, y):
        if name is not None and name not in df.columns:
            raise bad("--x" if name == x else "--y", name,
                      f"must be a parameter of the sweep ({', '.join(_parameters(df))})")
    if y is not None and y == x:
        raise bad("--y", y, "must differ from --x")
    kinds = [k for k in KINDS if f"{k}.{value}" in df.columns]
    if not kinds:
        raise bad("--value", value, f"must be an observable of the sweep "
                                    f"({', '.join(_observables(df))})")
    return kinds


def _panels(ax: Any, n: int, facets: list[str], surface: bool) -> tuple[Any, Any, int]:
    """The figure, its axes (at least ``n``, one per panel; three columns) and the number of
    columns: a new figure, or the caller's ``ax`` checked to hold enough axes."""
    from matplotlib.figure import Figure

    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    if ax is None:
        fig = Figure(figsize=(4.6 * ncols + (0.8 if surface else 0.0), 3.6 * nrows))
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True,
                                          sharey=True)).ravel()
        return fig, axes, ncols
    axes = np.ravel(np.asarray(ax, dtype=object))
    if len(axes) < n or not all(hasattr(a, "plot") for a in axes):
        raise bad("ax", f"{len(axes)} axes", f"must be {n} or more matplotlib "
                  f"axes: the figure has a panel per {', '.join(facets) or 'store'}")
    return axes[0].figure, axes, len(axes)


@dataclass(frozen=True)
class Layout:
    """How a figure draws the varied parameters: ``moving`` move with the drawn ones (named
    on the axis), ``together[p]`` move with the free parameter ``p`` (named beside it),
    ``colour`` is the free one drawn as colours (curves only), ``facets`` the free ones drawn
    as panels."""

    moving: tuple[str, ...]
    together: dict[str, list[str]]
    colour: str | None
    facets: tuple[str, ...]


def layout(df: Any, drawn: list[str], curves: bool = True) -> Layout:
    """The :class:`Layout` of a figure drawing ``drawn``; refused (one line) beyond
    :data:`MAX_PANELS` panels or :data:`MAX_COLOURS` colours, or when two rows are one
    point."""
    others = [c for c in _parameters(df)
              if c not in drawn and df[c].astype(str).nunique() > 1]
    keyed = df[drawn].astype(str)
    moving = [c for c in others
              if keyed.assign(_v=df[c].astype(str)).groupby(drawn)["_v"].nunique().max() == 1]
    # ``moving``: with the drawn parameters; then those moving with a free one
    free: list[str] = []
    together: dict[str, list[str]] = {}
    for c in others:        # parameters moving together (r sets rx and ry) are one dimension
        if c in moving:
            continue
        lead = next((f for f in free if _determine(df, f, c) and _determine(df, c, f)), None)
        if lead is None:
            free.append(c)
        else:
            together.setdefault(lead, []).append(c)
    counts = {c: df[c].astype(str).nunique() for c in free}
    colour = max(free, key=lambda c: counts[c]) if curves and free else None
    facets = [c for c in free if c != colour]
    panels = int(df[facets].astype(str).drop_duplicates().shape[0]) if facets else 1
    where = ", ".join(f"{c} ({counts[c]} values)" for c in free)
    if panels > MAX_PANELS or (colour is not None and counts[colour] > MAX_COLOURS):
        first = facets[0] if facets else colour
        raise ModspecError(
            f"the sweep also varies {where}: one figure draws at most {MAX_PANELS} panels of "
            f"{MAX_COLOURS} colours, and never averages distinct points; plot a part of the "
            f"store, e.g. df[df[{first!r}] == {df[first].iloc[0]!r}]")
    if df.duplicated(subset=[*drawn, *free]).any():
        raise ModspecError(f"the store holds several rows at one point of ({', '.join(drawn)}"
                           f"{', ' if free else ''}{', '.join(free)}); plot one of them")
    return Layout(tuple(moving), together, colour, tuple(facets))


def _determine(df: Any, a: str, b: str) -> bool:
    """Whether ``a`` determines ``b`` (one value of ``b`` at each value of ``a``)."""
    table = df[[a, b]].astype(str)
    return bool(table.groupby(a)[b].nunique().max() == 1)


def _parameters(df: Any) -> list[str]:
    return [c for c in df.columns if c != "key" and "." not in c and not c.startswith("_")]


def _label(df: Any, lay: Layout, names: list[str], values: Any) -> str:
    """``kx=2, arch=dense``; a parameter moving with one of them beside it (``rx=1.0
    (ry=1.0)``)."""
    parts = []
    for k, v in zip(names, np.atleast_1d(values), strict=False):
        rows = df[df[k].astype(str) == str(v)]
        beside = [f"{q}={rows[q].iloc[0]}" for q in lay.together.get(k, [])]
        parts.append(f"{k}={v}" + (f" ({', '.join(beside)})" if beside else ""))
    return ", ".join(parts)


def _groups(part: Any, colour: str | None) -> list[tuple[Any, Any]]:
    return list(part.groupby(colour, sort=True)) if colour else [(None, part)]


def _colours(df: Any, colour: str | None) -> dict[Any, str]:
    values = sorted(df[colour].unique()) if colour else [None]
    return {v: f"C{n % 10}" for n, v in enumerate(values)}


def _curves(ax: Any, part: Any, x: str, value: str, kinds: list[str], colour: str | None,
            moving: list[str], palette: dict[Any, str]) -> None:
    for key, group in _groups(part, colour):
        group = group.sort_values(x)
        c = palette[key]
        if "theory" in kinds:
            smooth = smooth_theory(group, x, value, moving)
            if smooth is not None:
                ax.plot(*smooth, "-", color=c, lw=1.4)
            else:
                ax.plot(group[x], group[f"theory.{value}"], linestyle="none", marker="_",
                        ms=12, mew=2, color=c)
        for kind, marker in (("simulate", "o"), ("train", "s")):
            if kind in kinds:
                err = group.get(f"{kind}.{value}.std")
                ax.errorbar(group[x], group[f"{kind}.{value}"], yerr=err, fmt=marker,
                            color=c, ms=4, capsize=2)


def _legend(ax: Any, df: Any, kinds: list[str], lay: Layout) -> list[Any]:
    from matplotlib.lines import Line2D

    smooth = any(line.get_linestyle() == "-" for line in ax.lines)
    handles = []
    if "theory" in kinds:
        handles.append(Line2D([], [], color="k", ls="-", label="theory") if smooth else
                       Line2D([], [], color="k", ls="none", marker="_", ms=12, mew=2,
                              label="theory (at the grid points)"))
    handles += [Line2D([], [], color="k", ls="none", marker=m, ms=4, label=f"{k} (± std)")
                for k, m in (("simulate", "o"), ("train", "s")) if k in kinds]
    if lay.colour is not None:
        handles += [Line2D([], [], color=c, lw=3, label=_label(df, lay, [lay.colour], v))
                    for v, c in _colours(df, lay.colour).items()]
    return handles


def _surfaces(fig: Any, axes: Any, panels: list[tuple[Any, Any]], titles: list[str], x: str,
              y: str, value: str, kinds: list[str]) -> None:
    surface = kinds[0]
    frames = [part for _, part in panels]
    lo = np.nanmin([np.nanmin(f[f"{k}.{value}"]) for f in frames for k in kinds])
    hi = np.nanmax([np.nanmax(f[f"{k}.{value}"]) for f in frames for k in kinds])
    mesh = None
    for ax, (_, part), title in zip(axes, panels, titles, strict=True):
        table = part.pivot(index=y, columns=x, values=f"{surface}.{value}")
        mesh = ax.pcolormesh(table.columns.astype(float), table.index.astype(float),
                             table.to_numpy(dtype=float), shading="nearest", vmin=lo, vmax=hi)
        for kind in kinds[1:]:
            ax.scatter(part[x], part[y], c=part[f"{kind}.{value}"], vmin=lo, vmax=hi,
                       edgecolors="k", s=40, label=kind)
        ax.set_title((title + "\n" if title else "") + f"{value}: {surface} at the grid points"
                     + (", measured as circles" if len(kinds) > 1 else ""),
                     fontsize="small")
    fig.colorbar(mesh, ax=list(axes), label=f"{surface}.{value}")


def smooth_theory(group: Any, x: str, value: str, moving: list[str]
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The theory of ``group`` (rows differing only in ``x`` and the ``moving`` parameters)
    over :data:`SMOOTH` values of ``x`` between its grid points and at them, or ``None`` where
    that is not cheap or not defined (see the module docstring)."""
    from modspec.theory.architectures import architecture

    from .run import theory_values

    if x not in CONTINUOUS or len(group) < 2:
        return None
    # parameters moving with x are evaluated equal to it (r sets rx = ry), nothing else
    if any(not np.allclose(group[m].astype(float), group[x].astype(float)) for m in moving):
        return None
    row = group.iloc[0]
    try:
        generic = (int(row.kx) >= 1 and int(row.ky) >= 1 and 1 <= int(row.ny) < int(row.nx)
                   and float(group.rx.min()) > 0 and float(group.ry.min()) > 0
                   and _missing(row.get("train_objects"))
                   and not architecture(str(row.arch), int(row.depth)).coupled)
    except (AttributeError, TypeError, ValueError, ModspecError):
        return None
    if not generic:
        return None
    grid = group[x].astype(float).to_numpy()
    xs = np.union1d(np.linspace(grid.min(), grid.max(), SMOOTH), grid)
    try:
        points = [_point(row, {x: v, **{m: v for m in moving}}) for v in xs]
        values = theory_values(points)
    except (ModspecError, TypeError, ValueError, KeyError):
        return None
    key = f"theory.{value}"
    if any(key not in v for v in values):
        return None
    ys = np.array([v[key] for v in values], dtype=float)
    stored = group[key].astype(float).to_numpy()
    at_grid = np.interp(grid, xs, ys)
    if not np.allclose(at_grid, stored, rtol=1e-6, atol=1e-9, equal_nan=True):
        return None       # the curve must pass through what the store holds
    return xs, ys


def _observables(df: Any) -> list[str]:
    return sorted({c.split(".", 1)[1].removesuffix(".std") for c in df.columns
                   if c.startswith(tuple(f"{k}." for k in KINDS))})


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _point(row: Any, changes: dict[str, float]) -> Any:
    """The :class:`~.point.Point` of a stored row, with ``changes``, computing theory."""
    from .point import Point

    ints = ("nx", "ny", "kx", "ky", "depth", "epochs", "hidden", "seeds", "seed",
            "record_every")
    floats = ("rx", "ry", "lr", "init_std")
    spec: dict[str, Any] = {k: int(row[k]) for k in ints}
    spec |= {k: float(row[k]) for k in floats}
    spec["arch"] = str(row["arch"])
    a0 = row.get("a0")
    spec["a0"] = None if _missing(a0) else float(a0)
    spec["train_objects"] = None
    spec["compute"] = ("theory",)
    spec |= {k: float(v) for k, v in changes.items()}
    return Point(**spec)
