"""The Hub round trip, end to end, against a local fake Hub (no mocks of `huggingface_hub`).

`transfuse push` uploads a trained transfuse classifier (private), its LoRA adapter (`--adapter_only`) and the
adapter merged into its base (branch `v1`) through the real `HfApi` client; then a fresh Python process in which
`import transfuse` is impossible loads all three by repo id, the adapter with the exact code its model card gives,
and must reproduce the logits computed locally. The token must not appear in any uploaded file nor in any output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch
import yaml
from fake_hub import FakeHub
from hub_runs import PROBE_IDS, TOKEN

PUSH = """
import sys
from transfuse.cli.main import main
for argv in {argvs!r}:
    code = main(argv)
    if code:
        sys.exit(f"transfuse {{' '.join(argv)}} exited with {{code}}")
"""

LOAD_WITHOUT_TRANSFUSE = """
import json, re, sys
sys.modules["transfuse"] = None  # any `import transfuse` now raises: only the code on the Hub can run
import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError
from transformers import AutoModelForSequenceClassification

try:
    hf_hub_download("tester/tiny-classifier", "config.json", token=False)
    anonymous = "allowed"
except RepositoryNotFoundError:
    anonymous = "refused"

ids = torch.tensor({probe!r})
mask = (ids != 0).long()
full = AutoModelForSequenceClassification.from_pretrained("tester/tiny-classifier", trust_remote_code=True)
card = open(hf_hub_download("tester/tiny-classifier-lora", "README.md")).read()
snippet = re.search(r"## How to use it\\s+```python\\n(.*?)```", card, re.S).group(1)
namespace = {{}}
exec(snippet, namespace)  # the card's own instructions
adapter = namespace["model"]
merged = AutoModelForSequenceClassification.from_pretrained("tester/tiny-classifier-merged", revision="v1",
                                                            trust_remote_code=True)
with torch.no_grad():
    logits = {{name: model.eval()(input_ids=ids, attention_mask=mask).logits.tolist()
              for name, model in (("full", full), ("adapter", adapter), ("merged", merged))}}
with open({result_path!r}, "w") as handle:
    json.dump({{"logits": logits, "anonymous": anonymous, "module": type(full).__module__, "snippet": snippet}},
              handle)
"""


def _local_logits(runs) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForSequenceClassification

    from transfuse.adapters import load_for_inference

    ids = torch.tensor(PROBE_IDS)
    mask = (ids != 0).long()
    with torch.no_grad():
        full = AutoModelForSequenceClassification.from_pretrained(runs["model"]).eval()
        adapter = load_for_inference(runs["adapter"])
        return {
            "full": full(input_ids=ids, attention_mask=mask).logits,
            "adapter": adapter(input_ids=ids, attention_mask=mask).logits,
        }


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300
    )


def test_push_then_load_by_repo_id_without_transfuse(hub_runs, tmp_path):
    expected = _local_logits(hub_runs)
    with FakeHub(token=TOKEN) as hub:
        env = {
            **os.environ,
            "HF_ENDPOINT": hub.endpoint,
            "HF_TOKEN": TOKEN,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_OFFLINE": "0",
            "TRANSFORMERS_OFFLINE": "0",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        argvs = [
            ["push", str(hub_runs["model"]), "--repo_id", "tester/tiny-classifier", "--private"],
            [
                "push",
                str(hub_runs["adapter"]),
                "--repo_id",
                "tester/tiny-classifier-lora",
                "--adapter_only",
                "--base_model_repo_id",
                "tester/tiny-classifier",
            ],
            ["push", str(hub_runs["adapter"]), "--repo_id", "tester/tiny-classifier-merged", "--revision", "v1"],
        ]
        push = _run(PUSH.format(argvs=argvs), {**env, "HF_HOME": str(tmp_path / "pusher")})
        assert push.returncode == 0, push.stderr[-3000:]
        result_path = tmp_path / "loaded.json"
        load = _run(
            LOAD_WITHOUT_TRANSFUSE.format(probe=PROBE_IDS, result_path=str(result_path)),
            {**env, "HF_HOME": str(tmp_path / "loader")},
        )
        unanswered = [f"{r['method']} {r['path']}" for r in hub.requests if r["path"].startswith("/api/agent")]
        assert load.returncode == 0, (load.stderr[-6000:], unanswered)
        result = json.loads(result_path.read_text())
        model_files = hub.files("tester/tiny-classifier")
        adapter_files = hub.files("tester/tiny-classifier-lora")
        merged_main, merged_v1 = (
            hub.files("tester/tiny-classifier-merged"),
            hub.files("tester/tiny-classifier-merged", "v1"),
        )
        uploaded = hub.uploaded_files()
        lfs_puts = [r for r in hub.requests if r["method"] == "PUT" and r["path"].startswith("/lfs-objects/")]

    # identical logits, computed by the code that travelled with the weights
    assert result["module"].startswith("transformers_modules"), result["module"]
    assert torch.equal(torch.tensor(result["logits"]["full"]), expected["full"])
    assert torch.equal(torch.tensor(result["logits"]["adapter"]), expected["adapter"])
    torch.testing.assert_close(torch.tensor(result["logits"]["merged"]), expected["adapter"], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(expected["adapter"], expected["full"])  # the adapter changed the model

    # what was uploaded: safetensors weights through LFS, the code of every head, tokenizer, card; no pickles
    assert {
        "model.safetensors",
        "config.json",
        "configuration_transfuse.py",
        "modeling_transfuse.py",
        "tokenizer.json",
        "README.md",
        "metrics.json",
    } <= set(model_files)
    auto_map = json.loads(model_files["config.json"])["auto_map"]
    assert len(auto_map) == 8 and all(ref.split(".")[0] + ".py" in model_files for ref in auto_map.values())
    assert {"adapter_model.safetensors", "adapter_config.json", "config.json", "tokenizer.json"} <= set(adapter_files)
    assert "model.safetensors" not in adapter_files
    assert json.loads(adapter_files["adapter_config.json"])["base_model_name_or_path"] == "tester/tiny-classifier"
    assert "model.safetensors" in merged_v1 and "model.safetensors" not in merged_main
    for name in uploaded:
        assert not name.endswith((".bin", ".pt")) and "checkpoint-" not in name, name
    assert len(lfs_puts) == 3  # model, adapter and merged weights; small text files go inline (base64)

    # the cards: metrics in model-index, lineage, loading code for the repo id
    model_card = yaml.safe_load(model_files["README.md"].decode().split("---")[1])
    assert model_card["model-index"][0]["name"] == "tiny-classifier"
    metrics = {m["type"]: m["value"] for m in model_card["model-index"][0]["results"][0]["metrics"]}
    assert metrics == {"accuracy": 0.75, "f1_macro": 0.7}
    adapter_card = yaml.safe_load(adapter_files["README.md"].decode().split("---")[1])
    assert (adapter_card["base_model"], adapter_card["base_model_relation"]) == ("tester/tiny-classifier", "adapter")
    assert adapter_card["library_name"] == "peft"
    expected = "AutoPeftModelForSequenceClassification.from_pretrained(\n    'tester/tiny-classifier-lora'"
    assert expected in result["snippet"]
    assert "transfuse train classification" in model_files["README.md"].decode()  # the command that trained it

    # the token: only in Authorization headers, never in a file, a card or any output
    assert "--hub_token ***" in model_files["README.md"].decode()
    assert not [name for name, content in uploaded.items() if TOKEN.encode() in content]
    for output in (push.stdout, push.stderr, load.stdout, load.stderr):
        assert TOKEN not in output
    assert result["anonymous"] == "refused"  # --private
