"""The public API of every package, checked by its properties rather than by a copy of its names: each ``__all__``
is a literal list, every name it exports exists, is public, is not a module and is documented, every module lists
the public functions and classes it defines, and no module imports a private name of another."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from pathlib import Path

import pytest

PACKAGES = ["harsanyi_lightning", "harsanyi_lightning.interactions", "harsanyi_lightning.callbacks",
            "harsanyi_lightning.lightning_modules", "harsanyi_lightning.datamodules", "harsanyi_lightning.study",
            "harsanyi_lightning.study.run", "harsanyi_lightning.study.report"]


def modules_of(package: str) -> list[str]:
    """The package's own modules (not its sub-packages), by dotted name."""
    folder = Path(importlib.import_module(package).__file__).parent
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(folder)]) if not m.ispkg and m.name != "__main__"]


MODULES = [m for p in PACKAGES for m in modules_of(p)]


def source(module: str) -> Path:
    return Path(importlib.import_module(module).__file__)


def literal_all(path: Path) -> list[str]:
    """The ``__all__`` of a source file, which must be one literal list of strings."""
    tree = ast.parse(path.read_text())
    found = [node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             and any(getattr(t, "id", None) == "__all__"
                     for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
    assert len(found) == 1, f"{path}: one __all__ assignment"
    return ast.literal_eval(found[0].value)  # a literal: literal_eval refuses anything computed


def documented_constant(name: str, package: str) -> bool:
    """Whether a module of ``package`` assigns ``name`` at top level under a ``#:`` comment, or names it in its
    docstring."""
    for module in [package, *modules_of(package)]:
        text = source(module).read_text()
        lines = text.splitlines()
        tree = ast.parse(text)
        if name in (ast.get_docstring(tree) or ""):
            return True
        for node in tree.body:
            targets = getattr(node, "targets", None) or ([node.target] if isinstance(node, ast.AnnAssign) else [])
            names = {getattr(t, "id", None) for t in targets} | {
                getattr(e, "id", None) for t in targets if isinstance(t, ast.Tuple) for e in t.elts}
            if name in names and node.lineno > 1 and lines[node.lineno - 2].strip().startswith("#:"):
                return True
    return False


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exports_a_sorted_literal_list_of_public_documented_names(package):
    module = importlib.import_module(package)
    names = literal_all(source(package))
    assert names == module.__all__ and names == sorted(names), package
    for name in names:
        if name.startswith("__"):
            continue  # __version__
        assert not name.startswith("_"), f"{package} exports the private name {name}"
        value = getattr(module, name)
        assert not isinstance(value, types.ModuleType), f"{package}.{name} is a module"
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{package}.{name} has no docstring"
        elif not callable(value):
            assert any(documented_constant(name, p) for p in PACKAGES), f"{package}.{name} is not documented"
    namespace: dict = {}
    exec(f"from {package} import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(names)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_lists_the_public_functions_and_classes_it_defines(module):
    names = literal_all(source(module))
    loaded = importlib.import_module(module)
    for name in names:
        assert hasattr(loaded, name), f"{module}.__all__ names {name!r}, which it does not define"
    tree = ast.parse(source(module).read_text())
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert {n for n in defined if not n.startswith("_")} <= set(names), module
    assert inspect.getdoc(loaded), f"{module} has no docstring"


@pytest.mark.parametrize("module", [*PACKAGES, *MODULES])
def test_no_module_imports_a_private_name(module):
    tree = ast.parse(source(module).read_text())
    ours = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and (node.level > 0 or (node.module or "").startswith("harsanyi_lightning"))]
    private = [f"{node.module}.{alias.name}" for node in ours for alias in node.names if alias.name.startswith("_")]
    assert private == [], module
