"""Machine translation as a script (`transfuse train|evaluate|predict translation`), for `accelerate launch`.

    python scripts/run_translation.py [train|evaluate|predict] [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_translation.py configs/translation/multi30k_de_en_small_scratch.yaml
    torchrun --nproc_per_node 2 scripts/run_translation.py train --train_file ... --output_dir ...

No logic of its own: `transfuse.cli.task_command.script_main` (see its module docstring).
"""

import sys

from transfuse.cli.task_command import script_main

if __name__ == "__main__":
    sys.exit(script_main("translation"))
