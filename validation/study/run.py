"""The whole study as a resumable pipeline of parts (``modspec reproduce``).

Each part (:data:`~.parts.PARTS`) is a function ``part(ctx) -> Part`` that computes numbers,
claims (predicted value, measured value, tolerance, verdict) and figures. Finished parts are
written to ``OUT/parts/<name>.json`` as soon as they complete, with a SHA-256 of their content;
a rerun with the same configuration and modspec version loads them instead of recomputing, so
an interrupted run resumes where it stopped (a part file whose checksum does not match is
computed again, never shown). At the end the report files are assembled from all parts:
``results.json``, ``report.md``, ``report.html`` (self-contained) and ``derivation.tex``. Every
file, figures included, is written atomically and never through a symbolic link.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modspec.theory.defaults import D0
from modspec.theory.errors import ModspecError
from modspec.validation.study.context import Context
from modspec.validation.study.parts import PARTS
from modspec.validation.study.report import (
    Part,
    atomic_write_text,
    jsonable,
    write_html,
    write_markdown,
    write_results,
)

__all__ = ["config_key", "part_checksum", "part_options", "run_study"]


def config_key(config: dict[str, Any]) -> str:
    """Hash of the configuration and the modspec version: a finished part is reused only
    under the same ones (an upgrade computes every part again)."""
    from modspec._version import __version__

    text = json.dumps({"config": config, "modspec": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def part_checksum(key: str, options: dict[str, Any], part: Any) -> str:
    """SHA-256 over a part file's content (its configuration key, part options and the part,
    as canonical JSON): a part file whose content does not match it (damaged or edited, e.g.
    verdicts flipped under the same key) is treated as missing and computed again."""
    text = json.dumps([key, options, part], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def part_options(name: str, ctx: Context) -> dict[str, Any]:
    """What a finished part depends on beyond the study's configuration: the rule list of the
    learning-rules part (so choosing other rules recomputes that part only)."""
    return {"rules": list(ctx.rules)} if name == "learning_rules" else {}


def _load_part(path: Path, key: str, options: dict[str, Any] | None) -> Part | None:
    """The finished part saved at ``path`` under the configuration ``key`` and, unless
    ``options`` is None, those part options; None when there is none, it was made under
    another configuration, or the file is damaged (not JSON, not UTF-8, a folder, not the
    expected structure) or its checksum does not match its content (:func:`part_checksum`):
    such a part is recomputed."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("config_key") == key and (
                options is None or saved.get("options", {}) == options) and (
                saved.get("sha256") == part_checksum(key, saved.get("options", {}),
                                                     saved["part"])):
            return Part.from_json(saved["part"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def run_study(out: Path | str, quick: bool = True, seed: int = 0, quiet: bool = False,
              device: str = "auto", parts: Sequence[str] | None = None, source: str = "digits",
              derivation_tex: Callable[[], str] | None = None,
              rules: Sequence[str] | None = None) -> list[Part]:
    """Run (or resume) the parts ``parts`` (default all), then write results.json, report.md
    and report.html with every finished part of this configuration in the folder, in the
    order of :data:`PARTS` (a run of some parts after a run of others reports them all).

    ``derivation_tex`` returns the LaTeX of the D0 derivation; it is written to
    ``derivation.tex``. Parts already finished under the same configuration are loaded; a
    damaged part file is recomputed. ``rules`` lists the learning rules of the
    ``learning_rules`` part (default: the study's four; gradient descent always runs as the
    reference). Returns the reported parts.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    names, rules = _chosen(parts, rules)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    config = {"quick": quick, "seed": seed, "dataset": dict(D0), "cmnist_source": source}
    key = config_key(config)
    ctx = Context(out, quick, seed, quiet, device, source, rules)
    finished: dict[str, Part] = {}
    bar = tqdm(names, desc="modspec reproduce", disable=quiet, unit="part")
    for name in bar:
        bar.set_postfix_str(name)
        finished[name] = _part(name, ctx, key)
    for name in PARTS:   # parts finished by earlier runs (any part options) stay in the report
        if name not in finished:
            part = _load_part(out / "parts" / f"{name}.json", key, None)
            if part is not None:
                finished[name] = part
    done = [finished[name] for name in PARTS if name in finished]
    if derivation_tex is not None:
        atomic_write_text(out / "derivation.tex", derivation_tex())
    write_results(out, done, config)
    write_markdown(out, done, config)
    write_html(out, done, config)
    return done


def _chosen(parts: Sequence[str] | None, rules: Sequence[str] | None
            ) -> tuple[list[str], tuple[str, ...]]:
    """The parts to run and the rules of the learning-rules part, each checked by name."""
    from modspec.validation.study.rules import SETTINGS

    names = list(PARTS) if parts is None else list(parts)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise ModspecError(f"parts={unknown!r} is invalid: must be among {list(PARTS)}")
    rules = tuple(SETTINGS)[1:] if rules is None else tuple(dict.fromkeys(rules))
    wrong = [r for r in rules if r not in SETTINGS]
    if wrong or not rules:
        raise ModspecError(f"rules={list(rules)!r} is invalid: must be one or more of "
                           f"{list(SETTINGS)}")
    return names, rules


def _part(name: str, ctx: Context, key: str) -> Part:
    """The part ``name``: loaded when finished under ``key`` and its options, else computed
    and saved with its checksum."""
    path = ctx.out / "parts" / f"{name}.json"
    options = part_options(name, ctx)
    part = _load_part(path, key, options)
    if part is None:
        part = PARTS[name](ctx)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)      # a folder where the part file goes: damaged
        content = json.loads(json.dumps(jsonable(part.to_json())))   # as read back
        saved = {"config_key": key, **({"options": options} if options else {}),
                 "part": content, "sha256": part_checksum(key, options, content)}
        atomic_write_text(path, json.dumps(saved, indent=2))
    return part
