"""Offline: a backbone or data set that needs a download fails at once with OfflineError, naming the id
or URL and how to pass a local copy. The network is made unreachable for certain (Hugging Face offline
mode; every HTTP(S) request through a proxy on a closed local port), so nothing can hang."""
from __future__ import annotations

import pytest

from harsanyi_lightning.interactions.errors import OfflineError

DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, DEAD_PROXY)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # no cached torchvision weights
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    return tmp_path


def test_hugging_face_id_not_cached(no_network):
    from harsanyi_lightning.lightning_modules import load_tokenizer

    with pytest.raises(OfflineError) as err:
        load_tokenizer("hf:no-such-org/no-such-model-for-tests")
    msg = str(err.value)
    assert "no-such-org/no-such-model-for-tests" in msg and "backbone=/path/to/model_folder" in msg


def test_hugging_face_model_not_cached_in_a_module(no_network):
    from harsanyi_lightning.lightning_modules import FinetuneClassifier

    with pytest.raises(OfflineError, match="no-such-org/no-such-model-for-tests"):
        FinetuneClassifier(backbone="hf:no-such-org/no-such-model-for-tests")


def test_torchvision_weights_not_cached(no_network):
    from harsanyi_lightning.lightning_modules import build_classifier

    with pytest.raises(OfflineError) as err:
        build_classifier("resnet50", 10, pretrained=True)
    msg = str(err.value)
    assert "https://download.pytorch.org/models/resnet50" in msg and "model.init_args.weights=" in msg


def test_timm_weights_not_cached(no_network):
    from harsanyi_lightning.lightning_modules import build_classifier

    with pytest.raises(OfflineError) as err:
        build_classifier("vit_small_patch16_224", 10, pretrained=True)
    msg = str(err.value)
    assert "vit_small_patch16_224" in msg and "model.init_args.weights=" in msg


def test_sst2_download_offline_names_url_and_folder(no_network):
    from harsanyi_lightning.datamodules import SST2DataModule
    from harsanyi_lightning.datamodules.text import SST2_URL

    folder = no_network / "sst2"
    dm = SST2DataModule(data_dir=str(folder), backbone="tiny-bert")
    with pytest.raises(OfflineError) as err:
        dm.prepare_data()
    msg = str(err.value)
    assert SST2_URL in msg and str(folder) in msg and "--data.init_args.data_dir" in msg
    assert not list(folder.glob("*.part"))  # no half download left behind


def test_cifar10_download_offline_names_folder(no_network):
    from harsanyi_lightning.datamodules import CIFAR10DataModule

    dm = CIFAR10DataModule(data_dir=str(no_network / "cifar"), backbone="tiny-cnn")
    with pytest.raises(OfflineError) as err:
        dm.prepare_data()
    assert str(no_network / "cifar") in str(err.value) and "--data.init_args.data_dir" in str(err.value)
