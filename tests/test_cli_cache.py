"""The command line and the on-disk cache: tampered answers are regenerated, a cache folder
others can write is one line and exit 2, and ``--no-cache`` touches nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from modspec.theory import cache


def test_a_tampered_derive_answer_is_regenerated_not_printed(run_cli, capsys, tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    cold = run_cli(capsys, "derive", "--arch", "shallow")
    assert cold[0] == 0 and "systematic" in cold[1]
    (entry,) = [p for p in (tmp_path / "derive").iterdir()
                if isinstance(json.loads(p.read_text())["value"], str)]
    stored = json.loads(entry.read_text())
    entry.write_text(json.dumps(stored | {"value": "systematic: True  (forged)"}))
    assert run_cli(capsys, "derive", "--arch", "shallow") == cold
    assert json.loads(entry.read_text()) == stored                 # overwritten


def test_derive_refuses_a_cache_folder_others_can_write_in_one_line(run_cli, capsys, tmp_path,
                                                                    monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv(cache.ENV, str(shared))
    code, out, err = run_cli(capsys, "derive", "--arch", "shallow")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(shared) in err and "chmod go-w" in err
    assert list(shared.iterdir()) == []


def test_derive_no_cache_neither_reads_nor_writes_any_cache_entry(tmp_path):
    """An instrumented cache folder: an audit hook records every open, mkdir, rename or
    listing under it, and the folder is world-writable, so any use of it would also be
    refused. ``--no-cache`` runs derivations that use every inner cache (closed forms and
    antiderivatives at depth 3, generated code for the coupled leaky network)."""
    folder = tmp_path / "instrumented"
    folder.mkdir()
    folder.chmod(0o777)
    script = textwrap.dedent("""
        import json, sys
        folder = sys.argv[1]
        events = []
        def hook(event, args):
            if (event in ("open", "os.mkdir", "os.rename", "os.remove", "os.listdir",
                          "os.scandir", "os.chmod") and args
                    and str(args[0]).startswith(folder)):
                events.append([event, str(args[0])])
        sys.addaudithook(hook)
        from modspec.cli import main
        off = [main(["derive", "--no-cache", "--depth", "3"]),
               main(["derive", "--no-cache", "--arch", "leaky"])]
        seen_off = list(events)
        on = main(["derive", "--depth", "3"])          # control: the hook sees cache use
        print(json.dumps({"off": off, "seen_off": seen_off, "on": on,
                          "seen_on": len(events) - len(seen_off)}), file=sys.stderr)
    """)
    env = {**os.environ, cache.ENV: str(folder)}
    proc = subprocess.run([sys.executable, "-c", script, str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert result["off"] == [0, 0] and result["seen_off"] == []
    assert result["on"] == 2 and result["seen_on"] >= 1
    assert "chmod go-w" in proc.stderr
    assert list(folder.iterdir()) == [] and (folder.stat().st_mode & 0o777) == 0o777
