"""A saved checkpoint loads with `trust_remote_code=True` where transfuse cannot be imported.

`save_pretrained` ships `configuration_transfuse.py` and `modeling_transfuse.py` with an `auto_map` of every
head (and `predicate_tagger.py` for SRL's predicate-aware tagger). The test saves several heads, then loads each
in a child Python where `import transfuse` fails (the module is blocked in `sys.modules`, PYTHONPATH is cleared,
the working directory is a temp folder and the dynamic-module cache lives in `tmp_path`), and compares the
child's outputs with the parent's bit for bit.
Inputs and outputs cross the process boundary as safetensors files, never pickles.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch
from safetensors.torch import load_file, safe_open, save_file

from transfuse.modeling import (
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
    TransfuseForSequenceClassification,
)

from .common import TransfuseModelTester, build, main_outputs
from .test_predicate_tagger import bert_config, tagger
from .test_predicate_tagger import inputs as tagger_inputs

# name: (architecture, head, Auto class the child loads it with, config overrides)
CASES = {
    "causal_lm": ("decoder", TransfuseForCausalLM, "AutoModelForCausalLM", {}),
    "seq2seq": ("encoder-decoder", TransfuseForConditionalGeneration, "AutoModelForSeq2SeqLM", {}),
    # one vocabulary per side (translation with a tokenizer per language)
    "seq2seq_two_vocabularies": (
        "encoder-decoder",
        TransfuseForConditionalGeneration,
        "AutoModelForSeq2SeqLM",
        {"decoder_vocab_size": 48},
    ),
    "masked_lm": ("encoder", TransfuseForMaskedLM, "AutoModelForMaskedLM", {}),
    "classifier": ("encoder", TransfuseForSequenceClassification, "AutoModelForSequenceClassification", {}),
}
GENERATING = ("causal_lm", "seq2seq_two_vocabularies")  # cases whose `generate` output is compared too
NEW_TOKENS = 4

CHILD_SCRIPT = textwrap.dedent("""
    import sys

    sys.modules["transfuse"] = None  # any `import transfuse` now raises ImportError
    import json

    import torch
    import transformers
    from safetensors.torch import load_file, save_file

    try:
        import transfuse  # noqa: F401
    except ImportError:
        pass
    else:
        sys.exit("transfuse is importable in the child; the test would prove nothing")

    outputs, modules = {}, {}
    for name, (folder, auto_name, output_names, new_tokens) in json.load(open("cases.json")).items():
        model = getattr(transformers, auto_name).from_pretrained(folder, trust_remote_code=True).eval()
        modules[name] = type(model).__module__
        inputs = load_file(f"{name}.inputs.safetensors")
        with torch.no_grad():
            result = model(**inputs)
            for output_name in output_names:
                outputs[f"{name}.{output_name}"] = result[output_name].contiguous()
            if new_tokens:
                outputs[f"{name}.generated"] = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
    save_file(outputs, "outputs.safetensors", metadata=modules)
""")


def test_checkpoints_load_with_remote_code_without_transfuse(tmp_path):
    expected, child_cases = {}, {}
    for name, (architecture, model_class, auto_name, overrides) in CASES.items():
        tester = TransfuseModelTester(architecture, overrides)
        model = build(model_class, tester.get_config())
        inputs = tester.prepare_inputs(model_class)
        folder = tmp_path / name
        model.save_pretrained(folder)
        assert {"configuration_transfuse.py", "modeling_transfuse.py", "model.safetensors"} <= {
            p.name for p in folder.iterdir()
        }
        assert json.loads((folder / "config.json").read_text())["auto_map"][auto_name].endswith(model_class.__name__)
        save_file(inputs, tmp_path / f"{name}.inputs.safetensors")
        with torch.no_grad():
            outputs = main_outputs(model(**inputs))
            if name in GENERATING:
                outputs["generated"] = model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False)
        expected |= {f"{name}.{output_name}": tensor for output_name, tensor in outputs.items()}
        new_tokens = NEW_TOKENS if "generated" in outputs else 0
        child_cases[name] = (str(folder), auto_name, [o for o in outputs if o != "generated"], new_tokens)
    # the predicate-aware tagger over BERT (SRL's head) ships its own file, predicate_tagger.py
    model, inputs = tagger(bert_config()), tagger_inputs()
    model.save_pretrained(tmp_path / "predicate_tagger")
    save_file(inputs, tmp_path / "predicate_tagger.inputs.safetensors")
    with torch.no_grad():
        expected["predicate_tagger.logits"] = model(**inputs).logits
    child_cases["predicate_tagger"] = (
        str(tmp_path / "predicate_tagger"),
        "AutoModelForTokenClassification",
        ["logits"],
        0,
    )
    (tmp_path / "cases.json").write_text(json.dumps(child_cases))

    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env |= {
        "HF_MODULES_CACHE": str(tmp_path / "hf_modules"),
        "HF_HUB_OFFLINE": "1",
        # the same thread count as here, so reductions run in the same order and logits match bit for bit
        "OMP_NUM_THREADS": str(torch.get_num_threads()),
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-3000:]

    actual = load_file(tmp_path / "outputs.safetensors")
    assert actual.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(actual[key], tensor), f"{key} differs when loaded through remote code"
    with safe_open(tmp_path / "outputs.safetensors", "pt") as stored:
        modules = stored.metadata()
    for name in child_cases:  # the classes came from the shipped files, not from an installed transfuse
        assert modules[name].startswith("transformers_modules."), f"{name} loaded from {modules[name]}"
