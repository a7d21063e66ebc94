"""Fuzz (hypothesis): study YAML files made of random text, and random edits of a valid study config
(values of random types at random keys, keys deleted, unknown keys added), never give `cli.py study` a
traceback: each either stops with one `error (<Type>): ...` line and exit status 2 before any work, or is
valid and reaches the first regime (where the test stops it: training is not what is fuzzed here)."""
from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import harsanyi_lightning.study.run.loop as loop
from tests.reliability.harness import last_line, run_in_process, write_tiny_study

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DIR = Path(tempfile.mkdtemp(prefix="harsanyi-fuzz-study-"))
_COUNT = itertools.count()
VALID = yaml.safe_load(write_tiny_study(_DIR / "configs", _DIR / "valid").read_text())


class ReachedTraining(Exception):
    """The config was valid: the study got to its first regime."""


def _stop_at_the_first_stage(*args, **kwargs):
    raise ReachedTraining


def check_study_config(text: str) -> str:
    """Run `cli.py study --config <text>` (in-process): ``"valid"``, or the one-line error it printed."""
    path = _DIR / f"study_{next(_COUNT)}.yaml"
    path.write_text(text)
    with mock.patch.object(loop, "run_regime", _stop_at_the_first_stage):
        try:
            rc, out, err = run_in_process("study", "--config", str(path))
        except ReachedTraining:
            return "valid"
    msg = last_line(err)
    assert rc == 2 and "Traceback" not in err, (text, err[-3000:])
    assert msg.startswith("error (") and "): " in msg, (text, msg)
    return msg


def test_the_valid_config_reaches_training():
    assert check_study_config(yaml.safe_dump(dict(VALID, study_dir=str(_DIR / "study_valid")))) == "valid"


leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True),
                 st.text(max_size=12), st.sampled_from(["fp16", "probe", "harsanyi_lightning.datamodules.NoSuch", "torch.optim.SGD", "."]))
value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                     max_leaves=6)


def _paths(node, prefix=()):
    """Every key path of a nested dict/list config."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


EDIT_PATHS = [p for p in _paths(VALID) if p[0] != "study_dir"]
edit = st.tuples(st.sampled_from(["replace", "delete", "add"]), st.sampled_from(EDIT_PATHS), st.text(max_size=8), value)


def _apply(config: dict, op: str, path: tuple, key: str, new) -> None:
    node = config
    for k in path[:-1]:
        if not isinstance(node, (dict, list)):
            return
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            return
    if not isinstance(node, (dict, list)):
        return
    last = path[-1]
    try:
        if op == "replace":
            node[last] = new
        elif op == "delete":
            del node[last]
        elif isinstance(node, dict):
            node[key] = new
        else:
            node.append(new)
    except (KeyError, IndexError, TypeError):
        pass


@FUZZ
@given(st.lists(edit, min_size=1, max_size=4),
       st.sampled_from(["fresh", "", " ", ".", "a\x00b", 5, None, ["x"], {"a": 1}]))
def test_edited_study_configs_give_a_message_or_train(edits, study_dir):
    import copy

    config = copy.deepcopy(VALID)
    config["study_dir"] = str(_DIR / f"study_{next(_COUNT)}") if study_dir == "fresh" else study_dir
    for op, path, key, new in edits:
        _apply(config, op, path, key, new)
    result = check_study_config(yaml.safe_dump(config, allow_unicode=True))
    event("valid" if result == "valid" else result.split(":", 1)[0])


@FUZZ
@given(st.text(max_size=300))
def test_random_text_gives_a_message(text):
    result = check_study_config(text)
    assert result != "valid" or "study_dir" in text  # only a study config can be valid


@pytest.mark.parametrize("where, value, words", [
    ("shared.data.class_path", "harsanyi_lightning.datamodules.NoSuchDataModule", ["regime 'probe'", "is not a known data module",
                                                                "harsanyi_lightning.datamodules.TinyTextDataModule"]),
    ("regimes.finetune.overrides.model.class_path", "harsanyi_lightning.lightning_modules.NoSuch", ["regime 'finetune'", "is not a known model",
                                                                         "harsanyi_lightning.lightning_modules.FinetuneClassifier"]),
    ("shared.trainer.callbacks", [{"class_path": "harsanyi_lightning.callbacks.NoSuch"}], ["is not a known callback",
                                                                        "harsanyi_lightning.callbacks.InteractionCallback"]),
])
def test_unknown_class_path_in_a_study_is_named_before_any_regime_runs(where, value, words):
    import copy

    config = copy.deepcopy(VALID)
    config["study_dir"] = str(_DIR / f"study_{next(_COUNT)}")
    node = config
    *keys, last = where.split(".")
    for k in keys:
        node = node.setdefault(k, {})
    node[last] = value
    msg = check_study_config(yaml.safe_dump(config))
    given = value if isinstance(value, str) else value[0]["class_path"]
    assert msg.startswith("error (ConfigError): ") and f"class_path {given!r}" in msg
    for w in words:
        assert w in msg, (w, msg)
    assert not Path(config["study_dir"]).exists() or not list(Path(config["study_dir"]).iterdir())
