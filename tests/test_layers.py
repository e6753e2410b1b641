"""The package graph is layered: core <- assets <- pipelines (the code location).

`core` (settings, chains, partitions, resources, errors) imports neither the assets nor the
code location; `assets` builds on `core` only; `pipelines` assembles both. Nothing the
pipeline ships imports the sandbox, the benchmarks or the tests. Checked on every import
statement of every module, those inside functions included, so a lazy import cannot hide a
cycle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What each layer may import from the project's own packages.
ALLOWED = {
    "core": {"core"},
    "assets": {"core", "assets"},
    "pipelines": {"core", "assets", "pipelines", "sandbox"},
}
PROJECT = {"core", "assets", "pipelines", "sandbox", "bench", "tests"}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return {(line, top) for line, top in found if top in PROJECT}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below(layer):
    modules = sorted((ROOT / layer).rglob("*.py"))
    assert modules, f"no modules under {layer}/"
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in modules
        for line, top in sorted(imported_packages(path))
        if top not in ALLOWED[layer]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_ui_and_the_preflight_reach_into_the_sandbox():
    """`make ui --sandbox` and `make doctor` start the offline world; no definition may."""
    users = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "pipelines").rglob("*.py")
        if any(top == "sandbox" for _, top in imported_packages(path))
    }
    assert users <= {"pipelines/ui.py"}, users


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from pipelines.definitions import defs\n")
    assert imported_packages(module) == {(4, "pipelines")}
