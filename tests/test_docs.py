"""Every command and Python example in README and docs/*.md runs, as written, so that none can drift from the code.

Python blocks run in order in one namespace per document, in a scratch folder; ``qcoord`` lines of bash blocks run
there after the page's Python blocks, in this process through ``main([...])`` (a line the shell must read, in a
shell). Long runs are shortened (rounds to a few thousand, a scan to three tickers): the example's options and code
paths are unchanged, only its size. A file an example names is shipped or written by an example before it, as a
reader would run them (checked). A command that cannot run on a test machine is listed in ``NOT_RUN`` with the
reason.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import qcoord

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = {
    "--scheduler tcp://scheduler-host:8786": "an example address of a cluster of the reader's own",
}


def blocks(path: Path, lang: str) -> list[tuple[int, str]]:
    """(line, code) of every fenced block of ``lang`` in a markdown file."""
    text = path.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in re.finditer(rf"```{lang}\n(.*?)```", text, re.S)]


def commands(path: Path) -> list[tuple[int, str]]:
    """``qcoord`` command lines of the bash blocks (continuations joined, comments dropped)."""
    out = []
    for line, code in blocks(path, "bash"):
        for cmd in re.sub(r"\\\n\s*", " ", code).splitlines():
            cmd = re.sub(r"\s+#.*$", "", cmd).strip()
            if cmd.startswith("qcoord "):
                out.append((line, cmd))
    return out


def shortened_command(cmd: str) -> str:
    cmd = re.sub(r"--rounds \d+", "--rounds 5000", cmd)
    synthetic = not any(k in cmd for k in ("--sample", "--csv", "--yahoo", "--config"))
    if cmd.startswith(("qcoord backtest", "qcoord sweep")) and synthetic and "--rounds" not in cmd:
        cmd += " --rounds 5000"
    if cmd.startswith("qcoord balance"):  # the same paths on fewer pairs, levels and frontier points
        for flag, small in (
            ("--pairs", "20000"),
            ("--frontier-pairs", "20000"),
            ("--levels", "2,4,8"),
            ("--frontier-points", "3"),
        ):
            cmd = re.sub(rf"{flag} \S+", "", cmd) + f" {flag} {small}"
    if cmd.startswith("qcoord scan") and "--sample pypfopt" in cmd and "--tickers" not in cmd:
        cmd += " --tickers JPM BAC GM --workers 0"
    return cmd


def shortened_python(code: str) -> str:
    code = re.sub(r"rounds=\d[\d_]*", "rounds=20_000", code)
    code = re.sub(
        r"run_balance\(pairs=\d[\d_]*", "run_balance(pairs=20_000, frontier_pairs=20_000, levels=(2, 4, 8)", code
    )
    return re.sub(r'"rounds": \d[\d_]*', '"rounds": 20_000', code)


def _materials(folder: Path) -> None:
    """What the examples cannot make themselves: a user's module of indicators (README: "mymodule:momentum_split",
    "mymodule:direction"), the functions the pages define. Every data file an example names is shipped or written
    by an example before it (``test_examples_name_only_files_that_are_shipped_or_made_first``)."""
    defs = ["import numpy as np"]
    for path in DOCS:
        for _, code in blocks(path, "python"):
            tree = ast.parse(code)
            funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            for node in tree.body:
                attrs = isinstance(node, ast.Assign) and all(
                    isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id in funcs
                    for t in node.targets
                    for e in (t.elts if isinstance(t, ast.Tuple) else [t])
                )
                if isinstance(node, ast.FunctionDef) or attrs:
                    defs.append(ast.get_source_segment(code, node))
    (folder / "mymodule.py").write_text("\n\n".join(defs) + "\n")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    _materials(folder)
    return folder


def _ids(items):
    return [f"{p.name}:{line}" for p, line, _ in items]


PYTHON = [(p, line, code) for p in DOCS for line, code in blocks(p, "python")]
COMMANDS = [(p, line, cmd) for p in DOCS for line, cmd in commands(p)]


_RAN: set[tuple[str, str]] = set()  # (scratch folder, page) whose Python examples ran in this process


def _run_python_examples(doc: Path, scratch: Path, monkeypatch) -> None:
    monkeypatch.chdir(scratch)
    monkeypatch.syspath_prepend(str(scratch))
    namespace: dict = {"__name__": "__docs__"}
    for line, code in blocks(doc, "python"):
        try:
            exec(compile(shortened_python(code), f"{doc.name}:{line}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # noqa: BLE001 - the example's line is the useful part of the report
            pytest.fail(f"{doc.name} line {line}: {type(exc).__name__}: {exc}")
    _RAN.add((str(scratch), doc.name))


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_python_examples_run(doc, scratch, monkeypatch):
    _run_python_examples(doc, scratch, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("doc, line, cmd", COMMANDS, ids=_ids(COMMANDS))
def test_commands_run(doc, line, cmd, scratch, monkeypatch):
    skip = next((why for key, why in NOT_RUN.items() if key in cmd), None)
    if skip:
        pytest.skip(f"{doc.name} line {line} is not run: {skip}")
    if (str(scratch), doc.name) not in _RAN:  # a reader runs the page's Python first; pytest-xdist may have run it
        _run_python_examples(doc, scratch, monkeypatch)  # in another worker, whose scratch folder this is not
    short = shortened_command(cmd)
    words = shlex.split(short)
    if words[0] == "qcoord" and not set(words) & {"|", "&&", ";", ">", "<"}:
        # in this process (main([...])): the program's own start-up is tested once per command elsewhere
        # (qcoord_process), and an interpreter with qiskit per example cost a minute of the suite
        res = qcoord(*words[1:], cwd=scratch, timeout=900)
    else:  # anything the shell must read runs in a shell
        res = subprocess.run(short, shell=True, cwd=scratch, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"{doc.name} line {line}: {cmd}\n{res.stderr[-2000:]}"


def test_the_runner_finds_the_examples():
    """The extraction itself: the pages' blocks are found, continuation lines joined, comments dropped."""
    found = [cmd for p, _, cmd in COMMANDS if p.name == "game.md"]
    assert "qcoord game --chained 3" in found
    assert any(c.startswith("qcoord game --p-xy 0.4,0.1,0.1,0.4") and c.endswith("--seed 1 --json") for c in found)
    assert len([1 for p, _, _ in PYTHON if p.name == "README.md"]) >= 1
    assert len([1 for p, _, _ in PYTHON if p.name == "backtest.md"]) >= 4
    assert {p.name for p in DOCS} >= {
        "README.md",
        "game.md",
        "data.md",
        "backtest.md",
        "fills.md",
        "statistics.md",
        "cli.md",
        "scan.md",
        "api.md",
        "architecture.md",
    }
    assert (
        shortened_command("qcoord sweep loss=0,0.1 --rounds 100000 --out d")
        == "qcoord sweep loss=0,0.1 --rounds 5000 --out d"
    )


FILE = re.compile(r"(?<![\w{])([\w.-]+(?:/[\w.{}-]+)*\.(?:csv|toml|json|parquet|txt)|[\w-]+/)(?=[\s\"')\],]|$)")
MADE_BY_PYTHON = re.compile(r"""(?:Path\(f?"([^"]+)"\)\.(?:write_text|mkdir)|to_csv\(f?"([^"]+)")""")


def _named(text: str) -> set[str]:
    """File and folder names in an example (a folder ends with '/'); strings in f-string braces are left out."""
    return {m for m in FILE.findall(text) if not m.startswith(("http", "tcp"))}


def test_examples_name_only_files_that_are_shipped_or_made_first():
    """A new user running the pages' examples in order never meets a file they do not have: each file or folder an
    example reads is in the repository (data/samples), or written by an earlier example of the same page (a Python
    block's write_text/to_csv/mkdir, or a command's --out)."""
    shipped = {p.name for p in (ROOT / "data" / "samples").iterdir()}
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        steps = sorted(
            [(m.start(), "python", m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]
            + [(m.start(), "bash", m.group(1)) for m in re.finditer(r"```bash\n(.*?)```", text, re.S)]
        )
        made: set[str] = set()
        for _, kind, code in steps:
            lines = [c for c in code.splitlines() if kind == "python" or c.strip().startswith("qcoord ")]
            for line in lines:
                code_part = re.sub(r"\s#.*$", "", line)  # a comment names no file the example reads
                outs = set(re.findall(r"--out(?:=|\s+)(\S+)", code_part)) | set(
                    re.findall(r"--name\s+(\S+)", code_part)
                )
                written = {a or b for a, b in MADE_BY_PYTHON.findall(code_part)}
                for name in _named(code_part) - outs - written:
                    base = name.split("{")[0]
                    ok = (
                        name in shipped
                        or any(name == m or name.startswith(m.rstrip("/") + "/") or base == m for m in made)
                        or name.startswith("runs/")
                    )
                    if not ok:
                        missing.append(f"{doc.name}: {name} in {line.strip()[:70]}")
                made |= {o.rstrip("/") + ("/" if o.endswith("/") else "") for o in outs} | written
                made |= {w.split("{")[0] for w in written}
    assert not missing, missing
