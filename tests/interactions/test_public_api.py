"""The public API of :mod:`harsanyi_lightning.interactions`: a literal, sorted ``__all__`` that resolves, and an
import that stays pure torch (no Lightning, no matplotlib, no file locks, no other subpackage of the project)."""
from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import harsanyi_lightning.interactions as interactions

EXPECTED = [
    "AndOrInteractions",
    "AnnotatedSampleSet",
    "AnnotationError",
    "ConfigError",
    "DEFAULT_MAX_VARIABLES",
    "DEFAULT_NOISE_BOUND",
    "DataError",
    "FeatureMasker",
    "FolderInUseError",
    "ForwardFn",
    "HarsanyiError",
    "ImagePatchMasker",
    "ImagePool",
    "Interactions",
    "MAX_AND_OR_VARIABLES",
    "MAX_SPARSE_VARIABLES",
    "Masker",
    "NumericsError",
    "OfflineError",
    "OutputFn",
    "PRECISIONS",
    "SOLVERS",
    "SlotTables",
    "SparseInteractions",
    "StorageError",
    "TAU_RATIO",
    "TextPool",
    "WordMasker",
    "WorkerError",
    "and_or_interactions",
    "and_or_salient_mask",
    "and_or_strength_by_order",
    "artifact_parts",
    "atomic_write_bytes",
    "audit_precision",
    "banzhaf_values",
    "build_feature_sample_set",
    "build_image_sample_set",
    "build_sample_set",
    "build_text_sample_set",
    "central_patches",
    "check_and_or_options",
    "check_and_or_variables",
    "check_finite",
    "check_image_options",
    "check_num_variables",
    "check_precision",
    "check_sparse_options",
    "compute_values",
    "compute_values_at",
    "content_hash",
    "default_forward",
    "errno_name",
    "evaluation_precision",
    "harsanyi_dividends",
    "harsanyi_interactions",
    "image_candidates",
    "jaccard_similarity",
    "keep_units",
    "knowledge_by_order",
    "knowledge_split",
    "knowledge_totals",
    "load_artifact",
    "log_odds_true_class",
    "mask_orders",
    "mask_to_variables",
    "masker_for",
    "matching_error",
    "mean_by_order",
    "mean_image",
    "mean_jaccard",
    "nonfinite_samples",
    "order_counts",
    "order_means",
    "patch_grid",
    "preserved_ratio",
    "probe_writable",
    "salient_count",
    "salient_mask",
    "salient_strength_by_order",
    "save_artifact",
    "shapley_interaction_index",
    "shapley_values",
    "slot_tables",
    "sparse_dividends",
    "sparse_interactions",
    "split_words",
    "strength_by_order",
    "subset_orders",
    "tf32_settings",
    "unanimity_game",
    "values_from_dividends",
    "variables_to_mask",
    "write_error",
]

#: the core's modules, each with its own explicit ``__all__``
MODULES = [
    "and_or", "artifacts", "attributions", "errors", "feature_sample_set", "image_sample_set", "maskers", "metrics",
    "outputs", "pool_sample_set", "precision", "sample_set", "sparse", "sparse_design", "sparse_recovery", "sparse_slots",
    "text_sample_set", "transform", "unanimity_games", "values",
]

#: imported by no module of the core (top-level names in sys.modules)
FORBIDDEN = ("lightning", "pytorch_lightning", "matplotlib", "filelock")


def test_all_is_a_literal_sorted_list():
    tree = ast.parse(Path(interactions.__file__).read_text())
    assigned = [node for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)]
    assert len(assigned) == 1
    assert ast.literal_eval(assigned[0].value) == EXPECTED  # a literal: literal_eval refuses anything computed
    assert interactions.__all__ == EXPECTED == sorted(EXPECTED)


def test_every_public_name_resolves_and_no_submodule_is_exported():
    for name in EXPECTED:
        value = getattr(interactions, name)
        assert not isinstance(value, type(interactions)), f"{name} is a module"


def test_each_module_lists_its_public_names():
    for short in MODULES:
        module = importlib.import_module(f"harsanyi_lightning.interactions.{short}")
        assert isinstance(module.__all__, list) and module.__all__
        for name in module.__all__:
            assert hasattr(module, name), f"{short}.__all__ names {name}, which it does not define"
        tree = ast.parse(Path(module.__file__).read_text())
        defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        assert {n for n in defined if not n.startswith("_")} <= set(module.__all__), short
    found = sorted(p.stem for p in Path(interactions.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert found == sorted(MODULES)


def test_the_package_exports_what_its_modules_define():
    for name in EXPECTED:
        owner = getattr(interactions, name)
        homes = [s for s in MODULES if name in importlib.import_module(f"harsanyi_lightning.interactions.{s}").__all__]
        assert len(homes) == 1, (name, homes)
        assert getattr(importlib.import_module(f"harsanyi_lightning.interactions.{homes[0]}"), name) is owner


def test_no_module_imports_a_private_name_from_a_sibling():
    for short in MODULES + ["__init__"]:
        path = Path(interactions.__file__).parent / f"{short}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{short} imports {private} from {node.module}"


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
