"""The repository needs nothing beside it: no test, fixture loader, benchmark or script may refer
to a path outside the repository root.

A fresh ``git clone`` into an empty folder once failed 65 tests because fixtures were read from
the folder beside the checkout. This test reads every tracked source file and fails on any
path that climbs out of the root: a ``..`` component in a string, a ``Path(__file__)``
climbing past the root with ``.parent`` or ``.parents[n]``, or the old location of the Slack
payloads beside the checkout.
This file, whose examples are such paths, is not read; a line that holds such a string as
data (bad input for a test) says so with ``# not a path``.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL_LIKE = {".sh", ".mk", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".txt"}
PARENT_DIR = re.compile(r"(?:^|[\s\"'=:(,])\.\.(?:/|\\|$)")
ALLOW = "# not a path"
OLD_PAYLOADS = "shared" + "/slack-payloads"  # spelt in two parts: this file is data too
SIBLING = re.compile(rf"\b{OLD_PAYLOADS}\b")
UP = ".." + "/"


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout
        names = [name for name in out.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not any(part.startswith(".venv") for part in p.parts)
        ]
    this = Path(__file__).resolve()
    return [
        ROOT / name
        for name in names
        if not name.startswith("tests/fixtures/") and ROOT / name != this
    ]


def _depth(path: Path, root: Path) -> int:
    """How many `.parent` steps from this file reach the repository root."""
    return len(path.relative_to(root).parts)


def _climb(node: ast.AST) -> int | None:
    """Steps above the file for `Path(__file__)...parent...parents[n]`, else None."""
    steps = 0
    while True:
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            steps += 1
            node = node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            steps += node.slice.value + 1
            node = node.value.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in {"resolve", "absolute"}:
                return None
            node = node.func.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id != "Path" or len(node.args) != 1:
                return None
            arg = node.args[0]
            return steps if isinstance(arg, ast.Name) and arg.id == "__file__" else None
        else:
            return None


def python_escapes(path: Path, root: Path = ROOT) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if ALLOW in lines[node.lineno - 1]:
                continue
            if PARENT_DIR.search(node.value) or SIBLING.search(node.value):
                found.append(f"line {node.lineno}: string {node.value[:60]!r}")
        elif isinstance(node, ast.Attribute | ast.Subscript):
            steps = _climb(node)
            if steps is not None and steps > _depth(path, root):
                found.append(f"line {node.lineno}: Path(__file__) climbs {steps} levels")
    return found


def text_escapes(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("#") or ALLOW in line:
            continue
        if PARENT_DIR.search(line) or SIBLING.search(line):
            found.append(f"line {number}: {line.strip()[:80]}")
    return found


def escapes(path: Path) -> list[str]:
    if path.suffix == ".py":
        return python_escapes(path)
    if path.suffix in SHELL_LIKE or path.name in {"Makefile", "run"}:
        return text_escapes(path)
    return []


def test_no_source_file_refers_outside_the_repository() -> None:
    problems = {
        str(path.relative_to(ROOT)): found
        for path in tracked_files()
        if path.is_file() and (found := escapes(path))
    }
    assert problems == {}, "paths outside the repository root:\n" + "\n".join(
        f"  {name}: {hit}" for name, hits in problems.items() for hit in hits
    )


@pytest.mark.parametrize(
    "source, bad",
    [
        ('from pathlib import Path\nP = Path(__file__).resolve().parents[2] / "x"\n', True),
        ('from pathlib import Path\nP = Path(__file__).parent.parent.parent / "x"\n', True),
        (f'P = "{UP}{OLD_PAYLOADS}/events"\n', True),
        (f'P = "/srv/{OLD_PAYLOADS}/x.json"\n', True),
        ('from pathlib import Path\nP = Path(__file__).resolve().parents[1] / "x"\n', False),
        ('from pathlib import Path\nP = Path(__file__).parent / "fixtures"\n', False),
        ('URL = "https://example.org/a/b"\n', False),
        (f'BAD_INPUT = "{UP}{UP}etc/passwd"  # not a path\n', False),
    ],
)
def test_the_guard_catches_escapes(tmp_path: Path, source: str, bad: bool) -> None:
    probe = tmp_path / "tests" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source, encoding="utf-8")
    assert bool(python_escapes(probe, root=tmp_path)) is bad


def test_the_guard_reads_shell_and_make_files(tmp_path: Path) -> None:
    probe = tmp_path / "install.sh"
    probe.write_text(f'cp "{UP}x" .\n# {UP}in a comment is fine\n', encoding="utf-8")
    assert text_escapes(probe) == [f'line 1: cp "{UP}x" .']
