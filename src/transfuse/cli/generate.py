"""`transfuse generate --model_name_or_path RUN --prompt TEXT` (or `--prompt_file`): prompts in, text out.

Greedy by default; `--do_sample` with `--temperature/--top_k/--top_p`, `--num_beams`, `--repetition_penalty`,
`--max_new_tokens`; tokens stream to the terminal as they are produced unless beam search or several sequences
per prompt are asked for. Works with a decoder or encoder-decoder run folder of `transfuse pretrain` and with
any local or Hub `AutoModelForCausalLM` / `AutoModelForSeq2SeqLM`. Options: `transfuse generate --help`.
"""

from __future__ import annotations

from transformers import HfArgumentParser


def main(argv: list[str]) -> int:
    from ..generation import GenerationArguments, run_generation

    parser = HfArgumentParser(GenerationArguments, prog="transfuse generate")
    if "-h" in argv or "--help" in argv:
        parser.print_help()
        return 0
    (args,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    run_generation(args)
    return 0
