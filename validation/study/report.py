"""Writing a study's results: ``results.json``, ``report.md`` and a self-contained ``report.html``.

A study is a list of named parts; each part has ``numbers`` (JSON-friendly), ``claims`` (rows of
the claims table) and ``figures`` (PNG/PDF file names relative to the output folder). The HTML
report inlines every PNG as base64 so it is one file that opens anywhere.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modspec.theory.cache import atomic_write_text

__all__ = ["Claim", "Part", "claims_of", "jsonable", "write_html", "write_markdown",
           "write_results"]


@dataclass(frozen=True)
class Claim:
    """One row of the claims table: what theory predicts, what was measured, and the verdict."""

    name: str
    predicted: Any
    measured: Any
    tolerance: str
    passed: bool
    detail: str = ""

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"


@dataclass
class Part:
    """The results of one step of a study."""

    name: str
    title: str
    numbers: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "numbers": self.numbers,
                "claims": [asdict(c) for c in self.claims], "figures": self.figures,
                "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Part:
        return cls(data["name"], data["title"], dict(data["numbers"]),
                   [Claim(**c) for c in data["claims"]], list(data["figures"]),
                   data.get("text", ""))


def jsonable(value: Any) -> Any:
    """Convert NumPy / SymPy values into plain JSON types (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        if isinstance(value, float) and value != value:
            return None
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def claims_of(parts: Sequence[Part]) -> list[tuple[str, Claim]]:
    return [(p.title, c) for p in parts for c in p.claims]


def write_markdown(out: Path, parts: Sequence[Part], config: Mapping[str, Any]) -> Path:
    """``report.md``: configuration, claims table, then each part with its figures."""
    rows = claims_of(parts)
    passed = sum(c.passed for _, c in rows)
    lines = ["# modspec reproduction report", "",
             f"Configuration: `{json.dumps(jsonable(config))}`", "",
             f"**{passed} of {len(rows)} claims pass.**", "",
             "| part | claim | predicted | measured | tolerance | verdict |",
             "|---|---|---|---|---|---|"]
    for title, c in rows:
        lines.append(f"| {title} | {c.name} | {_fmt(c.predicted)} | {_fmt(c.measured)} | "
                     f"{c.tolerance} | {c.verdict} |")
    for p in parts:
        lines += ["", f"## {p.title}", ""]
        if p.text:
            lines += [p.text, ""]
        for fig in p.figures:
            if fig.endswith(".png"):
                lines.append(f"![{fig}]({fig})")
    path = Path(out) / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}
th{background:#f3f3f3}.pass{color:#176117;font-weight:bold}.FAIL{color:#b00;font-weight:bold}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}pre{background:#f7f7f7;padding:.5em}
"""


def write_html(out: Path, parts: Sequence[Part], config: Mapping[str, Any]) -> Path:
    """``report.html``: self-contained (figures inlined), with the claims table first."""
    out = Path(out)
    rows = claims_of(parts)
    passed = sum(c.passed for _, c in rows)
    esc = html.escape
    body = [f"<h1>modspec reproduction report</h1><p><b>{passed} of {len(rows)} claims "
            "pass.</b></p>",
            f"<p>Configuration: <code>{esc(json.dumps(jsonable(config)))}</code></p>",
            "<h2>Claims</h2><table><tr><th>part</th><th>claim</th><th>predicted</th>"
            "<th>measured</th><th>tolerance</th><th>verdict</th></tr>"]
    for title, c in rows:
        body.append(f"<tr><td>{esc(title)}</td><td>{esc(c.name)}</td>"
                    f"<td>{esc(_fmt(c.predicted))}</td><td>{esc(_fmt(c.measured))}</td>"
                    f"<td>{esc(c.tolerance)}</td><td class='{c.verdict}'>{c.verdict}</td></tr>")
    body.append("</table>")
    for p in parts:
        body.append(f"<h2>{esc(p.title)}</h2>")
        if p.text:
            body.append(f"<p>{esc(p.text)}</p>")
        for fig in p.figures:
            if fig.endswith(".png") and (out / fig).exists():
                data = base64.b64encode((out / fig).read_bytes()).decode()
                body.append(f"<figure><img alt='{esc(fig)}' "
                            f"src='data:image/png;base64,{data}'>"
                            f"<figcaption>{esc(fig)}</figcaption></figure>")
    doc = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>modspec report</title>"
           f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
    path = out / "report.html"
    atomic_write_text(path, doc)
    return path


def write_results(out: Path, parts: Sequence[Part], config: Mapping[str, Any]) -> Path:
    """``results.json``: every number and claim of every part."""
    payload = {"config": jsonable(config),
               "claims": [{"part": t, **jsonable(asdict(c)), "verdict": c.verdict}
                          for t, c in claims_of(parts)],
               "parts": {p.name: jsonable(p.to_json()) for p in parts}}
    path = Path(out) / "results.json"
    atomic_write_text(path, json.dumps(payload, indent=2))
    return path
