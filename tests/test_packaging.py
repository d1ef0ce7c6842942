"""The distribution ships every package the code imports."""

from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_python_package_in_the_tree_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    mapping = config["tool"]["setuptools"]["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert found <= listed, f"missing from pyproject packages: {sorted(found - listed)}"


def test_layers_are_not_importable_as_top_level_names(tmp_path):
    """Installed modspec maps theory/ numerics/ validation/ under ``modspec.``; a fresh
    interpreter started outside the checkout (so the checkout is not on ``sys.path``) must not
    find them as top-level packages, whatever the checkout's folder is called."""
    import json
    import subprocess
    import sys

    code = ("import importlib.util, json; print(json.dumps({n: getattr(importlib.util."
            "find_spec(n), 'origin', None) for n in ('theory', 'numerics', 'validation')}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    origins = json.loads(out.stdout)
    for name, origin in origins.items():
        assert origin is None or pathlib.Path(origin).resolve().parent != ROOT / name, name
    import modspec.theory

    assert pathlib.Path(modspec.theory.__file__).resolve().parent == ROOT / "theory"
