"""Machine translation as a script: `transfuse train|evaluate|predict translation`, for `accelerate launch`.

    python scripts/run_translation.py [train|evaluate|predict] [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_translation.py configs/translation/multi30k_de_en_small_scratch.yaml
    torchrun --nproc_per_node 2 scripts/run_translation.py train --train_file ... --output_dir ...

The first word picks the command (default: train); everything after it takes exactly the options of
`transfuse <command> translation` (see `--help`). The script holds no logic of its own: it calls the same
workflow, so a run started here and one started by the CLI are the same run.
"""

from __future__ import annotations

import os
import sys

from transfuse.cli import evaluate, predict, train
from transfuse.cli.task_command import run_task_command

SUMMARIES = {"train": train.summarize, "evaluate": evaluate.summarize, "predict": predict.summarize}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in SUMMARIES else "train"
    return run_task_command(command, ["translation", *argv], SUMMARIES[command], program=os.path.relpath(__file__))


if __name__ == "__main__":
    sys.exit(main())
