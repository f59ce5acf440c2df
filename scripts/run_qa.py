"""Extractive question answering as a script (`transfuse train|evaluate|predict qa`), for `accelerate launch`.

    python scripts/run_qa.py [train|evaluate|predict] [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_qa.py configs/qa/squadshifts_minilm_lora.yaml
    torchrun --nproc_per_node 2 scripts/run_qa.py train --train_file ... --output_dir ...

No logic of its own: `transfuse.cli.task_command.script_main` (see its module docstring).
"""

import sys

from transfuse.cli.task_command import script_main

if __name__ == "__main__":
    sys.exit(script_main("qa"))
