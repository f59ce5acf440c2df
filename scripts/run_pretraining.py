"""Pretraining as a script: `transfuse pretrain`, for `accelerate launch` and `torchrun`.

    python scripts/run_pretraining.py [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_pretraining.py configs/pretraining/small_decoder.yaml
    accelerate launch --config_file configs/accelerate/multi_cpu.yaml scripts/run_pretraining.py \
        configs/pretraining/small_encoder.yaml --max_steps 200

Takes exactly the options of `transfuse pretrain` (see `--help`) and holds no logic of its own: a run started
here and one started by the CLI are the same run.
"""

from __future__ import annotations

import sys

from transfuse.cli import pretrain

if __name__ == "__main__":
    sys.exit(pretrain.main(sys.argv[1:]))
