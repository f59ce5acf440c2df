"""What every command that trains shares, task fine-tuning (`transfuse.training`) and pretraining
(`transfuse.pretraining`) alike; neither imports the other's internals.

* `arguments`: `ModelArguments` (a preset from scratch or a checkpoint) and the config-file + flags parser;
* `builder`: the model and tokenizer built from scratch (presets, vocabulary floor, special ids, positions);
* `folder`: the run folder (metrics.json, model card, loss curve), its overwrite guard and `--resume_from_checkpoint`;
* `checkpointing`: checkpoints that are complete or invisible (atomic saves), and the last complete one.

Submodules are imported by name (`from transfuse.common.folder import ...`); this package imports none of them.
"""
