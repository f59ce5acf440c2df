"""transfuse: a from-scratch Transformer and a fine-tuning suite inside the Hugging Face ecosystem."""

__version__ = "0.1.0"
