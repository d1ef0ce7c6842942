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


def test_layers_are_not_importable_as_top_level_names():
    import importlib.util

    for name in ("theory", "numerics", "validation"):
        spec = importlib.util.find_spec(name)
        assert spec is None or "modspec" not in str(spec.origin), name
