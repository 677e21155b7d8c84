"""Shape of the package at a commit: lines per module, the largest functions, import cycles.

Usage: ``python scripts/code_shape.py [COMMIT ...]`` (default: the working tree). Reads each
commit's ``sleepscore/`` through ``git show``, so no checkout is needed; prints one Markdown
block per commit, for review notes on refactors.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "sleepscore"


def package_sources(commit: str | None) -> dict[str, str]:
    """``{module dotted name: source}`` of every ``sleepscore/**/*.py`` at ``commit``."""
    def read(path: str) -> str:
        if commit is None:
            return (REPO / path).read_text()
        return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout

    if commit is None:
        paths = [str(p.relative_to(REPO)) for p in (REPO / PACKAGE).rglob("*.py")]
    else:
        listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", commit, PACKAGE],
                                 cwd=REPO, check=True, capture_output=True, text=True).stdout
        paths = [p for p in listing.split() if p.endswith(".py")]
    return {path[:-3].replace("/", ".").removesuffix(".__init__"): read(path) for path in paths}


def _imported(module: str, tree: ast.Module, is_package: bool, known: set[str],
              anywhere: bool) -> set[str]:
    """Package modules that ``module`` imports: at load time (top level, ``if`` and ``try``
    blocks), or also inside functions with ``anywhere``; never ``TYPE_CHECKING`` imports."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        descend = anywhere or isinstance(node, (ast.If, ast.Try))
        for item in ast.walk(node) if descend else [node]:
            if isinstance(item, ast.Import):
                names = [alias.name for alias in item.names]
            elif isinstance(item, ast.ImportFrom):
                parent = base[:len(base) - item.level + 1] if item.level else []
                prefix = ".".join(parent + ([item.module] if item.module else []))
                names = [prefix] + [f"{prefix}.{alias.name}" for alias in item.names]
            else:
                continue
            # Importing a.b.c runs a/__init__ and a/b/__init__ first, so those count too; but a
            # module importing its own package (``from . import layers``) is no cycle, and the
            # package root re-exports the public API lazily.
            parents = {".".join(n.split(".")[:i]) for n in names for i in range(2, n.count(".") + 1)}
            found.update(name for name in {*names, *parents} if name in known and name != PACKAGE
                         and not module.startswith(name + "."))
    return found


def import_graph(sources: dict[str, str], anywhere: bool) -> dict[str, set[str]]:
    """``{module: package modules it imports}`` (see :func:`_imported`)."""
    known = set(sources)
    return {m: _imported(m, ast.parse(s), any(k.startswith(m + ".") for k in known), known,
                         anywhere) for m, s in sources.items() if m != PACKAGE}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def subpackage_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Which subpackages (``sleepscore.nets``, ``sleepscore.training``...) import which,
    counting imports inside functions; the top-level modules are left out."""
    subpackage = {m: ".".join(m.split(".")[:2]) for m in sources if m.count(".") >= 1
                  and any(k.startswith(".".join(m.split(".")[:2]) + ".") for k in sources)}
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph(sources, anywhere=True).items():
        if module in subpackage:
            graph.setdefault(subpackage[module], set()).update(
                subpackage[t] for t in targets if subpackage.get(t, subpackage[module]) != subpackage[module])
    return graph


def largest_functions(sources: dict[str, str], count: int) -> list[tuple[int, str]]:
    """``(lines, module.function)`` of the ``count`` longest functions and methods."""
    sizes = []
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes.append((node.end_lineno - node.lineno + 1, f"{module}.{node.name}"))
    return sorted(sizes, reverse=True)[:count]


def _cycles_text(groups: list[list[str]]) -> str:
    return "; ".join(" <-> ".join(g) for g in groups) or "none"


def report(commit: str | None, count: int = 8) -> str:
    sources = package_sources(commit)
    lines = {m: len(s.splitlines()) for m, s in sources.items()}
    largest_modules = sorted(lines.items(), key=lambda item: -item[1])[:count]
    load_time = cycles(import_graph(sources, anywhere=False))
    anywhere = cycles(import_graph(sources, anywhere=True))
    between_subpackages = cycles(subpackage_graph(sources))
    out = [f"### {commit or 'working tree'}", "",
           f"- {len(sources)} modules, {sum(lines.values())} lines",
           "- largest modules: " + ", ".join(f"`{m}` {n}" for m, n in largest_modules),
           "- largest functions: " + ", ".join(f"`{name}` {n}"
                                                for n, name in largest_functions(sources, count)),
           "- import cycles at load time: " + _cycles_text(load_time),
           "- import cycles counting imports inside functions: " + _cycles_text(anywhere),
           "- subpackages importing each other: " + _cycles_text(between_subpackages)]
    return "\n".join(out)


if __name__ == "__main__":
    print("\n\n".join(report(commit) for commit in (sys.argv[1:] or [None])))
