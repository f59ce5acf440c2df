"""LoRA on a tiny Hub-style seq2seq model (a BART built from a config and saved locally): the adapter run folder
reloads alone with identical logits and translations and keeps its decoding defaults (`generation_config.json`,
which peft does not save), and the pipeline reads it."""

from __future__ import annotations

import torch
from datasets import Dataset
from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration

from transfuse.adapters import AdapterArguments, apply_adapter, load_for_inference, save_for_inference

from .conftest import make_task, reversal_pairs


def test_lora_adapter_reloads_with_identical_outputs(tmp_path, tiny_tokenizer):
    tokenizer = tiny_tokenizer
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=None,
    )
    base_dir = tmp_path / "bart"
    BartForConditionalGeneration(config).save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)

    task = make_task()
    model = AutoModelForSeq2SeqLM.from_pretrained(base_dir)
    model = apply_adapter(model, AdapterArguments(adapter="lora", lora_r=4))
    task.attach(tokenizer, model.config)
    with torch.no_grad():  # LoRA's B starts at zero: move it so that the adapter changes the outputs
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    sources, targets = reversal_pairs(4, seed=5)
    features = task.preprocess(Dataset.from_dict({"src": sources, "tgt": targets}), tokenizer, "validation")
    batch = task.data_collator(tokenizer, model)([features[i] for i in range(4)])
    batch = {key: value for key, value in batch.items() if key != "example_index"}
    model.eval()
    with torch.no_grad():
        logits = model(**batch).logits
        generated = model.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=8, num_beams=2
        )

    model.generation_config.num_beams, model.generation_config.max_new_tokens = 3, 7  # the run's decoding defaults
    run = tmp_path / "run"
    save_for_inference(model, run)
    reloaded = load_for_inference(run)
    assert (reloaded.generation_config.num_beams, reloaded.generation_config.max_new_tokens) == (3, 7)
    plain = AutoModelForSeq2SeqLM.from_pretrained(run / "base")  # what transformers' and peft's loaders build on
    assert (plain.generation_config.num_beams, plain.generation_config.max_new_tokens) == (3, 7)
    with torch.no_grad():
        assert torch.equal(reloaded(**batch).logits, logits)
        assert torch.equal(
            reloaded.generate(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=8, num_beams=2
            ),
            generated,
        )
    base = AutoModelForSeq2SeqLM.from_pretrained(base_dir).eval()
    with torch.no_grad():
        assert not torch.allclose(base(**batch).logits, logits)  # the adapter is what made the difference
