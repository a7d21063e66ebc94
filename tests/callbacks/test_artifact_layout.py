"""One owner of the on-disk layout: the callback and the study name, find and parse epoch files the same way."""
from __future__ import annotations

import json

import pytest

from harsanyi_lightning.callbacks import artifact_layout
from harsanyi_lightning.callbacks.artifact_layout import (
    epoch_files,
    epoch_of,
    epoch_path,
    read_json,
    reference_exists,
    resolve_interactions_file,
    write_json,
)
from harsanyi_lightning.interactions.errors import AnnotationError, DataError
from harsanyi_lightning.study import layout


def test_epoch_names_round_trip_and_only_three_digit_names_are_epochs(tmp_path):
    assert epoch_path(tmp_path, 7).name == "epoch_007.pt" and epoch_path(tmp_path, 1234).name == "epoch_1234.pt"
    for epoch in (0, 7, 123, 1234):
        assert epoch_of(epoch_path(tmp_path, epoch).name) == epoch
    for name in ("epoch_7.pt", "epoch_07.pt", "epoch_abc.pt", "epoch_007.pt.tmp", ".epoch_007.pt.x1y2z3w4.tmp",
                 "epoch_007.ckpt", "final.json"):
        assert epoch_of(name) is None, name


def test_the_study_finds_the_epoch_files_the_callback_writes(tmp_path):
    folder = layout.interactions_dir(tmp_path, "probe")
    folder.mkdir(parents=True)
    for name in ("epoch_000.pt", "epoch_010.pt", "epoch_002.pt", "epoch_7.pt", "annotation.pt", "jaccard.json"):
        (folder / name).write_bytes(b"")
    expected = {0: folder / "epoch_000.pt", 2: folder / "epoch_002.pt", 10: folder / "epoch_010.pt"}
    assert epoch_files(folder) == expected
    assert layout.interactions_dir(tmp_path, "scratch") == tmp_path / "scratch" / "interactions"
    assert layout.ANNOTATION == artifact_layout.ANNOTATION_FILE
    assert layout.write_json is write_json and layout.read_json is read_json
    # a folder without final.json: its highest epoch is the reference
    assert resolve_interactions_file(folder) == folder / "epoch_010.pt" and reference_exists(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "epoch_7.pt").write_bytes(b"")
    assert not reference_exists(empty)
    with pytest.raises(AnnotationError, match="holds no epoch_XXX.pt"):
        resolve_interactions_file(empty)


def test_json_is_written_one_way_and_read_with_clear_errors(tmp_path):
    data = {"jaccard": [1.0, 0.123456789012345678], "epochs": [0, 1], "final_epoch": 1}
    path = write_json(tmp_path / "jaccard.json", data)
    assert read_json(path) == data == json.loads(path.read_text())  # floats round-trip exactly
    assert path.read_text().endswith("\n") and list(json.loads(path.read_text())) == sorted(data)
    with pytest.raises(DataError, match="does not exist"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")
