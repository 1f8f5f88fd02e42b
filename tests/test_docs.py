"""The docs run as written: README.md and docs/*.md, every Python and shell block.

A fenced block may be preceded by a marker line `<!-- docs-test: KIND reason -->`:
- (none): runs in the default suite;
- `slow`: runs in the slow suite (`-m slow`);
- `network`: needs the network or a download; skipped with the reason given;
- `template`: a usage line or a recipe for other machines, not meant to be pasted;
- `manual`: runs by hand (installs the package, runs the suite, a long benchmark).
The last three must give a reason after the kind.

Python blocks each run in a clean namespace (imports included); the quick ones of all
pages share one process, to pay TensorFlow's start-up once, each in its own folder.
A page's slow blocks run in document order in one folder, so they may build on each other
(the page says so).
Shell blocks run with bash in a temporary folder, `zoo` on PATH (`python3 -m zoo.cli`).
The README's quick blocks run in one folder, in order (shell first, then Python, as the
tour reads), so following the README must not collide with itself.

`python3 tests/test_docs.py` rewrites the README's model table from `zoo.list_models()`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
DOC_PAGES = sorted((REPO_ROOT / "docs").glob("*.md"))
KINDS = ("slow", "network", "template", "manual")
RUNNABLE = ("python", "bash")
MARKER = re.compile(r"<!--\s*docs-test:\s*(\w+)\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\S*)\s*$")
TABLE_START, TABLE_END = "<!-- model-table:start -->", "<!-- model-table:end -->"


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    kind: str | None  # the docs-test marker, None when unmarked
    reason: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of `path` with the marker on the line just before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"{path}:{i + 1}: unclosed code block"
        marker = MARKER.fullmatch(lines[i - 1].strip()) if i else None
        blocks.append(Block(path, i + 1, fence.group(1) or "text",
                            marker.group(1) if marker else None,
                            marker.group(2) if marker else "",
                            "\n".join(lines[i + 1:end]) + "\n"))
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for path in [README, *DOC_PAGES] for b in parse_blocks(path)]


def runnable(kind: str | None, paths=None) -> list[Block]:
    """Python and shell blocks marked `kind` (None: unmarked), of `paths` (default all)."""
    return [b for b in all_blocks()
            if b.lang in RUNNABLE and b.kind == kind and (paths is None or b.path in paths)]


# Runs blocks inside one Python process: each in a fresh namespace and its own folder.
_PYTHON_RUNNER = textwrap.dedent("""
    import json, os, sys, traceback
    blocks, results = json.load(sys.stdin), []
    for block in blocks:
        os.makedirs(block["cwd"], exist_ok=True)
        os.chdir(block["cwd"])
        try:
            exec(compile(block["code"], block["where"], "exec"), {"__name__": "__main__"})
            results.append(None)
        except BaseException:
            results.append(traceback.format_exc()[-3000:])
        finally:
            import keras
            keras.config.set_dtype_policy("float32")
            keras.utils.clear_session()
    print("DOCS-RESULTS " + json.dumps(results))
""")


def docs_env(bin_dir: Path) -> dict:
    """Environment of the docs' processes: this checkout's packages, `zoo` on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    zoo = bin_dir / "zoo"
    zoo.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m zoo.cli "$@"\n')
    zoo.chmod(0o755)
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return {**os.environ, "ZOO_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}


def run_python_blocks(blocks: list[Block], cwd_of, env: dict, timeout: int) -> list[str]:
    """Run `blocks` in one Python process; the failures as 'where: traceback'."""
    payload = [{"code": b.code, "where": b.where, "cwd": str(cwd_of(b))} for b in blocks]
    proc = subprocess.run([sys.executable, "-c", _PYTHON_RUNNER], input=json.dumps(payload),
                          capture_output=True, text=True, env=env, timeout=timeout)
    found = [ln for ln in proc.stdout.splitlines() if ln.startswith("DOCS-RESULTS ")]
    assert found, f"the docs runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    results = json.loads(found[-1].removeprefix("DOCS-RESULTS "))
    return [f"{b.where}:\n{error}" for b, error in zip(blocks, results) if error]


def run_shell_blocks(blocks: list[Block], cwd: Path, env: dict, timeout: int) -> list[str]:
    """Run `blocks` with bash, in order, in `cwd`; stop at the first failure."""
    cwd.mkdir(parents=True, exist_ok=True)
    for block in blocks:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            return [f"{block.where} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                    f"{proc.stderr[-3000:]}"]
    return []


# --- The markers and links ---------------------------------------------------------------

def test_markers_are_known_and_stand_before_runnable_blocks():
    text_blocks = [b for b in all_blocks() if b.kind and b.lang not in RUNNABLE]
    assert not text_blocks, [b.where for b in text_blocks]
    unknown = [(b.where, b.kind) for b in all_blocks() if b.kind and b.kind not in KINDS]
    assert not unknown, f"unknown docs-test markers (known: {KINDS}): {unknown}"
    sh_blocks = [b.where for b in all_blocks() if b.lang == "sh"]
    assert not sh_blocks, f"write ```bash, not ```sh: {sh_blocks}"


def test_readme_is_short():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= 260, f"README.md has {lines} lines; move topics to docs/*.md"


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```|`[^`\n]*`", "", path.read_text(encoding="utf-8"), flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


@pytest.mark.parametrize("path", [README, *DOC_PAGES], ids=lambda p: p.name)
def test_relative_links_point_to_existing_files(path):
    missing = [t for t in relative_links(path)
               if not (path.parent / t.split("#")[0]).exists()]
    assert not missing, f"{path.name} links to missing files: {missing}"


def test_readme_links_every_docs_page():
    linked = {(README.parent / t.split("#")[0]).resolve() for t in relative_links(README)}
    unlinked = [p.name for p in DOC_PAGES if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


# --- The model table ---------------------------------------------------------------------

def model_table() -> str:
    """The README's model table, one row per registered model, from the registry."""
    import zoo

    specs = sorted((zoo.get_spec(n) for n in zoo.list_models()),
                   key=lambda s: (s.task, s.family, s.name))
    rows = ["| model | family | task | paper |", "| --- | --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.family} | {s.task} | {s.reference.replace('|', '/')} |"
             for s in specs]
    return "\n".join(rows)


def readme_model_table(text: str) -> str:
    assert TABLE_START in text and TABLE_END in text, "README.md lost its model-table markers"
    return text.split(TABLE_START)[1].split(TABLE_END)[0].strip()


def test_readme_model_table_matches_the_registry():
    assert readme_model_table(README.read_text(encoding="utf-8")) == model_table(), (
        "README's model table is stale: run `python3 tests/test_docs.py` to rewrite it")


# --- The blocks run ----------------------------------------------------------------------

def test_readme_quick_blocks_run_in_order_in_one_folder(tmp_path):
    env = docs_env(tmp_path / "bin")
    work = tmp_path / "work"
    blocks = runnable(None, [README])
    failures = run_shell_blocks([b for b in blocks if b.lang == "bash"], work, env, 600)
    failures = failures or run_python_blocks(
        [b for b in blocks if b.lang == "python"], lambda b: work, env, 600)
    assert not failures, "\n\n".join(failures)


def test_pages_quick_python_blocks_run(tmp_path):
    blocks = [b for b in runnable(None, DOC_PAGES) if b.lang == "python"]
    failures = run_python_blocks(blocks, lambda b: tmp_path / f"{b.path.stem}-{b.line}",
                                 docs_env(tmp_path / "bin"), 900)
    assert not failures, "\n\n".join(failures)


def pages_with_quick_shell_blocks() -> list[Path]:
    return sorted({b.path for b in runnable(None, DOC_PAGES) if b.lang == "bash"})


@pytest.mark.parametrize("page", pages_with_quick_shell_blocks(), ids=lambda p: p.name)
def test_pages_quick_shell_blocks_run(page, tmp_path):
    blocks = [b for b in runnable(None, [page]) if b.lang == "bash"]
    failures = run_shell_blocks(blocks, tmp_path / "work", docs_env(tmp_path / "bin"), 600)
    assert not failures, "\n\n".join(failures)


def pages_with_slow_blocks() -> list[Path]:
    return sorted({b.path for b in runnable("slow")})


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with_slow_blocks(), ids=lambda p: p.name)
def test_slow_blocks_run_in_order_in_one_folder(page, tmp_path):
    """A page's slow blocks run as one sequence, each Python block in its own process."""
    env, work = docs_env(tmp_path / "bin"), tmp_path / "work"
    for block in runnable("slow", [page]):
        if block.lang == "bash":
            failures = run_shell_blocks([block], work, env, 1800)
        else:
            failures = run_python_blocks([block], lambda b: work, env, 1800)
        assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("block", [b for kind in ("network", "template", "manual")
                                   for b in runnable(kind)], ids=lambda b: b.where)
def test_blocks_not_run_say_why_and_are_skipped_with_it(block):
    assert block.reason, f"{block.where}: a `{block.kind}` marker must give its reason"
    kinds = {"network": "needs the network or a download",
             "template": "a template, not meant to be pasted as is",
             "manual": "runs by hand"}
    pytest.skip(f"{block.where}: {kinds[block.kind]} ({block.reason})")


if __name__ == "__main__":  # rewrite the README's model table from the registry
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(TABLE_START)
    after = rest.split(TABLE_END)[1]
    README.write_text(f"{before}{TABLE_START}\n{model_table()}\n{TABLE_END}{after}",
                      encoding="utf-8")
    print(f"README.md: model table of {len(model_table().splitlines()) - 2} models written")
