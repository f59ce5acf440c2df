"""Generative question answering as a script (`transfuse train|evaluate|predict generative-qa`), for
`accelerate launch`.

    python scripts/run_generative_qa.py [train|evaluate|predict] [CONFIG.yaml] [--option value ...]
    accelerate launch scripts/run_generative_qa.py configs/qa/squadshifts_generative_minilm2minilm.yaml

No logic of its own: `transfuse.cli.task_command.script_main` (see its module docstring).
"""

import sys

from transfuse.cli.task_command import script_main

if __name__ == "__main__":
    sys.exit(script_main("generative-qa"))
