"""Run folders like `transfuse train` leaves them (weights, code, tokenizer, card, metrics), built in seconds.

A tiny transfuse classifier is trained for a few steps on random tokens and saved with the workflow's own
writers (`write_model_card`, `write_metrics`, `save_for_inference`); a LoRA adapter is then trained on top of
that saved model. Both folders also hold what a push must leave out: `training_args.bin` (a pickle) and a
`checkpoint-*` folder. The card's command quotes the test token, as if the user had passed `--hub_token`.
"""

from __future__ import annotations

from pathlib import Path

import torch

TOKEN = "hf_TestTokenThatMustNeverLeak0123456789"
PROBE_IDS = [[2, 10, 11, 12, 13, 3, 0, 0], [2, 20, 21, 3, 0, 0, 0, 0]]


def _train_a_little(model: torch.nn.Module, steps: int = 4) -> None:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        input_ids = torch.randint(5, 60, (8, 12), generator=generator)
        labels = torch.randint(0, 3, (8,), generator=generator)
        model(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def _finish_run_folder(output_dir: Path, *, adapter: str | None, base_model: str | None) -> None:
    from transfuse.common.folder import write_metrics, write_model_card

    command = f"transfuse train classification --train_file train.jsonl --hub_token {TOKEN} --output_dir {output_dir}"
    metrics = {"accuracy": 0.75, "f1_macro": 0.7}
    write_metrics(output_dir, {"task": "classification", "command": command, "eval": metrics})
    write_model_card(
        output_dir,
        task_type="text-classification",
        metrics=metrics,
        command=command,
        dataset_name=str(output_dir / "validation.jsonl"),
        base_model=base_model,
        adapter=adapter,
    )
    (output_dir / "training_args.bin").write_bytes(b"pickled TrainingArguments, never uploaded")
    (output_dir / "checkpoint-4").mkdir()
    (output_dir / "checkpoint-4" / "optimizer.pt").write_bytes(b"never uploaded")


def build_hub_runs(root: Path) -> dict[str, Path]:
    """`{"model": full-model run folder, "adapter": LoRA run folder whose base is that model}`."""
    from transformers import AutoModelForSequenceClassification

    import transfuse
    from transfuse.adapters import AdapterArguments, apply_adapter, save_for_inference
    from transfuse.tokenization import train_tokenizer

    torch.manual_seed(0)
    tokenizer = train_tokenizer(
        [f"word{i} text number {i % 7}" for i in range(200)], vocab_size=300, show_progress=False
    )
    config = transfuse.get_preset(
        "tiny",
        "encoder",
        vocab_size=len(tokenizer),
        num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"},
        label2id={"neg": 0, "neu": 1, "pos": 2},
    )
    model = transfuse.TransfuseForSequenceClassification(config)
    _train_a_little(model)
    model_run = root / "model-run"
    model.save_pretrained(model_run)
    tokenizer.save_pretrained(model_run)
    _finish_run_folder(model_run, adapter=None, base_model=None)

    base = AutoModelForSequenceClassification.from_pretrained(model_run)
    peft_model = apply_adapter(base, AdapterArguments(adapter="lora", lora_r=4, target_modules=["q_proj", "v_proj"]))
    _train_a_little(peft_model)
    adapter_run = root / "adapter-run"
    save_for_inference(peft_model, adapter_run, AdapterArguments(adapter="lora", lora_r=4))
    tokenizer.save_pretrained(adapter_run)
    _finish_run_folder(adapter_run, adapter="lora", base_model=str(model_run))
    return {"model": model_run, "adapter": adapter_run}
