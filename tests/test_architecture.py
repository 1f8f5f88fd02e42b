"""The architecture rules of issue 13, as tests.

- The import contracts in pyproject.toml (`lint-imports`): architecture modules
  import nothing from the data, tuning, runtime, task or app layers; pipelines
  imports nothing from zoo or tuning; app -> tuning -> runtime -> tasks ->
  models -> registry/layers/_common, never upwards.
- No module-level import cycle, and no function over 80 lines.
- Each model name is written once, as a plainly decorated `def`, with at most 9
  arguments (grouped arguments count once).
- One of each helper: `zoo._common` (argument checks, the atomic write) loads
  no TensorFlow; the atomic write removes what killed writers left behind.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from conftest import zoo_env
from zoo._common import atomic_path, pid_alive, temporary_path, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "pipelines", "tuning")
MAX_FUNCTION_LINES = 80


def test_the_import_contracts_hold():
    lint_imports = shutil.which("lint-imports") or pytest.fail("import-linter is not installed")
    proc = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, env=zoo_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in proc.stdout


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(), filename=str(path))


def _module_level_import_lines(tree: ast.Module) -> set[int]:
    """Lines of the imports a module runs when it is imported (not inside a function)."""
    lines, pending = set(), list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.add(node.lineno)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ClassDef):
            pending.extend(node.body)
    return lines


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (the import cycles)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def module_level_cycles() -> list[list[str]]:
    """The import cycles among zoo, pipelines and tuning, counting only module-level
    imports (grimp's graph, filtered by line)."""
    import grimp

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    top_lines = {_module_name(path): _module_level_import_lines(tree)
                 for path, tree in _sources()}
    edges: dict[str, set[str]] = {}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            details = graph.get_import_details(importer=importer, imported=imported)
            if any(d["line_number"] in top_lines.get(importer, ()) for d in details):
                edges.setdefault(importer, set()).add(imported)
    return _strongly_connected(edges)


def test_no_module_level_import_cycle():
    assert module_level_cycles() == []


def test_no_import_cycle_even_through_function_local_imports():
    import grimp

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert _strongly_connected(edges) == []


def long_functions() -> list[tuple[int, str]]:
    """(lines, "path:line name") of every function over MAX_FUNCTION_LINES lines."""
    found = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append((lines, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


def test_no_function_is_over_80_lines():
    assert long_functions() == []


def test_every_model_name_is_written_once_as_a_decorated_def():
    """`grep "def resnet50"` finds each builder: no factory sets a name by hand."""
    for name in zoo.list_models():
        builder = inspect.unwrap(zoo.get_spec(name).builder)  # a builder with groups is wrapped
        assert builder.__code__.co_name == name, (name, builder.__code__.co_name)
        source = inspect.getsource(sys.modules[builder.__module__])
        assert f"\ndef {name}(" in source, name


# The Keras applications signature (input_shape, classes, include_top, pooling,
# classifier_activation, weights, name), dropout_rate, and one family argument or
# group (a dataclass: `zoo.registry.flat_defaults`).
MAX_BUILDER_ARGUMENTS = 9


def test_no_builder_takes_more_than_9_arguments():
    counts = {name: len(inspect.signature(inspect.unwrap(zoo.get_spec(name).builder)).parameters)
              for name in zoo.list_models()}
    assert {n: c for n, c in counts.items() if c > MAX_BUILDER_ARGUMENTS} == {}


# (count_params, number of layers, sha256 of the layer names) of builders whose arguments
# were grouped into a dataclass (issue 13), recorded before the change, built through
# `zoo.build` with flat arguments as before.
REGROUPED = [
    ("convnet", {}, (421642, 8, "4afe09ff2548b7a1")),
    ("convnet", dict(blocks=2, filters=8, padding="valid", kernel_size=5,
                     block_pooling="average", dense_units=16), (7706, 8, "4afe09ff2548b7a1")),
    ("mlp", {}, (26122, 7, "355332881db1999a")),
    ("mlp", dict(depth=3, width=16, activation="tanh", batch_norm=True, dropout_rate=0.1),
     (1898, 15, "dba2e6f375e60fed")),
    ("rnn_classifier", {}, (18948, 3, "b3ec9be34c511b01")),
    ("rnn_classifier", dict(cell="gru", layers=2, bidirectional=True, dropout_rate=0.1, units=8),
     (2180, 6, "8c3fbb5f702c1400")),
    ("rnn_regressor", dict(cell="simple", layers=2), (12609, 4, "9f5881f9ad4c32c8")),
    ("resnet_cifar", dict(depth=8, shortcut="B", width=2), (305530, 33, "b1817133fb6e37db")),
]


@pytest.mark.parametrize("name, args, expected", REGROUPED)
def test_regrouped_builders_build_the_same_models_from_flat_arguments(name, args, expected):
    model = zoo.build(name, **args)
    names = [layer.name for layer in model.layers]
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    assert (model.count_params(), len(names), digest) == expected


# (count_params, number of layers, sha256 of the layer names) of each builder that
# was made by a factory before issue 13, recorded from that code at the specs' test_args.
BEFORE = {
    "resnet18": (11703912, 71, "acceef1f1ebab875"),
    "resnet34": (21823208, 127, "81520b6241a513b5"),
    "resnet50": (25636712, 177, "96691f8a1e323cb5"),
    "resnet101": (44707176, 347, "7ca702c13754b478"),
    "resnet152": (60419944, 517, "452721d3be4ed201"),
    "resnet20": (271098, 71, "7652fa49f4e7ca0d"),
    "resnet32": (466426, 113, "8f5b6577cd57f968"),
    "resnet44": (661754, 155, "98cbc67fac20b5b0"),
    "resnet56": (857082, 197, "83c1dff521aa33ed"),
    "resnet110": (1736058, 386, "ebbab64fcf8f52ba"),
    "vgg16": (37694248, 23, "1b2e862531eb3f88"),
    "vgg19": (43003944, 26, "ce1da9f0fc685d2e"),
    "rnn_lm": (2706, 7, "99a84aefc61234c5"),
    "lstm_lm": (4290, 7, "92a428a5bddd7cc8"),
    "gru_lm": (3810, 7, "74ed64e7e2770e3b"),
}
DEEP = {"resnet44", "resnet56", "resnet101", "resnet110", "resnet152"}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in DEEP else n for n in BEFORE])
def test_builders_written_once_build_the_same_models(name):
    model = zoo.build(name, **zoo.get_spec(name).test_args)
    names = [layer.name for layer in model.layers]
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    assert (model.count_params(), len(names), digest) == BEFORE[name]
    assert model.name == name


def test_zoo_common_loads_no_tensorflow():
    """`zoo list` and `zoo info` need the argument checks without TensorFlow."""
    code = ("import sys, zoo._common\n"
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], env=zoo_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "[]\n"


def test_the_atomic_write_removes_what_dead_writers_left_and_nothing_else(tmp_path):
    target = tmp_path / "out.csv"
    dead = temporary_path(target, pid=999_999_999)
    live = temporary_path(target, pid=os.getppid())  # our parent runs
    other_host = tmp_path / ".tmp-elsewhere-999999999-out.csv"
    other_file = temporary_path(tmp_path / "other.csv", pid=999_999_999)
    for path in (dead, live, other_host, other_file):
        path.write_text("partial")
    assert not pid_alive(999_999_999) and pid_alive(os.getppid())
    write_text_atomic(target, "a,b\n")
    assert target.read_text() == "a,b\n" and (target.stat().st_mode & 0o777) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.csv", live.name, other_host.name, other_file.name])


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "grid.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_image_files_are_written_through_the_one_atomic_helper(tmp_path, monkeypatch):
    import numpy as np

    from zoo import images

    used = []
    monkeypatch.setattr(images, "atomic_path",
                        lambda path: used.append(Path(path)) or atomic_path(path))
    path = images.save_grid(np.zeros((4, 3, 3)), tmp_path / "grid.png")
    assert used == [path] and images.read_png(path).shape == (7, 7)
    assert (path.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]
