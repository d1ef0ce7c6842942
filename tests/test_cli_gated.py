"""``modspec derive --network``: a gated network's race report, and its one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from gated_cases import FAILING, FAILING_DATA, SHALLOW_DEEP, SHALLOW_DEEP_DATA, write_case

from modspec.cli import main


@pytest.fixture()
def files(tmp_path):
    net, _, data = write_case(tmp_path, SHALLOW_DEEP, SHALLOW_DEEP_DATA)
    return net, data


def test_the_report_names_the_winner_and_both_fixed_points(files, capsys):
    net, data = files
    assert main(["derive", "--network", net, "--dataset", data, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["basis_condition"]["holds"]
    (mode,) = report["modes"]
    assert mode["winner"] == mode["winner_flow"] == "V"    # the shallow pathway rises first
    assert mode["half_rise_flow"]["V"] < mode["half_rise_flow"]["W1.W2"]
    assert mode["solution_flow"] == "integrated"
    for key in ("fixed_point_flow", "fixed_point_gradient_descent"):
        b = mode[key]["strengths"]
        assert b["V"] + b["W1"] * b["W2"] == pytest.approx(2.0, rel=1e-9)
    assert mode["conserved"] == ["-b[W1]**2 + b[W2]**2"] or \
        mode["conserved"] == ["b[W1]**2 - b[W2]**2"]
    # each pathway's error on its own: (2 − its strength)²; the shallow one took nearly all
    b = mode["fixed_point_gradient_descent"]["strengths"]
    errors = report["pathway_errors"]
    assert errors["V"] == pytest.approx((2 - b["V"]) ** 2, rel=1e-6)
    assert errors["W1.W2"] == pytest.approx((2 - b["W1"] * b["W2"]) ** 2, rel=1e-6)
    assert errors["V"] < 1e-6 < errors["W1.W2"]
    assert main(["derive", "--network", net, "--dataset", data]) == 0
    text = capsys.readouterr().out
    assert "race reduction holds" in text
    assert "first to half-rise: V (gradient descent), V (gradient flow)" in text


@pytest.mark.parametrize("args,message", [
    ([], "--network needs --dataset"),
    (["--standalone"], "--standalone=True is invalid: needs --format latex"),
])
def test_bad_use_is_one_line_and_status_2(files, capsys, args, message):
    net, data = files
    extra = ["--dataset", data] if args else []
    assert main(["derive", "--network", net, *extra, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_a_bad_network_file_is_one_line(tmp_path, capsys, files):
    _, data = files
    bad = tmp_path / "bad.toml"
    bad.write_text("[layers]\nx = 0\ny = 1\n[edges]\nW = ['x', 'y']\n")
    assert main(["derive", "--network", str(bad), "--dataset", data]) == 2
    err = capsys.readouterr().err.strip()
    assert "layer x size=0 is invalid" in err and "\n" not in err


def test_where_the_basis_condition_fails_the_report_says_so_and_gives_the_matrix_flow(
        tmp_path, capsys):
    net, _, data = write_case(tmp_path, FAILING, FAILING_DATA)
    assert main(["derive", "--network", str(net), "--dataset", str(data),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cond = report["basis_condition"]
    assert not cond["holds"] and "no shared basis" in cond["reason"]
    assert "\n" not in cond["reason"]
    assert set(report["matrix_flow"]) == {"A", "W1", "W2"} and "modes" not in report
    assert main(["derive", "--network", str(net), "--dataset", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "no shared basis" in lines[1] and lines[2].startswith("τ dA/dt = ")


def test_derive_prints_how_a_shared_mode_is_solved_or_why_it_is_integrated(tmp_path, capsys):
    from gated_cases import ROUTING_SMALL, ROUTING_SMALL_DATA

    small = write_case(tmp_path, ROUTING_SMALL + "[training]\nlr = 0.02\nstart = 0.1\n",
                       ROUTING_SMALL_DATA)
    assert main(["derive", "--network", *small, "--format", "json"]) == 0
    for mode in json.loads(capsys.readouterr().out)["modes"]:
        red = mode["reduction"]
        assert sorted(map(len, red["orbits"])) == [1, 6]     # i0..o2 alike; hg alone
        assert red["method"] == mode["solution_flow"] == "implicit t(a)" and red["why"] == ""
        one = red["one_variable"]
        assert one["variable"] == "u[hg]" and one["solution_is"] == "t"
        assert one["relations"]["u[i0]"]["latex"].startswith(r"\sqrt{")
        assert r"u_{\mathrm{hg}}^{2}" in one["relations"]["u[i0]"]["latex"]
        assert "atan" in one["solution"]["text"] or "log" in one["solution"]["text"]
    assert main(["derive", "--network", *small]) == 0
    assert "gradient flow (implicit t(a)): tau*du[hg]/dt = " in capsys.readouterr().out
    assert main(["derive", "--network", *small, "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert latex.count(r"\begin{align*}") == latex.count(r"\end{align*}") == 2
    assert latex.count("{") == latex.count("}")
    assert r"\tau \frac{d}{d t} u_{\mathrm{hg}} &= " in latex and "\nt &= " in latex
    net, _, data = write_case(tmp_path, SHALLOW_DEEP, SHALLOW_DEEP_DATA)
    assert main(["derive", "--network", net, "--dataset", data]) == 0
    text = capsys.readouterr().out
    assert "alike edges: W1 = W2" in text
    assert "gradient flow integrated: 2 variables remain" in text
    assert "no conserved quantity involves V" in text
    assert main(["derive", "--network", net, "--dataset", data, "--format", "latex"]) == 0
    assert r"&\text{gradient flow integrated: 2 variables remain" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine: "
                    "LaTeX compile test skipped (install texlive-latex-base, as .ci/run does)")
def test_derive_network_latex_standalone_compiles_with_pdflatex(tmp_path, capsys):
    from gated_cases import ROUTING_SMALL, ROUTING_SMALL_DATA

    small = write_case(tmp_path, ROUTING_SMALL + "[training]\nlr = 0.02\nstart = 0.1\n",
                       ROUTING_SMALL_DATA)
    assert main(["derive", "--network", *small, "--format", "latex", "--standalone"]) == 0
    (tmp_path / "gated.tex").write_text(capsys.readouterr().out)
    proc = subprocess.run([shutil.which("pdflatex"), "-interaction=nonstopmode",
                           "-halt-on-error", "gated.tex"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "gated.pdf").stat().st_size > 1000
