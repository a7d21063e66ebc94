"""The core's boundaries (tests/test_public_api.py checks its ``__all__`` like every package's): each exported name
lives in one module, an import stays pure torch (no Lightning, no matplotlib, no file locks, no other subpackage of
the project) and its modules import each other without a cycle."""
from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import harsanyi_lightning.interactions as interactions

#: the core's modules
MODULES = sorted(p.stem for p in Path(interactions.__file__).parent.glob("*.py") if p.stem != "__init__")

#: imported by no module of the core (top-level names in sys.modules)
FORBIDDEN = ("lightning", "pytorch_lightning", "matplotlib", "filelock")


def test_the_package_exports_what_its_modules_define():
    for name in interactions.__all__:
        owner = getattr(interactions, name)
        homes = [s for s in MODULES if name in importlib.import_module(f"harsanyi_lightning.interactions.{s}").__all__]
        assert len(homes) == 1, (name, homes)
        assert getattr(importlib.import_module(f"harsanyi_lightning.interactions.{homes[0]}"), name) is owner


def test_importing_the_core_pulls_in_no_lightning_matplotlib_filelock_or_other_subpackage():
    code = (
        "import json, sys\n"
        "import harsanyi_lightning.interactions\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    top = {name.split(".")[0] for name in loaded}
    assert not top & set(FORBIDDEN), sorted(top & set(FORBIDDEN))
    ours = sorted(n for n in loaded if n.startswith("harsanyi_lightning."))
    others = [n for n in ours if not n.startswith("harsanyi_lightning.interactions")]
    assert not others, others
    assert "harsanyi_lightning.interactions.sample_set" in ours  # the check sees the core's own modules


def test_the_core_modules_import_each_other_without_a_cycle():
    """Module-level and lazy imports alike (those under ``if TYPE_CHECKING:`` excluded) form no cycle."""
    folder = Path(interactions.__file__).parent
    edges: dict[str, set[str]] = {}
    for short in MODULES:
        tree = ast.parse((folder / f"{short}.py").read_text())
        typing_only = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                typing_only.update(id(x) for x in ast.walk(node))
        edges[short] = {
            node.module.split(".")[0] for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module and id(node) not in typing_only
        }
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(edges[module]):
            assert state.get(nxt) != 1, " -> ".join(path + [module, nxt])
            if nxt not in state:
                visit(nxt, path + [module])
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [])
