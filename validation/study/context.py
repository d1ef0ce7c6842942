"""What every part of the study sees (:class:`Context`), and how a part saves its figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modspec.theory.dataset import CompositionalDataset
from modspec.theory.defaults import D0

__all__ = ["Context", "subplots"]


@dataclass
class Context:
    """What every part sees: output folder, configuration, and progress settings."""

    out: Path
    quick: bool
    seed: int
    quiet: bool
    device: str = "auto"
    source: str = "digits"
    rules: tuple[str, ...] = ()

    @property
    def dataset(self) -> CompositionalDataset:
        return CompositionalDataset(**D0)

    def figure(self, fig: Any, name: str) -> list[str]:
        """Save a matplotlib figure as PNG and PDF; returns the file names."""
        from modspec.validation.figures import save_png_pdf

        return [Path(p).name for p in save_png_pdf(fig, self.out / f"{name}.png", dpi=120,
                                                   bbox_inches="tight")]

    def draw(self, name: str, draw: Callable[..., Any], *args: Any, **kwargs: Any) -> list[str]:
        """Draw a figure of :mod:`modspec.validation.figures` as PNG and PDF; the file names."""
        from modspec.validation.figures import save_png_pdf

        fig = draw(*args, **kwargs)
        return [Path(p).name for p in save_png_pdf(fig, self.out / f"{name}.png", dpi=110)]


def subplots(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A new :class:`~matplotlib.figure.Figure` and its axes (no pyplot, no backend switch)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()
