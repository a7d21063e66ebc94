"""InteractionCallback's scalars and figures in an MLflow local file store and a W&B offline run, read back from
what each backend stored (docs/callback.md#loggers). No network: MLflow writes files, W&B runs offline."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import pytorch_lightning as pl
from pytorch_lightning.loggers import MLFlowLogger, WandbLogger

from harsanyi_lightning.callbacks import InteractionCallback
from harsanyi_lightning.interactions.scalars import interaction_scalars
from harsanyi_lightning.interactions import load_artifact
from tests.callback_fixtures import NetOnlyTabularClassifier, tabular_task

EPOCHS = 2
STRENGTH = "interactions/strength/order_2"
FIGURE = "interactions/strength_by_order"


def fit_with(logger, tmp_path: Path) -> dict[int, dict]:
    """Fit the tabular task for ``EPOCHS`` epochs logging to ``logger``; the artifacts by epoch."""
    loader, annotation = tabular_task(tmp_path)
    out = tmp_path / "interactions"
    callback = InteractionCallback(sample_set=str(annotation), output_dir=str(out), forward="net", progress=False)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(max_epochs=EPOCHS, callbacks=[callback], logger=logger, default_root_dir=str(tmp_path),
                         accelerator="cpu", enable_progress_bar=False, enable_checkpointing=False,
                         enable_model_summary=False, log_every_n_steps=1)
    trainer.fit(NetOnlyTabularClassifier(), loader)
    return {e: load_artifact(out / f"epoch_{e:03d}.pt", "interactions")[0] for e in range(EPOCHS + 1)}


def test_mlflow_file_store_gets_scalars_and_figures(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for this to write a file store
    uri = f"file:{tmp_path / 'mlruns'}"
    logger = MLFlowLogger(experiment_name="interactions", tracking_uri=uri)
    artifacts = fit_with(logger, tmp_path)
    client = MlflowClient(tracking_uri=uri)
    steps = [artifacts[e]["log_step"] for e in range(EPOCHS + 1)]
    epochs = client.get_metric_history(logger.run_id, "interactions/epoch")
    assert [(m.step, m.value) for m in epochs] == [(s, float(e)) for e, s in enumerate(steps)]
    strength = {m.step: m.value for m in client.get_metric_history(logger.run_id, STRENGTH)}
    for e, s in enumerate(steps):  # the value logged is the one of the stored dividends
        assert strength[s] == pytest.approx(interaction_scalars(artifacts[e]["dividends"])[STRENGTH], rel=1e-6)
    assert len(client.get_metric_history(logger.run_id, "knowledge/jaccard_to_final")) == EPOCHS + 1
    figures = sorted(a.path for a in client.list_artifacts(logger.run_id, FIGURE))
    assert figures == [f"{FIGURE}/epoch_{e:03d}.png" for e in range(EPOCHS + 1)]
    local = Path(client.download_artifacts(logger.run_id, figures[-1], str(tmp_path / "download")))
    assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- W&B offline

#: the ``.wandb`` transaction log: a 7-byte header, then LevelDB-log records in 32 KiB blocks
WANDB_HEADER, BLOCK = b":W&B\xe1\xbe\x00", 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_records(path: Path):
    """The protobuf records of an offline run's ``.wandb`` file (wandb's LevelDB-log framing: per record
    crc32 (4 bytes), length (2), type (1); a record split over blocks is FIRST, MIDDLE..., LAST)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:7] == WANDB_HEADER, data[:7]
    pos, payload = 7, b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:  # zero padding up to the end of the block
            pos += BLOCK - pos % BLOCK
            continue
        payload += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            yield record
            payload = b""


def wandb_history(run_file: Path) -> list[dict]:
    """Each history row of the run (``wandb.log`` call) as ``{key: value}``; a media value (``nested_key``
    ``[key, field]``) as a dict of its fields."""
    rows = []
    for record in wandb_records(run_file):
        if record.WhichOneof("record_type") != "history":
            continue
        row: dict = {}
        for item in record.history.item:
            *parents, leaf = [item.key] if item.key else list(item.nested_key)
            node = row
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = json.loads(item.value_json)
        rows.append(row)
    return rows


def test_wandb_offline_run_gets_scalars_and_figures(tmp_path, monkeypatch):
    for name, value in (("WANDB_MODE", "offline"), ("WANDB_SILENT", "true"), ("WANDB_CONSOLE", "off"),
                        ("WANDB_DIR", str(tmp_path)), ("WANDB_CACHE_DIR", str(tmp_path / "cache")),
                        ("WANDB_CONFIG_DIR", str(tmp_path / "config")), ("WANDB_DATA_DIR", str(tmp_path / "data"))):
        monkeypatch.setenv(name, value)
    logger = WandbLogger(offline=True, save_dir=str(tmp_path), project="interactions")
    artifacts = fit_with(logger, tmp_path)
    run_dir = Path(logger.experiment.dir).parent
    logger.experiment.finish()
    (run_file,) = run_dir.glob("*.wandb")
    rows = wandb_history(run_file)
    steps = [artifacts[e]["log_step"] for e in range(EPOCHS + 1)]
    # WandbLogger logs the step as `trainer/global_step` beside the values
    evaluated = [(row["trainer/global_step"], row["interactions/epoch"]) for row in rows if "interactions/epoch" in row]
    assert evaluated == [(s, float(e)) for e, s in enumerate(steps)]
    strength = {row["trainer/global_step"]: row[STRENGTH] for row in rows if STRENGTH in row}
    for e, s in enumerate(steps):
        assert strength[s] == pytest.approx(interaction_scalars(artifacts[e]["dividends"])[STRENGTH], rel=1e-6)
    assert sum("knowledge/jaccard_to_final" in row for row in rows) == EPOCHS + 1
    images = [(row["trainer/global_step"], row[FIGURE]) for row in rows if FIGURE in row]
    assert [s for s, _ in images] == steps
    for _, image in images:  # a list of one wandb.Image (WandbLogger.log_image): a PNG stored with the run
        assert image["_type"] == "images/separated" and image["format"] == "png" and image["count"] == 1
        (name,) = image["filenames"]
        assert (run_dir / "files" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
