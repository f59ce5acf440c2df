"""Text generation as a script (`transfuse generate`).

    python scripts/run_generation.py --model_name_or_path runs/pretrain/small_decoder --prompt "Once upon a time"
    python scripts/run_generation.py --model_name_or_path RUN --prompt_file prompts.txt --do_sample \
        --top_p 0.9 --temperature 0.8 --output_file generations.jsonl

Takes exactly the options of `transfuse generate` and holds no logic of its own (`transfuse.cli.main.command_main`).
"""

import sys

from transfuse.cli.main import command_main

if __name__ == "__main__":
    sys.exit(command_main("generate"))
