"""The package and the tools stay in small parts, in layers: no module over 400 lines, no import
cycle between modules, the layers of pyproject.toml's import-linter contracts hold (run by
``bin/fleet test``; here shown to fail on an import that goes up a layer), and the command's
results are returned, never written into another object."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400


def test_no_module_is_over_400_lines():
    files = [*(ROOT / "openclaw_fleet").rglob("*.py"), *(ROOT / "tools").rglob("*.py")]
    long = {str(path.relative_to(ROOT)): n for path in files if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def assignments_into_others(source: str) -> list[str]:
    """Each ``x.field = …`` (also augmented or in a tuple) whose ``x`` is not ``self``, each
    ``….env_vars[…] = …`` (a workspace's environment, which every run of a stack shares) and each
    ``setattr(…)`` in ``source``, as ``line: target``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            found.append(f"{node.lineno}: setattr")
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        for target in [item for written in targets for item in getattr(written, "elts", [written])]:
            into_other = isinstance(target, ast.Attribute) and ast.unparse(target.value) not in ("self", "cls")
            into_env = isinstance(target, ast.Subscript) and ast.unparse(target.value).endswith("env_vars")
            if into_other or into_env:
                found.append(f"{node.lineno}: {ast.unparse(target)}")
    return found


def test_the_command_returns_its_results_and_writes_into_no_other_object():
    """What an operation did travels back as a returned, immutable result (``cli/results.py``)."""
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "openclaw_fleet" / "cli").glob("*.py"))
        if (lines := assignments_into_others(path.read_text()))
    }
    assert found == {}
    written = "run.changes, run.error = {}, None\nstack.workspace.env_vars['A'] = '1'\nself.ok = 1\n"
    assert assignments_into_others(written) == ["1: run.changes", "1: run.error", "2: stack.workspace.env_vars['A']"]
    assert "getattr(options" not in "".join(path.read_text() for path in (ROOT / "openclaw_fleet").rglob("*.py"))


def test_no_module_imports_itself_through_others():
    """grimp, import-linter's graph: for every import a → b, no chain leads from b back to a
    (a package's ``__init__`` importing its own modules is how packages are made, not a cycle)."""
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("openclaw_fleet", "tools")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith(module + "."):
                continue
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                cycles.append(" → ".join([module, *chain]))
    assert cycles == []


def test_an_import_up_a_layer_breaks_the_contract(tmp_path):
    for name in ("openclaw_fleet", "pyproject.toml"):
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    model = tmp_path / "openclaw_fleet" / "roster" / "model.py"
    model.write_text(model.read_text() + "\nfrom openclaw_fleet.cli import guard  # noqa\n")
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "openclaw_fleet.roster.model -> openclaw_fleet.cli.guard" in result.stdout
