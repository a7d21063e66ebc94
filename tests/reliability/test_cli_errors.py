"""At the command line, user errors are one clean message (type, what is wrong, the fix) and exit
status 2, with no traceback from deep inside torch, transformers or jsonargparse."""
from __future__ import annotations

import pytest

from tests.reliability.harness import run_cli
from tests.reliability.test_bad_config import fit_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case, override, words", [
    ("unknown backbone", ["--model.init_args.backbone", "resnet-9000"], ["ConfigError", "unknown backbone 'resnet-9000'", "known:"]),
    ("bad batch size", ["--data.init_args.batch_size", "0"], ["ConfigError", "batch_size=0"]),
    ("missing SST-2", ["--data", "harsanyi_lightning.datamodules.SST2DataModule", "--data.init_args.data_dir", "{tmp}/nowhere",
                       "--data.init_args.download", "false"], ["DataError", "train.tsv", "nowhere", "data_dir="]),
])
def test_fit_with_bad_input_prints_one_clean_error(tmp_path, case, override, words):
    args = [a.replace("{tmp}", str(tmp_path)) for a in override]
    proc = run_cli("fit", "--config", str(fit_config(tmp_path)), *args)
    assert proc.returncode == 2, (case, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error (")
    for w in words:
        assert w in last, (w, last)
    assert not list(tmp_path.rglob("*.ckpt"))
