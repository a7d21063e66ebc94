"""Fuzz (hypothesis): random bytes and random edits of a valid file never make the annotation-file
loader or the SST-2 TSV reader raise anything but the documented errors."""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harsanyi_lightning.datamodules.text import read_glue_tsv
from harsanyi_lightning.interactions import AnnotatedSampleSet, build_feature_sample_set
from harsanyi_lightning.interactions.artifacts import load_artifact
from harsanyi_lightning.interactions.errors import AnnotationError, DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DIR = Path(tempfile.mkdtemp(prefix="harsanyi-fuzz-"))


def _valid_annotation() -> tuple[bytes, str]:
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, 1.5, 7.0, -1.0]])
    path = _DIR / "valid.pt"
    digest = build_feature_sample_set(x, [1, 0], baseline=torch.zeros(4)).save(path)
    return path.read_bytes(), digest


VALID, VALID_HASH = _valid_annotation()


def _write(data: bytes, name: str) -> Path:
    path = _DIR / name
    path.write_bytes(data)
    return path


def _check_annotation(data: bytes) -> None:
    path = _write(data, "fuzzed.pt")
    try:
        samples = AnnotatedSampleSet.load(path)
    except AnnotationError as err:
        assert str(path) in str(err)
        return
    assert samples.hash == VALID_HASH  # anything that loads is the original content, hash-checked
    _, digest = load_artifact(path, "annotation")
    assert digest == VALID_HASH


@FUZZ
@given(st.binary(max_size=4096))
def test_annotation_loader_on_random_bytes(data):
    _check_annotation(data)


edits = st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8)


@FUZZ
@given(edits, st.integers(0, len(VALID)))
def test_annotation_loader_on_edited_files(changes, keep):
    data = bytearray(VALID)
    for pos, byte in changes:
        data[pos] = byte
    _check_annotation(bytes(data[:keep] if keep < len(VALID) // 2 else data))


VALID_TSV = b"sentence\tlabel\na gripping , funny film\t1\nflat and dull\t0\nworth seeing\t1\n"


def _check_tsv(data: bytes) -> None:
    path = _write(data, "fuzzed.tsv")
    try:
        sentences, labels = read_glue_tsv(path)
    except DataError as err:
        assert str(path) in str(err)
        return
    assert len(sentences) == len(labels) > 0 and set(labels) <= {0, 1}


@FUZZ
@given(st.binary(max_size=2048))
def test_tsv_reader_on_random_bytes(data):
    _check_tsv(data)


@FUZZ
@given(st.binary(max_size=512))
def test_tsv_reader_on_random_bytes_after_a_valid_header(data):
    _check_tsv(b"sentence\tlabel\n" + data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID_TSV) - 1), st.sampled_from(list(b"\t\n\r x1-\xff\x00"))),
                min_size=1, max_size=6), st.integers(0, len(VALID_TSV)))
def test_tsv_reader_on_edited_files(changes, keep):
    data = bytearray(VALID_TSV)
    for pos, byte in changes:
        data[pos] = byte
    _check_tsv(bytes(data[:keep]))
