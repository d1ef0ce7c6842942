"""Printers: one class per output format, dispatching on the type of what they print.

After SymPy's printing package (``sympy.printing.printer.Printer``): a printer's
:meth:`Printer.doprint` calls ``_print_<Type>`` for the first class in the object's MRO that
has such a method, so a format is one class and a new printable type is one method. The
formats of a :class:`~modspec.theory.derivation.Derivation` (rules included):

* :class:`modspec.theory.export.JsonPrinter`: the JSON contract of ``modspec derive``
  (plain Python data);
* :class:`modspec.theory.export.TextPrinter`: the plain-text report;
* :class:`modspec.theory.latex.LatexPrinter`: LaTeX (``align*`` blocks, amsmath).

:func:`modspec.theory.export.printer` names them (``"json"``, ``"text"``, ``"latex"``; the
LaTeX of ``modspec derive`` is :class:`~modspec.theory.export.LatexReportPrinter`). This
module imports no other: the objects import their printers, never the reverse.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .errors import bad

__all__ = ["FORMATS", "Printer"]

#: The formats of :func:`modspec.theory.export.printer`.
FORMATS = ("text", "json", "latex")


class Printer:
    """Base printer: ``settings`` (a printer's own, defaults in :attr:`_default_settings`)
    and :meth:`doprint` dispatching to ``_print_<Type>`` along the type's MRO."""

    #: The format's name, as :func:`printer` and messages call it.
    format: ClassVar[str] = ""
    _default_settings: ClassVar[dict[str, Any]] = {}

    def __init__(self, **settings: Any) -> None:
        unknown = set(settings) - set(self._default_settings)
        if unknown:
            raise bad("settings", sorted(unknown), f"must be among "
                      f"{sorted(self._default_settings)} for the {self.format} printer")
        self._settings = {**self._default_settings, **settings}

    def doprint(self, obj: Any) -> Any:
        """``obj`` in this printer's format."""
        return self._print(obj)

    def _print(self, obj: Any, **kwargs: Any) -> Any:
        for cls in type(obj).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(obj, **kwargs)
        return self.emptyPrinter(obj)

    def emptyPrinter(self, obj: Any) -> Any:  # noqa: N802 (SymPy's name)
        raise bad("object", type(obj).__name__, f"has no {self.format} printing")
