"""The layers stay honest: the import contracts in pyproject.toml (import-linter), and no import
cycle anywhere in the package, imports inside functions included (docs/architecture.md)."""
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    command = ("from importlinter.cli import lint_imports; "
               "raise SystemExit(lint_imports(config_filename='pyproject.toml'))")
    result = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycles():
    graph = grimp.build_graph("viscause_gui")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    for name, body in {"a": "from pkg import b\n", "b": "def f():\n    from pkg import a\n", "c": ""}.items():
        (tmp_path / "pkg").mkdir(exist_ok=True)
        (tmp_path / "pkg" / f"{name}.py").write_text(body)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("pkg", cache_dir=None)) == [["pkg.a", "pkg.b"]]


def test_every_core_package_is_in_the_core_layers():
    """A new package (or module) of core must be given its place in the layers contract: one left
    out could import anything, and anything could import it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["name"].startswith("core layers")]
    in_contract = {m.strip() for layer in layers for m in layer.replace(":", "|").split("|")}
    core = ROOT / "viscause_gui" / "core"
    in_core = {f"viscause_gui.core.{p.stem}" for p in core.glob("*.py") if p.name != "__init__.py"}
    in_core |= {f"viscause_gui.core.{p.parent.name}" for p in core.glob("*/__init__.py")}
    assert in_core == in_contract
