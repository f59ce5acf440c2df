"""Text classification as a script (`transfuse train|evaluate|predict classification`), for `accelerate launch`.

    python scripts/run_classification.py [train|evaluate|predict] [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_classification.py configs/classification/sst2_minilm_lora.yaml
    torchrun --nproc_per_node 2 scripts/run_classification.py train --train_file ... --output_dir ...

No logic of its own: `transfuse.cli.task_command.script_main` (see its module docstring).
"""

import sys

from transfuse.cli.task_command import script_main

if __name__ == "__main__":
    sys.exit(script_main("classification"))
