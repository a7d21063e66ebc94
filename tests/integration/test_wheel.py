"""The wheel built from the repository claims one import name, ``harsanyi_lightning``, so it lives
beside a user project that has its own ``callbacks/`` and ``datamodules/`` packages.

The wheel is built offline from a copy of the tracked files, installed into a folder of its own, and
imported by ``python -S`` (no site: the editable install of this checkout is not loaded) next to the
user's project; torch, Lightning and the other dependencies come from this environment's
site-packages folders.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.shared_data import ROOT

STUDY_CONFIG = "harsanyi_lightning/configs/sst2_minilm/study.yaml"

USER_SCRIPT = """
import json, sys
import callbacks, datamodules
from harsanyi_lightning import InteractionCallback
import harsanyi_lightning
import harsanyi_lightning.callbacks
import harsanyi_lightning.datamodules
from importlib import resources
print(json.dumps({
    "callbacks": [callbacks.__file__, getattr(callbacks, "OWNER", None)],
    "datamodules": [datamodules.__file__, getattr(datamodules, "OWNER", None)],
    "harsanyi_lightning": harsanyi_lightning.__file__,
    "InteractionCallback": sys.modules[InteractionCallback.__module__].__file__,
    "same_class": harsanyi_lightning.callbacks.InteractionCallback is InteractionCallback,
    "SST2DataModule": sys.modules[harsanyi_lightning.datamodules.SST2DataModule.__module__].__file__,
    "study_config": (resources.files("harsanyi_lightning.configs") / "sst2_minilm" / "study.yaml").is_file(),
    "no_site": sys.flags.no_site,
}))
"""


def tracked_copy(target: Path) -> Path:
    """The repository's tracked files (as they are in the working tree), copied into ``target``."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout: {exc}")
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def dependency_paths() -> list[str]:
    """The folders this environment imports its dependencies from (site-packages and those its .pth
    files add), read from a fresh interpreter outside the repository: never the checkout itself."""
    probe = subprocess.run([sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"],
                           cwd=Path(sys.prefix), capture_output=True, text=True, check=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    paths = []
    for entry in json.loads(probe.stdout):
        path = Path(entry).resolve() if entry else None
        if path is not None and path.is_dir() and path != ROOT.resolve():
            paths.append(str(path))
    return paths


def pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.slow
def test_the_wheel_installs_one_import_name_beside_a_user_project(tmp_path):
    source = tracked_copy(tmp_path / "source")
    dist = tmp_path / "dist"
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(source), cwd=tmp_path)
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top = {name.split("/", 1)[0] for name in names}
        info = [t for t in top if t.endswith(".dist-info")]
        assert len(info) == 1 and info[0].startswith("harsanyi_lightning-"), sorted(top)
        assert top - set(info) == {"harsanyi_lightning"}, f"top-level names in the wheel: {sorted(top)}"
        assert STUDY_CONFIG in names, [n for n in names if "/configs/" in n][:20]
        entry_points = archive.read(f"{info[0]}/entry_points.txt").decode()
        assert "harsanyi-lightning = harsanyi_lightning.cli:" in entry_points, entry_points

    site = tmp_path / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel), cwd=tmp_path)
    assert sorted(p.name for p in site.iterdir() if p.name != "bin") == ["harsanyi_lightning", info[0]]

    # a Lightning project of the user's, with its own generic package names
    project = tmp_path / "project"
    for package in ("callbacks", "datamodules"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text(f"\"\"\"The user's own {package}.\"\"\"\nOWNER = \"user\"\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=os.pathsep.join([str(project), str(site), *dependency_paths()]),
               PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-S", "-c", USER_SCRIPT], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])

    assert seen["no_site"] == 1
    assert seen["callbacks"] == [str(project / "callbacks" / "__init__.py"), "user"]
    assert seen["datamodules"] == [str(project / "datamodules" / "__init__.py"), "user"]
    for key in ("harsanyi_lightning", "InteractionCallback", "SST2DataModule"):
        assert Path(seen[key]).is_relative_to(site), f"{key} imported from {seen[key]}, not from the wheel in {site}"
    assert seen["same_class"] and seen["study_config"]
