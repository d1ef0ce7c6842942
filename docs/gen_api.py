"""Render the Python API reference from the docstrings with pdoc.

Two ways in:

* ``python docs/gen_api.py OUT`` writes the HTML reference into ``OUT`` (exit status 1 when
  pdoc warned, e.g. a module failed to import);
* as a MkDocs hook (``hooks: [docs/gen_api.py]`` in ``mkdocs.yml``) it renders the reference
  during ``mkdocs build`` and adds it to the site under ``api/``, so the pages can link to it
  and ``mkdocs build --strict`` fails on any pdoc warning.

The modules are listed explicitly (:func:`public_modules`): the layers live in folders mapped
into the package (``modspec.theory`` is ``theory/``), and pdoc only follows submodules that a
package's ``__all__`` names, so walking the package from ``modspec`` alone would miss most of
them.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import tempfile
import warnings
from pathlib import Path

PACKAGES = ("modspec", "modspec.commands", "modspec.theory", "modspec.numerics",
            "modspec.validation", "modspec.validation.cmnist", "modspec.validation.study",
            "modspec.validation.sweeps")
#: Modules that are not part of the documented API (entry-point shims).
SKIP = {"modspec.__main__"}

log = logging.getLogger("mkdocs.plugins.modspec_api")


def public_modules() -> list[str]:
    """Every package of :data:`PACKAGES` and its submodules (no ``_private`` ones)."""
    names: list[str] = []
    for package in PACKAGES:
        names.append(package)
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            name = f"{package}.{info.name}"
            if info.name.startswith("_") or info.ispkg or name in SKIP:
                continue
            names.append(name)
    return sorted(set(names))


def module_specs() -> list[str]:
    """What to hand pdoc: the packages, plus the modules that pdoc does not reach from them.

    pdoc expands a package into its submodules itself (only those named in ``__all__`` when
    the package defines it); naming a module twice makes it warn.
    """
    import pdoc.extract

    reached = set(pdoc.extract.walk_specs(list(PACKAGES)))
    return list(PACKAGES) + [m for m in public_modules() if m not in reached]


def render(out_dir: str | Path) -> list[str]:
    """Write the pdoc HTML for :func:`public_modules` into ``out_dir``; return pdoc's warnings."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext", footer_text="modspec API reference",
                          show_source=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*module_specs(), output_directory=Path(out_dir))
    return [f"{w.category.__name__}: {w.message}" for w in caught]


# ----------------------------------------------------------------------------- MkDocs hook
_TMP: tempfile.TemporaryDirectory | None = None


def on_files(files, config):  # noqa: ANN001, ANN201 - MkDocs hook signature
    """Render the API reference and add its files to the site under ``api/``."""
    from mkdocs.structure.files import File

    global _TMP
    _TMP = tempfile.TemporaryDirectory(prefix="modspec-api-")
    root = Path(_TMP.name)
    for message in render(root / "api"):
        log.warning("pdoc: %s", message)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            files.append(File(path.relative_to(root).as_posix(), str(root),
                              config["site_dir"], config["use_directory_urls"]))
    return files


def on_post_build(config):  # noqa: ANN001, ANN201 - MkDocs hook signature
    global _TMP
    if _TMP is not None:
        _TMP.cleanup()
        _TMP = None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python docs/gen_api.py OUT_DIR", file=sys.stderr)
        return 2
    problems = render(args[0])
    for message in problems:
        print(f"pdoc: {message}", file=sys.stderr)
    print(f"API reference written to {args[0]}/index.html")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
