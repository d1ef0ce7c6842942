"""The documentation builds without warnings: MkDocs pages (strict) and the pdoc API reference.

Both tools come with the ``docs`` extra (also part of ``dev``); a test is skipped, saying so,
only when its tool is not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")


def _gen_api():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mkdocs_site_builds_strictly_with_api_reference(tmp_path):
    _needs("mkdocs")
    _needs("pdoc")
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
         str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    # (no --quiet: it hides warnings from the counter that --strict relies on)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in ("index.html", "tutorials/derive/index.html", "tutorials/predict/index.html",
                 "tutorials/validate/index.html", "theory/learning-dynamics/index.html",
                 "cli/index.html", "python-api/index.html"):
        assert (site / page).is_file(), page
    # the API reference of every public module, rendered by the pdoc hook (a pdoc warning is
    # logged as a MkDocs warning, which --strict turns into a failed build)
    modules = _gen_api().public_modules()
    for layer in ("modspec.theory.derivation", "modspec.numerics.simulate",
                  "modspec.validation.cmnist", "modspec.commands.derive", "modspec.cli"):
        assert layer in modules
    for name in modules:
        html = site / "api" / (name.replace(".", "/") + ".html")
        assert html.is_file(), html
    spectrum = (site / "api" / "modspec" / "theory" / "spectra.html").read_text()
    assert "module_spectrum" in spectrum


def test_strict_build_fails_on_a_broken_link(tmp_path):
    """The strict build is a real check: a page with a dead link makes it fail."""
    _needs("mkdocs")
    _needs("pdoc")
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "index.md").write_text((docs / "index.md").read_text()
                                   + "\n[dead](no-such-page.md)\n")
    config = (ROOT / "mkdocs.yml").read_text().replace("docs_dir: docs",
                                                       f"docs_dir: {docs}")
    # the API hook is slow and irrelevant here
    config = config.replace("hooks:\n  - docs/gen_api.py\n", "")
    (docs / "python-api.md").unlink()        # it links into the API reference
    (tmp_path / "mkdocs.yml").write_text(config)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
         str(tmp_path / "site")], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "no-such-page.md" in proc.stdout + proc.stderr
