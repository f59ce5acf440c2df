"""transfuse: a from-scratch Transformer and a fine-tuning suite inside the Hugging Face ecosystem.

Importing the package registers the `transfuse` model type with the `transformers` Auto classes, so
`AutoModelForSequenceClassification.from_config(TransfuseConfig(...))` and friends work right away.
"""

from .modeling import *  # noqa: F403  (importing registers the Auto classes; the model family, by name)

__version__ = "0.1.0"
