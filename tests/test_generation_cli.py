"""`transfuse generate` and `transfuse.generation`: every decoding option on tiny models, streaming, files,
and the errors. Models are tiny and random (seeded): the tests check the decoding machinery, not the text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, set_seed

from transfuse import (
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
    get_preset,
)
from transfuse.cli.main import main
from transfuse.generation import (
    GenerationArguments,
    build_generation_config,
    encode_prompt,
    generate_text,
    load_for_generation,
)
from transfuse.tokenization import train_tokenizer

WORDS = "the cat dog bird sees likes finds a red blue green ball tree house river and feels happy sad".split()
PROMPTS = ["the cat sees", "a blue bird finds the red ball and"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random decoder, encoder-decoder, encoder and HF GPT-2 folders, each with the same tokenizer."""
    root = tmp_path_factory.mktemp("generation")
    texts = [" ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(12)) for i in range(200)]
    tokenizer = train_tokenizer(texts, vocab_size=300, show_progress=False, model_max_length=64)
    special = {"pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3}
    models = {
        "decoder": TransfuseForCausalLM(get_preset("tiny", "decoder", vocab_size=len(tokenizer))),
        "encoder-decoder": TransfuseForConditionalGeneration(
            get_preset("tiny", "encoder-decoder", vocab_size=len(tokenizer))
        ),
        "encoder": TransfuseForMaskedLM(get_preset("tiny", "encoder", vocab_size=len(tokenizer))),
        "gpt2": GPT2LMHeadModel(
            GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2, n_positions=64, **special)
        ),
    }
    folders = {}
    for name, model in models.items():
        torch.manual_seed(0)
        model.init_weights()
        folders[name] = root / name
        model.save_pretrained(folders[name])
        tokenizer.save_pretrained(folders[name])
    return folders


def options(**kwargs) -> GenerationArguments:
    return GenerationArguments(model_name_or_path="unused", prompt=PROMPTS, **{"max_new_tokens": 8, **kwargs})


def generate(folder: Path, **kwargs) -> list[list[str]]:
    model, tokenizer = load_for_generation(str(folder))
    args = options(**kwargs)
    set_seed(args.seed)
    return generate_text(
        model,
        tokenizer,
        PROMPTS,
        build_generation_config(model, tokenizer, args),
        stream=False,
        batch_size=args.batch_size,
    )


def new_token_ids(folder: Path, prompt: str, **kwargs) -> list[int]:
    model, tokenizer = load_for_generation(str(folder))
    ids = torch.tensor([encode_prompt(tokenizer, prompt, model.config.is_encoder_decoder)])
    output = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        generation_config=build_generation_config(model, tokenizer, options(**kwargs)),
    )
    return output[0, ids.shape[1] :].tolist()


def test_greedy_equals_an_argmax_loop_and_batching_changes_nothing(checkpoints) -> None:
    model, tokenizer = load_for_generation(str(checkpoints["decoder"]))
    prompt_ids = encode_prompt(tokenizer, PROMPTS[0], is_encoder_decoder=False)
    assert prompt_ids[0] == tokenizer.bos_token_id and prompt_ids[-1] != tokenizer.eos_token_id
    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(8):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
            if ids[-1] == tokenizer.eos_token_id:
                break
    expected = tokenizer.decode(ids, skip_special_tokens=True)[
        len(tokenizer.decode(prompt_ids, skip_special_tokens=True)) :
    ]
    batched = generate(checkpoints["decoder"])  # both prompts in one left-padded batch
    assert batched[0] == [expected]
    assert generate(checkpoints["decoder"], batch_size=1) == batched


def test_sampling_is_seeded_and_its_limits_are_greedy(checkpoints) -> None:
    greedy = generate(checkpoints["decoder"])
    sampled = generate(checkpoints["decoder"], do_sample=True, seed=1)
    assert generate(checkpoints["decoder"], do_sample=True, seed=1) == sampled
    assert generate(checkpoints["decoder"], do_sample=True, seed=2) != sampled
    assert sampled != greedy
    assert generate(checkpoints["decoder"], do_sample=True, top_k=1, seed=3) == greedy
    assert generate(checkpoints["decoder"], do_sample=True, top_p=1e-6, top_k=0, seed=3) == greedy
    assert generate(checkpoints["decoder"], do_sample=True, temperature=1e-4, seed=3) == greedy


def test_beam_search_returns_distinct_sequences(checkpoints) -> None:
    beams = generate(checkpoints["decoder"], num_beams=4, num_return_sequences=3)
    assert [len(set(sequences)) for sequences in beams] == [3, 3]


def test_repetition_penalty_and_max_new_tokens(checkpoints) -> None:
    plain = new_token_ids(checkpoints["decoder"], PROMPTS[0], max_new_tokens=12)
    assert len(plain) <= 12 and len(set(plain)) < len(plain)  # a random model loops on a few tokens
    penalized = new_token_ids(checkpoints["decoder"], PROMPTS[0], max_new_tokens=12, repetition_penalty=50.0)
    assert len(set(penalized)) > len(set(plain))
    assert len(new_token_ids(checkpoints["decoder"], PROMPTS[0], max_new_tokens=3)) <= 3


def test_encoder_decoder_and_any_causal_lm_generate(checkpoints) -> None:
    for name in ("encoder-decoder", "gpt2"):
        texts = generate(checkpoints[name], max_new_tokens=5)
        assert len(texts) == 2 and all(isinstance(t[0], str) for t in texts)


def test_cli_streams_tokens_and_writes_json_lines(checkpoints, tmp_path: Path, capsys) -> None:
    expected = generate(checkpoints["decoder"], max_new_tokens=6)
    assert (
        main(
            [
                "generate",
                "--model_name_or_path",
                str(checkpoints["decoder"]),
                "--prompt",
                PROMPTS[0],
                "--max_new_tokens",
                "6",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == (PROMPTS[0] + expected[0][0]).strip()

    prompt_file = tmp_path / "prompts.txt"
    prompt_file.write_text("\n".join(PROMPTS) + "\n\n", encoding="utf-8")
    output_file = tmp_path / "out" / "generations.jsonl"
    assert (
        main(
            [
                "generate",
                "--model_name_or_path",
                str(checkpoints["decoder"]),
                "--prompt_file",
                str(prompt_file),
                "--max_new_tokens",
                "6",
                "--output_file",
                str(output_file),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in output_file.read_text().splitlines()]
    assert [(r["prompt_index"], r["prompt"], r["generated_text"]) for r in rows] == [
        (i, p, t[0]) for i, (p, t) in enumerate(zip(PROMPTS, expected))
    ]


def test_errors_name_the_fix(checkpoints, tmp_path: Path, capsys) -> None:
    decoder = ["generate", "--model_name_or_path", str(checkpoints["decoder"])]
    cases = [
        (decoder, 2, "exactly one of --prompt and --prompt_file"),
        (
            decoder + ["--prompt", "x", "--stream", "true", "--num_beams", "2"],
            2,
            "--stream prints one sequence",
        ),
        (
            decoder + ["--prompt", "x", "--num_return_sequences", "2"],
            2,
            "needs --num_beams >= that or --do_sample",
        ),
        (decoder + ["--prompt", "x", "--do_sample", "--top_p", "0"], 2, r"--top_p must lie in \(0, 1\]"),
        (
            decoder + ["--prompt", "the cat", "--max_new_tokens", "80"],
            2,
            r"--max_new_tokens 80 needs \d+ positions but the model has 64",
        ),
        (
            ["generate", "--model_name_or_path", str(checkpoints["encoder"]), "--prompt", "x"],
            2,
            "cannot generate",
        ),
        (["generate", "--model_name_or_path", str(tmp_path / "missing"), "--prompt", "x"], 2, "missing"),
    ]
    for argv, code, pattern in cases:
        assert main(argv) == code, pattern
        assert re.search(pattern, capsys.readouterr().err), pattern
