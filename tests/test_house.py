"""The house rules a newcomer relies on, checked on the repository's tracked files:

- no import cycle among the project's own modules (imports inside functions included, those under
  ``if TYPE_CHECKING:`` excluded);
- no product file over 600 lines (a smell to look at, not a target: a file holds one concern however long it needs);
- the two adapters of the interaction recorder stay thin (at most 300 lines each);
- no product module but the one that builds estimators compares estimator names, none lists the regimes, and none
  says "stage" for a regime (docs/glossary.md);
- no file cites a document outside the repository or an issue number;
- every package ``__init__.py`` lists its public names in a literal ``__all__``;
- ``python cli.py fit --help`` imports no matplotlib (figures are imported when drawn).

Product files are the tracked ``.py`` files outside tests/, benchmarks/, examples/, docs/ and configs/.
Each failure lists every offender.
"""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_PRODUCT = ("tests/", "benchmarks/", "examples/", "docs/", "configs/")
MAX_LINES = 600
#: the adapters of the recorder and their size limit
ADAPTERS = ("callbacks/interaction_callback.py", "callbacks/hf_trainer.py")
MAX_ADAPTER_LINES = 300
TOP_NAME = "harsanyi_lightning"


def tracked_files() -> list[str]:
    """The repository's tracked files (relative paths); skip outside a git checkout."""
    try:
        proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout: {exc}")
    return [f for f in proc.stdout.split("\0") if f and (ROOT / f).is_file()]


def product_files() -> list[str]:
    return sorted(f for f in tracked_files() if f.endswith(".py") and not f.startswith(NOT_PRODUCT))


def module_names(files: list[str]) -> dict[str, str]:
    """``{dotted module name: file}`` as installed: pyproject's ``package-dir`` maps folders to packages."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = settings.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    folders = sorted(((folder.rstrip("/"), package) for package, folder in package_dir.items() if folder),
                     key=lambda item: -len(item[0]))  # the deepest folder wins
    names = {}
    for f in files:
        parts = f[:-3].split("/")
        for folder, package in folders:
            prefix = folder.split("/")
            if parts[: len(prefix)] == prefix:
                parts = package.split(".") + parts[len(prefix):]
                break
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = f
    return names


def is_type_checking(test: ast.expr) -> bool:
    return any(isinstance(node, ast.Name) and node.id == "TYPE_CHECKING"
               or isinstance(node, ast.Attribute) and node.attr == "TYPE_CHECKING" for node in ast.walk(test))


def imported_names(tree: ast.Module, package: str) -> set[str]:
    """Every dotted name a module imports, at any depth, except under ``if TYPE_CHECKING:``.
    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a module); relative imports are resolved
    against ``package``."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    """``{module: the project modules it imports}``. Importing ``a.b.c`` runs the packages ``a`` and
    ``a.b`` too, so they count; a package importing its own modules, and a module naming one of its own
    packages, are how packages work and do not count."""
    modules = module_names(product_files())

    def resolve(name: str) -> str | None:
        while name:
            for candidate in (name, f"{TOP_NAME}.{name}"):
                if candidate in modules:
                    return candidate
            name = name.rpartition(".")[0]
        return None

    def with_packages(module: str) -> set[str]:
        parts = module.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()

    graph = {}
    for module, f in modules.items():
        package = module if f.endswith("__init__.py") else module.rpartition(".")[0]
        targets: set[str] = set()
        for name in imported_names(ast.parse((ROOT / f).read_text(), f), package):
            found = resolve(name)
            if found:
                targets |= with_packages(found)
        graph[module] = {t for t in targets
                         if t != module and not t.startswith(module + ".") and not module.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return f"{{{', '.join(component)}}}: " + "; ".join(edges)


def test_cycle_finder_sees_a_cycle_and_a_lazy_import():
    """The checker itself: a two-module cycle through an import inside a function is found, a
    TYPE_CHECKING import is not."""
    lazy = ast.parse("def f():\n    from .b import x\n")
    typing_only = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n")
    assert imported_names(lazy, "p") == {"p.b", "p.b.x"}
    assert imported_names(typing_only, "p") == {"typing", "typing.TYPE_CHECKING"}
    assert cycles({"p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": {"p.a"}}) == [["p.a", "p.b"]]
    assert cycles({"p.a": {"p.b"}, "p.b": set()}) == []


def test_no_import_cycle_among_the_project_modules():
    graph = import_graph()
    assert len(graph) > 10, sorted(graph)  # the product files were found
    found = cycles(graph)
    assert not found, "import cycles (module -> module it imports):\n" + "\n".join(describe(c, graph) for c in found)


def test_no_product_file_is_over_600_lines():
    sizes = {f: len((ROOT / f).read_text().splitlines()) for f in product_files()}
    over = sorted(((n, f) for f, n in sizes.items() if n > MAX_LINES), reverse=True)
    assert not over, f"product files over {MAX_LINES} lines:\n" + "\n".join(f"{f}: {n}" for n, f in over)


def test_the_adapters_of_the_recorder_stay_thin():
    sizes = {f: len((ROOT / f).read_text().splitlines()) for f in ADAPTERS}
    assert all(n <= MAX_ADAPTER_LINES for n in sizes.values()), sizes


#: a comparison with an estimator's name ("exact", "sparse"): only interactions/estimators.py maps names to estimators
ESTIMATOR_NAME_TEST = re.compile(r"""[=!]=\s*["'](exact|sparse)["']|["'](exact|sparse)["']\s*[=!]=|["'](exact|sparse)["']\s+(not\s+)?in\b""")
#: the paper's three regimes written out as a list: regimes come from the study config (docs/study.md#regimes)
REGIME_LIST = re.compile(r"""\(\s*["']probe["']\s*,\s*["']finetune["']\s*,\s*["']scratch["']""")


def test_only_the_estimator_registry_tests_estimator_names_and_no_module_lists_the_regimes():
    names, lists, stage = [], [], []
    for f in product_files():
        for number, line in enumerate((ROOT / f).read_text().splitlines(), 1):
            if ESTIMATOR_NAME_TEST.search(line) and f != "interactions/estimators.py":
                names.append(f"{f}:{number}: {line.strip()}")
            if REGIME_LIST.search(line):
                lists.append(f"{f}:{number}: {line.strip()}")
            if re.search(r"\bstages?\b", line) and not re.search(r"stage: str|stage\)|stage [!=]= |stage in \(|"
                                                                  r"Lightning's stage|\(stage\)", line):
                stage.append(f"{f}:{number}: {line.strip()}")
    assert not names, "estimator names compared outside interactions/estimators.py:\n" + "\n".join(names)
    assert not lists, "the regimes written out as a list:\n" + "\n".join(lists)
    assert not stage, "'stage' for a regime:\n" + "\n".join(stage)


# built from pieces, so this file does not match itself
OUTSIDE_REFERENCE = re.compile("|".join([r"\b" + "SP" + r"EC\b", r"\b" + "iss" + r"ue \d+", r"\(" + "iss" + r"ue \d"]))


def test_no_file_cites_a_document_outside_the_repository_or_an_issue_number():
    offenders = []
    for f in tracked_files():
        if f.endswith((".py", ".md", ".yaml", ".yml", ".toml")):
            for number, line in enumerate((ROOT / f).read_text(errors="replace").splitlines(), 1):
                if OUTSIDE_REFERENCE.search(line):
                    offenders.append(f"{f}:{number}: {line.strip()[:100]}")
    assert not offenders, f"{len(offenders)} lines cite an outside document or an issue number:\n" + "\n".join(offenders)


def literal_all(tree: ast.Module) -> bool | None:
    """True: a literal list of strings; False: ``__all__`` computed; None: no ``__all__``."""
    verdict = None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = node.value
            verdict = isinstance(value, ast.List) and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            verdict = False
    return verdict


def test_every_package_init_has_a_literal_all():
    offenders = []
    for f in product_files():
        if f.endswith("__init__.py"):
            verdict = literal_all(ast.parse((ROOT / f).read_text(), f))
            if verdict is None:
                offenders.append(f"{f}: no __all__")
            elif not verdict:
                offenders.append(f"{f}: __all__ is not a literal list of strings")
    assert not offenders, "package __init__ files without a literal __all__ list:\n" + "\n".join(offenders)


FIT_HELP = """
import json, runpy, sys
sys.argv = ["cli.py", "fit", "--help"]
try:
    runpy.run_path("cli.py", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def matplotlib_importers(importtime_log: str) -> set[str]:
    """The modules that import matplotlib first, read from ``python -X importtime`` output (children are
    printed before their parent, one indentation level deeper)."""
    rows = []
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    importers = set()
    for i, (depth, name) in enumerate(rows):
        if name.split(".")[0] != "matplotlib":
            continue
        parent = next((n for d, n in rows[i + 1:] if d < depth), "<top>")
        if parent.split(".")[0] != "matplotlib":
            importers.add(parent)
    return importers


def modules_importing_matplotlib() -> set[str]:
    """Product modules whose module level imports matplotlib (figure modules)."""
    found = set()
    for name, file in module_names(product_files()).items():
        tree = ast.parse((ROOT / file).read_text())
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "matplotlib" for n in names):
                found.add(name)
    return found


@pytest.mark.slow
def test_fit_help_loads_no_project_module_that_imports_matplotlib():
    """``python cli.py fit --help`` loads none of the project's figure modules, and whatever matplotlib is
    loaded comes from a dependency, not from the project: torchmetrics (imported by Lightning) imports
    ``matplotlib.pyplot`` at import time whenever matplotlib is installed (docs/performance.md)."""
    proc = subprocess.run([sys.executable, "-c", FIT_HELP], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "usage" in proc.stdout.lower(), proc.stdout[-3000:]
    figure_modules = modules_importing_matplotlib()
    assert figure_modules, "expected the report's figure modules to import matplotlib"
    loaded = set(result["modules"])
    assert not figure_modules & loaded, f"cli.py fit --help loads figure modules {sorted(figure_modules & loaded)}"
    timing = subprocess.run([sys.executable, "-X", "importtime", "cli.py", "fit", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert timing.returncode == 0, timing.stderr[-3000:]
    importers = matplotlib_importers(timing.stderr)
    assert all(name.split(".")[0] == "torchmetrics" for name in importers), (
        f"matplotlib is imported by {sorted(importers)}, not only by torchmetrics")
