"""Every example in every --help and in the README runs as typed.

They run in a scratch directory that looks like a fresh clone after `make
demo`: a copy of run/ (without checkpoints, which git does not hold) and the
repository's pipelines/, tests/, bench/ and examples/ beside it, so what they
write (figures, reports, new runs) stays there. A diagnose example may exit 1
(it is there to show a failed run); every other one exits 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _commands(lines) -> list[str]:
    """Commands starting with histkit or torchrun, continuation lines joined."""
    out, current = [], None
    for raw in lines:
        line = raw.strip()
        if current is not None:
            current += " " + line
        elif re.match(r"^(histkit|torchrun) ", line):
            current = line
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            out.append(re.sub(r"\s+#\s.*$", "", current))  # a trailing comment
            current = None
    return out


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [c for b in blocks for c in _commands(b.splitlines())]


def help_examples() -> list[str]:
    from click.testing import CliRunner

    from histkit.cli import main

    found = []
    runner = CliRunner()
    for args in ([], *([c] for c in main.list_commands(None))):
        text = runner.invoke(main, [*args, "--help"]).output
        found += _commands(text.split("Examples", 1)[1].splitlines() if "Examples" in text
                           else [])
    return found


EXAMPLES = sorted(set(readme_examples()) | set(help_examples()))


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("clone")
    shutil.copytree(ROOT / "run", where / "run", ignore=shutil.ignore_patterns("*.ckpt"))
    for name in ("pipelines", "tests", "bench", "examples"):
        (where / name).symlink_to(ROOT / name)
    return where


def test_examples_are_found():
    assert len(EXAMPLES) >= 30
    commands = {e.split()[1] if e.startswith("histkit") else "torchrun" for e in EXAMPLES}
    assert {"plot", "stops", "runs", "diagnose", "report", "pipeline", "train", "compare",
            "torchrun"} <= commands


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_as_typed(clone, example):
    if "--precision bf16" in example:
        torch = pytest.importorskip("torch")
        from histkit.train.precision import native_bf16

        if not native_bf16(torch.device("cpu")):
            pytest.skip("this CPU has no native bfloat16 (the example says it needs one)")
    if example.startswith(("histkit train", "torchrun")):
        pytest.importorskip("torch")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "OMP_NUM_THREADS": "1"}
    res = subprocess.run(["bash", "-c", example], cwd=clone, capture_output=True, text=True,
                         env=env, stdin=subprocess.DEVNULL, timeout=600)
    allowed = (0, 1) if example.startswith("histkit diagnose") else (0,)
    assert res.returncode in allowed, f"{example}\n{res.stderr[-2000:]}"
    assert "Traceback" not in res.stderr
