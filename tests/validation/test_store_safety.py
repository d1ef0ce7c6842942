"""No file is lost and no point is stored twice (issue 25): ``sweep --out`` refuses every file
that is not a store of its grid and every symbolic link, one sweep at a time writes a store,
the loader and ``--plot`` see one row per point, figures are written atomically and never
through links, a killed driver leaves no process behind, results are keyed by the modspec
version and a tampered study part is computed again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import modspec
import modspec as ms
from modspec.theory.cache import atomic_write_bytes
from modspec.theory.errors import ModspecError
from modspec.validation.sweeps.grid import grid_points
from modspec.validation.sweeps.run import plot, sweep
from modspec.validation.sweeps.store import (
    StoreWarning,
    grid_key,
    header,
    open_store,
    read_rows,
)

THEORY = '[dataset]\nkx = [1, 2, 3]\n[run]\nlr = 0.05\nepochs = 60\ncompute = ["theory"]\n'
#: A grid that runs for a while on a pool: 64 simulated points, 8 per bundle (the first rows
#: come after 8 points, the whole grid takes 8 times as long even on a fast machine).
SLOW = ('[dataset]\nkx = [1, 2, 3, 4]\nr = [0.5, 1.0, 1.5, 2.0]\n'
        '[run]\nlr = [0.02, 0.03, 0.04, 0.05]\nepochs = 1000\nseeds = 4\nhidden = 40\n'
        'compute = ["simulate"]\n')


def grid(tmp_path: Path, text: str = THEORY) -> Path:
    path = tmp_path / "g.toml"
    path.write_text(text)
    return path


def cli(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modspec", *argv], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def store_rows(tmp_path_factory):
    """A finished store of the THEORY grid (3 points) and its lines."""
    out = tmp_path_factory.mktemp("store") / "s.jsonl"
    sweep(grid(out.parent), out, workers=0)
    return out, out.read_bytes().splitlines(keepends=True)


# ------------------------------------------------------------- what --out refuses
NOT_STORES = {
    "text": b"my thesis, chapter 3\nplease keep\n",
    "text without a newline": b"important",
    "binary": bytes(range(256)) * 8,
    "NUL bytes": b"\0" * 4096,
    "JSON lines of another tool": b'{"a": 1}\n{"a": 2}\n',
    "one JSON row without a newline": b'{"key": "k", "nx": 3}',
}


@pytest.mark.parametrize("content", NOT_STORES.values(), ids=NOT_STORES.keys())
def test_a_file_that_is_not_a_store_is_refused_in_one_line_and_left_untouched(
        tmp_path, run_cli, capsys, content):
    out = tmp_path / "important.json"
    out.write_bytes(content)
    code, stdout, err = run_cli(capsys, "sweep", str(grid(tmp_path)), "--out", str(out),
                                "--workers", "0")
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and "--out" in err and "not a modspec sweep store" in err
    assert out.read_bytes() == content


def test_a_headerless_store_of_an_older_modspec_is_refused_not_mixed(tmp_path, run_cli,
                                                                    capsys, store_rows):
    out = tmp_path / "old.jsonl"
    out.write_bytes(b"".join(store_rows[1][1:]))        # the rows without the header
    before = out.read_bytes()
    code, _, err = run_cli(capsys, "sweep", str(grid(tmp_path)), "--out", str(out),
                           "--workers", "0")
    assert code == 2 and err.count("\n") == 1 and "without a header" in err
    assert out.read_bytes() == before
    assert len(read_rows(out)) == 3                     # still readable


def test_a_store_of_another_grid_key_is_refused(tmp_path, store_rows):
    out = tmp_path / "other.jsonl"
    out.write_bytes(json.dumps(header("0" * 64)).encode() + b"\n" + b"".join(store_rows[1][1:]))
    before = out.read_bytes()
    with pytest.raises(ModspecError, match="another grid or modspec version"):
        sweep(grid(tmp_path), out, workers=0)
    assert out.read_bytes() == before


@pytest.mark.parametrize("target", ["a file", "a store", "nothing"])
def test_a_store_path_that_is_a_symbolic_link_is_refused(tmp_path, run_cli, capsys,
                                                         store_rows, target):
    victim = tmp_path / "victim.json"
    if target == "a file":
        victim.write_text("keep me\n")
    elif target == "a store":
        victim.write_bytes(store_rows[0].read_bytes())
    link = tmp_path / "link.jsonl"
    link.symlink_to(victim)
    before = victim.read_bytes() if victim.exists() else None
    code, _, err = run_cli(capsys, "sweep", str(grid(tmp_path)), "--out", str(link),
                           "--workers", "0")
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err
    assert (victim.read_bytes() if victim.exists() else None) == before
    assert link.is_symlink()
    with pytest.raises(ModspecError, match="symbolic link"):    # the library, too
        open_store(link)
    assert (victim.read_bytes() if victim.exists() else None) == before


@pytest.mark.parametrize("cut", [0, 1, 20, -1])
def test_an_empty_file_or_a_header_cut_short_becomes_a_store_with_its_header(tmp_path, cut):
    line = json.dumps(header(grid_key())).encode() + b"\n"
    out = tmp_path / "s.jsonl"
    out.write_bytes(line[:cut])
    with open_store(out) as store:
        assert store.done == set()
    assert out.read_bytes() == line


def test_special_files_are_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ModspecError, match="not a regular file"):
        open_store(fifo)


# ------------------------------------------------------------------ one writer
def test_a_second_writer_is_refused_in_one_line_while_the_store_is_locked(tmp_path,
                                                                        store_rows):
    out = tmp_path / "s.jsonl"
    out.write_bytes(store_rows[0].read_bytes())
    before = out.read_bytes()
    with open_store(out):                       # the first writer holds the store
        result = cli("sweep", str(grid(tmp_path)), "--out", str(out), "--workers", "0")
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "another sweep" in result.stderr
    assert out.read_bytes() == before


def test_two_concurrent_sweeps_store_one_row_per_point(tmp_path):
    """Two real drivers on one store at once: one writes, the other is refused (or, when it
    comes after the first is done, finds every point stored); never a row twice."""
    out = tmp_path / "s.jsonl"
    command = [sys.executable, "-m", "modspec", "sweep", str(grid(tmp_path)), "--out",
               str(out), "--workers", "0"]
    procs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert sorted(code for code, _ in results)[0] == 0, results
    for code, err in results:
        assert code == 0 or (code == 2 and "another sweep" in err), (code, err)
    lines = out.read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines[1:]]
    assert len(keys) == len(set(keys)) == 3
    assert json.loads(lines[0]) == header(grid_key())


def test_duplicate_rows_of_an_old_store_are_read_and_drawn_once(tmp_path, run_cli, capsys,
                                                              store_rows):
    import pandas as pd

    path, lines = store_rows
    out = tmp_path / "dup.jsonl"
    out.write_bytes(b"".join([*lines, *lines[1:], lines[2]]))    # every row twice or more
    with pytest.warns(StoreWarning, match="4 duplicate"):
        rows = read_rows(out)
    assert [r["key"] for r in rows] == [r["key"] for r in read_rows(path)]
    with pytest.warns(StoreWarning):
        df = ms.load_sweep(out)
    assert len(df) == 3 and df["key"].is_unique
    with pytest.warns(StoreWarning, match="drawn once"):
        fig = plot(pd.concat([df, df]), "kx", "Gx->Oy")     # a DataFrame with duplicates
    (line,) = fig.axes[0].lines
    assert len(line.get_xdata()) == 3
    code, _, err = run_cli(capsys, "sweep", str(grid(tmp_path)), "--out", str(out),
                           "--workers", "0", "--plot", str(tmp_path / "p.png"), "--x", "kx",
                           "--value", "Gx->Oy")
    assert code == 0 and "warning: STORE" in err and "duplicate" in err
    assert "Traceback" not in err and "StoreWarning" not in err


# ------------------------------------------------- atomic writes, never via links
def test_atomic_writes_replace_a_link_and_never_write_its_target(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "out.bin"
    link.symlink_to(victim)
    atomic_write_bytes(link, b"\0new")
    assert victim.read_bytes() == b"keep"
    assert not link.is_symlink() and link.read_bytes() == b"\0new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "victim"]


def test_figures_of_validate_plot_and_reproduce_never_write_through_links(tmp_path,
                                                                         store_rows):
    from modspec.validation.figures import modes_figure
    from modspec.validation.study.run import run_study

    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")

    def link(name: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(victim)
        return path

    run = ms.simulate(ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1),
                      ms.architectures.architecture("dense"), lr=0.05, epochs=20)
    modes_figure(None, run, str(link("modes.png")))
    plot(store_rows[0], "kx", "Gx->Oy", out=link("sweep.pdf"))
    study = tmp_path / "study"
    for name in ("spectrum_d0.png", "spectrum_d0.pdf", "results.json", "report.md",
                 "parts/spectrum.json"):
        link(f"study/{name}")
    run_study(study, quiet=True, parts=["spectrum"])
    assert victim.read_bytes() == b"keep"
    written = [tmp_path / "modes.png", tmp_path / "sweep.pdf",
               *(study / n for n in ("spectrum_d0.png", "spectrum_d0.pdf", "results.json"))]
    for path in written:
        assert not path.is_symlink() and path.stat().st_size > 100, path
    assert (tmp_path / "modes.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "sweep.pdf").read_bytes().startswith(b"%PDF")
    assert not [p for p in tmp_path.rglob(".*.tmp")]


# ------------------------------------------------------ a killed driver's children
def _children(pid: int) -> set[int]:
    """Every process whose parent is ``pid`` (Linux /proc)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that does not reap is not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_driver_leaves_no_pool_worker_or_resource_tracker(tmp_path):
    out = tmp_path / "s.jsonl"
    driver = subprocess.Popen([sys.executable, "-m", "modspec", "sweep",
                               str(grid(tmp_path, SLOW)), "--out", str(out),
                               "--workers", "2"], stderr=subprocess.DEVNULL)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and driver.poll() is None:
            children |= _children(driver.pid)
            if len(children) >= 3 and out.exists() and len(out.read_bytes().splitlines()) > 1:
                break                           # two workers, the tracker, a row stored
            time.sleep(0.05)
        children |= _children(driver.pid)
        assert driver.poll() is None, "the sweep finished before it could be killed"
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        assert len(children) >= 3, children
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(p) for p in children):
            time.sleep(0.1)
        assert not [p for p in children if _alive(p)]
    finally:
        driver.kill()
        driver.wait(timeout=30)
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# -------------------------------------------------------- keyed by the version
def test_an_upgrade_computes_again_rather_than_reusing_rows(tmp_path, monkeypatch,
                                                            store_rows):
    (point, *_) = grid_points({"dataset": {"kx": [1, 2, 3]},
                               "run": {"lr": 0.05, "epochs": 60, "compute": ["theory"]}})
    key, store_grid = point.key, grid_key()
    assert key in {r["key"] for r in read_rows(store_rows[0])}
    out = tmp_path / "s.jsonl"
    out.write_bytes(store_rows[0].read_bytes())
    monkeypatch.setattr(modspec._version, "__version__", "99.0.0")
    assert point.key != key and grid_key() != store_grid
    with pytest.raises(ModspecError, match="another grid or modspec version"):
        sweep(grid(tmp_path), out, workers=0)
    assert out.read_bytes() == store_rows[0].read_bytes()


def test_study_parts_are_keyed_by_the_version_and_checksummed(tmp_path, monkeypatch):
    from modspec.validation import study

    study.run_study(tmp_path, quiet=True, parts=["spectrum"])
    path = tmp_path / "parts" / "spectrum.json"
    saved = json.loads(path.read_text())
    assert len(saved["sha256"]) == 64 and saved["part"]["claims"]
    calls = []
    original = study.PARTS["spectrum"]
    monkeypatch.setitem(study.PARTS, "spectrum", lambda ctx: calls.append(1) or original(ctx))

    # a tampered part: same key, every verdict flipped and the numbers changed
    tampered = json.loads(path.read_text())
    for claim in tampered["part"]["claims"]:
        claim["passed"] = not claim["passed"]
    path.write_text(json.dumps(tampered))
    (part,) = study.run_study(tmp_path, quiet=True, parts=["spectrum"])
    assert calls == [1] and all(c.passed for c in part.claims)
    report = json.loads((tmp_path / "results.json").read_text())
    assert all(c["passed"] for c in report["claims"])
    assert json.loads(path.read_text())["sha256"] == saved["sha256"]

    study.run_study(tmp_path, quiet=True, parts=["spectrum"])    # intact: reused
    assert calls == [1]
    with monkeypatch.context() as m:
        m.setattr(modspec._version, "__version__", "99.0.0")
        study.run_study(tmp_path, quiet=True, parts=["spectrum"])
    assert calls == [1, 1]


def test_part_checksum_changes_with_every_field():
    from modspec.validation.study.run import part_checksum

    base = part_checksum("k", {}, {"claims": [{"passed": True}]})
    assert len({base, part_checksum("k2", {}, {"claims": [{"passed": True}]}),
                part_checksum("k", {"rules": ["x"]}, {"claims": [{"passed": True}]}),
                part_checksum("k", {}, {"claims": [{"passed": False}]})}) == 4
    assert base == part_checksum("k", {}, {"claims": [{"passed": True}]})
