"""Pretraining as a script (`transfuse pretrain`), for `accelerate launch` and `torchrun`.

    python scripts/run_pretraining.py [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_pretraining.py configs/pretraining/small_decoder.yaml
    accelerate launch --config_file configs/accelerate/multi_cpu.yaml scripts/run_pretraining.py \
        configs/pretraining/small_encoder.yaml --max_steps 200

Takes exactly the options of `transfuse pretrain` and holds no logic of its own (`transfuse.cli.main.command_main`).
"""

import sys

from transfuse.cli.main import command_main

if __name__ == "__main__":
    sys.exit(command_main("pretrain"))
