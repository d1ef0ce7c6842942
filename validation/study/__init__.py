"""The study (``modspec reproduce``) and the claims (``modspec validate --claims``).

* :mod:`.run` — the resumable pipeline :func:`run_study` of the study's parts;
* :mod:`.parts` — the parts that check the theory against NumPy, and the registry
  :data:`PARTS` of every part; :mod:`.experiments` — the parts that train networks;
* :mod:`.context` — what every part sees;
* :mod:`.claims` — the four claims of docs/theory/learning-dynamics.md by trained networks
  (their settings: :mod:`.claims_config`);
* :mod:`.rules` — the learning-rules study (end points against ``W*``, systematicity);
* :mod:`.report` — a study's ``results.json``, ``report.md`` and ``report.html``.

The names below are resolved on first access, so importing one submodule imports no other.
"""

from __future__ import annotations

from modspec.exports import lazy_exports

#: Public name -> its submodule.
_LAZY = {
    "ClaimsConfig": ".claims_config",
    "PARTS": ".parts",
    "run_claims": ".claims",
    "run_study": ".run",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
