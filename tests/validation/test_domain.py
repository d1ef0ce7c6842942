"""The theory's domain for random starts (numerics/domain.py): estimated shifts, what
``validate`` does not judge, and no PASS the theory cannot back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import modspec as ms
from modspec.cli import main
from modspec.numerics.domain import DOMAIN_SHIFT, ModeDomain, mode_domains
from modspec.theory import architectures as arch
from modspec.theory.errors import ModspecError
from modspec.validation.pipeline import payload, validate

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


def test_the_estimate_counts_the_earlier_modes_of_the_same_module():
    """D0 (π1, π2, π3 of multiplicities 1, 2, 5) at depth 3 with 50 hidden units, rising in
    that order: η = (L−2)·M/h = 0, 1/50, 3/50; ε = (a0/a*)^{2/L}; at depth 2
    η = −2 ln(1 − M/h)/ln(a*/a0);
    a mode that never rises within the run counts as rising last."""
    th = ms.derive(D0, arch.dense(3))
    fixed = {k: float(m.fixed_point) for k, m in th.modes.items()}
    a0 = {k: 1e-3 ** 1.5 * v for k, v in fixed.items()}
    dom = mode_domains(th, 50, a0, {"pi1": 100.0, "pi2": 300.0, "pi3": float("nan")})
    assert [dom[k].earlier for k in ("pi1", "pi2", "pi3")] == [0, 1, 3]
    assert dom["pi2"].interaction == pytest.approx(1 / 50)
    assert dom["pi3"].interaction == pytest.approx(3 / 50)
    assert all(d.start == pytest.approx(1e-3) for d in dom.values())
    assert dom["pi1"].inside and dom["pi2"].inside is False and not dom["pi3"].inside
    assert "(3−2)·3/50" in dom["pi3"].reason()
    wide = mode_domains(th, 400, a0, {"pi1": 100.0, "pi2": 300.0, "pi3": 900.0})
    assert wide["pi2"].inside and wide["pi3"].inside        # 3/400 < 2 %
    shallow = mode_domains(ms.derive(D0, arch.dense(2)), 5, a0, {"pi1": 1.0, "pi2": 2.0})
    span = np.log(1 / 1e-3 ** 1.5)                              # ln(a*/a0)
    assert shallow["pi1"].interaction == 0 and shallow["pi1"].inside
    assert shallow["pi2"].interaction == pytest.approx(-2 * np.log(1 - 1 / 5) / span)
    assert not shallow["pi2"].inside and "M/h = 1/5" in shallow["pi2"].reason()
    big = ModeDomain("pi1", 2, 50, 0, start=0.3, interaction=0.0)
    assert not big.inside and big.shift == pytest.approx(0.3)


@pytest.mark.parametrize("argv, outside", [
    # issue 22: π3 trajectory 11.2 % (seed 10); 14.9 % with 20 hidden units
    (["--depth", "3", "--init-std", "1e-2", "--lr", "0.005", "--seed", "10"], {"pi2", "pi3"}),
    (["--depth", "3", "--init-std", "2e-2", "--hidden", "20"], {"pi2", "pi3"}),
    # depth 5 from a large start: the theory said π2 rises before π1
    (["--depth", "5", "--init-std", "0.1", "--epochs", "300"], {"pi1", "pi2", "pi3"}),
])
def test_the_issues_random_starts_are_reported_outside_the_domain(tmp_path, capsys, argv,
                                                                  outside):
    """Every mode the theory misses by more than its tolerance is reported, with its numbers,
    as outside the domain, and gets no verdict; the end points are not judged either."""
    code = main(["validate", *argv, "--seeds", "1", "--backend", "numpy", "--strict",
                 "--no-figures", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert code == 0, text
    result = json.loads((tmp_path / "comparison.json").read_text())
    domain = result["theory"]["domain"]
    assert {k for k, d in domain.items() if not d["inside"]} == outside
    assert outside <= set(result["outside_domain"])
    for key in outside:
        assert f"trajectory {key}" not in result["verdicts"]
        assert f"half-rise {key}" not in result["verdicts"]
        assert result["theory"]["domain"][key]["inside"] is False
        assert result["theory"]["domain"][key]["shift"] >= DOMAIN_SHIFT
        assert f"{key}: outside the theory's domain, not judged" in text
    assert not any(k.startswith("end point") for k in result["verdicts"])
    for key, v in result["verdicts"].items():
        assert v["passed"], key


@pytest.mark.parametrize("argv, outside, judged", [
    # issue 22: the hierarchical family's finer levels late (6 %, 7.9 % at depth 2, 10 units)
    (["--dataset", "HIER", "--lr", "0.01", "--epochs", "1500", "--init-std", "5e-2",
      "--hidden", "10"], {"level1", "level2"}, {"level0"}),
    # contrastive-Hebbian from a random start: π1 off 6.6 % (trajectory 11.6 %)
    (["--rule", "contrastive-hebbian", "--lr", "0.005", "--epochs", "1500", "--init-std",
      "5e-2", "--hidden", "10"], {"pi1", "pi2", "pi3"}, set()),
    # from the default small start: half-rise times judged; π1's trajectory (17 % off, a
    # steep discrete-time rise) reported, not judged
    (["--rule", "contrastive-hebbian", "--lr", "0.005", "--epochs", "1500"], set(),
     {"pi1", "pi2", "pi3"}),
])
def test_hierarchical_and_contrastive_hebbian_random_starts_are_reported_not_judged(
        tmp_path, capsys, argv, outside, judged):
    """Depth 2: modes sharing hidden units, η = −2 ln(1 − M/h)/ln(a*/a0), and the precision
    of a rule's balanced start, c/ln(a*/a0), put the modes the theory misses outside."""
    hier = tmp_path / "h.toml"
    hier.write_text('family = "hierarchical"\nlevels = 3\nbranching = 2\nfeatures = 2\n'
                    'r = 1.5\n')
    argv = [str(hier) if a == "HIER" else a for a in argv]
    code = main(["validate", *argv, "--seeds", "2", "--backend", "numpy", "--no-figures",
                 "--out", str(tmp_path / "out")])
    text = capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "comparison.json").read_text())
    domain = result["theory"]["domain"]
    assert {k for k, d in domain.items() if not d["inside"]} == outside, text
    for key in outside:
        assert f"half-rise {key}" not in result["verdicts"]
        assert f"{key}: outside the theory's domain, not judged" in text
    for key in judged:
        assert result["verdicts"][f"half-rise {key}"]["passed"]
        if result["modes"][key]["rel"] > 0.1:
            assert f"trajectory {key}" not in result["verdicts"]
    assert code == 0 and all(v["passed"] for v in result["verdicts"].values()), text


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate], derandomize=True)
@given(depth=st.integers(2, 5), hidden=st.integers(6, 60),
       init_std=st.floats(0.005, 0.2), lr=st.floats(0.005, 0.03),
       nx=st.integers(2, 4), kx=st.integers(0, 2), ky=st.integers(0, 2),
       r=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
       name=st.sampled_from(["dense", "split", "segregated"]),
       seed=st.integers(0, 100))
@example(depth=3, hidden=20, init_std=0.02, lr=0.02, nx=3, kx=3, ky=1, r=1.0, name="dense",
         seed=0)
def test_no_configuration_gets_a_pass_the_theory_cannot_back(depth, hidden, init_std, lr, nx,
                                                             kx, ky, r, name, seed):
    """Random depths, widths, start scales and datasets (a few hundred epochs): every verdict
    is its value against its stated tolerance; a mode outside the domain has no trajectory
    or half-rise verdict; and every trajectory and half-rise judged inside it passes."""
    ds = ms.CompositionalDataset(nx=nx, ny=1, kx=kx, ky=ky, r=r)
    try:
        result = validate(ds, arch.architecture(name, depth), lr=lr, epochs=300, hidden=hidden,
                          init_std=init_std, seeds=1, seed=seed, backend="numpy")
    except ModspecError as err:                 # above the stability limit: refused
        assert "lr" in str(err)
        return
    comp = result.comparison
    for key, v in comp.verdicts.items():
        ok = v["value"] <= v["tolerance"] if v["test"] == "≤" else v["value"] > v["tolerance"]
        assert v["passed"] == ok, key
    for key, dom in result.domain.items():
        assert (f"trajectory {key}" in comp.verdicts) == dom.trajectory_inside, key
        if not dom.inside:
            assert f"half-rise {key}" not in comp.verdicts, key
        for check in (f"trajectory {key}", f"half-rise {key}"):
            if check in comp.verdicts:
                assert comp.verdicts[check]["passed"], (check, dom, comp.modes[key])
    if not all(d.inside for d in result.domain.values()):
        assert not any(k.startswith("end point") for k in comp.verdicts)
    shown = payload(result)["theory"]["domain"]
    assert shown is None or set(shown) == set(result.domain)
    assert all(np.isfinite(d.shift) for d in result.domain.values())
