"""The study pipeline: parts are saved as they finish, resumed, and assembled into reports."""

from __future__ import annotations

import json

from modspec.validation.study.run import run_study


def test_study_writes_reports_and_resumes_without_recomputing(tmp_path, monkeypatch):
    parts = run_study(tmp_path, quiet=True, parts=["spectrum", "converged"])
    assert all(c.passed for p in parts for c in p.claims)
    for name in ("results.json", "report.md", "report.html", "spectrum_d0.png",
                 "spectrum_d0.pdf", "parts/spectrum.json"):
        assert (tmp_path / name).exists(), name
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["claims"]) == sum(len(p.claims) for p in parts)
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "claims pass" in html

    from modspec.validation import study

    def boom(ctx):
        raise AssertionError("a finished part was recomputed")

    monkeypatch.setitem(study.PARTS, "spectrum", boom)
    again = run_study(tmp_path, quiet=True, parts=["spectrum", "converged"])
    assert [p.name for p in again] == ["spectrum", "converged"]


def test_a_corrupt_part_file_is_recomputed(tmp_path):
    run_study(tmp_path, quiet=True, parts=["spectrum"])
    (tmp_path / "parts" / "spectrum.json").write_text("{not json")
    parts = run_study(tmp_path, quiet=True, parts=["spectrum"])
    assert parts[0].claims and json.loads((tmp_path / "parts" / "spectrum.json").read_text())


def test_a_different_configuration_does_not_reuse_finished_parts(tmp_path, monkeypatch):
    run_study(tmp_path, quiet=True, seed=0, parts=["spectrum"])
    from modspec.validation import study

    calls = []
    original = study.PARTS["spectrum"]
    monkeypatch.setitem(study.PARTS, "spectrum", lambda ctx: calls.append(1) or original(ctx))
    run_study(tmp_path, quiet=True, seed=1, parts=["spectrum"])
    assert calls == [1]


def test_dynamics_torch_and_rank_parts_pass_their_claims_on_d0(tmp_path):
    """The small (quick) versions of three study parts: every claim in them holds."""
    parts = run_study(tmp_path, quick=True, quiet=True, device="cpu",
                      parts=["dynamics", "torch", "rank"])
    failing = [(p.name, c.name, c.detail) for p in parts for c in p.claims if not c.passed]
    assert failing == []
    names = {c.name for p in parts for c in p.claims}
    assert "dense: discrete-time theory follows GD mode strengths" in names
    assert (tmp_path / "dynamics_dense_modes.pdf").exists()


def test_unknown_part_is_refused(tmp_path):
    import pytest

    import modspec as ms

    with pytest.raises(ms.ModspecError, match="parts="):
        run_study(tmp_path, quiet=True, parts=["nope"])
