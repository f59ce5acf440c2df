"""TransfuseConfig.type_vocab_size: a token-type embedding only when asked for (SRL's predicate indicator)."""

from __future__ import annotations

import pytest
import torch

from transfuse.modeling import TransfuseForTokenClassification, get_preset


def test_token_types_reach_the_model_only_with_a_table() -> None:
    input_ids = torch.tensor([[5, 6, 7, 8]])
    types = torch.tensor([[0, 0, 1, 0]])
    plain = TransfuseForTokenClassification(get_preset("tiny", num_labels=3)).eval()
    assert not any("token_types" in name for name, _ in plain.named_parameters())
    assert torch.equal(plain(input_ids).logits, plain(input_ids, token_type_ids=types).logits)  # ignored

    typed = TransfuseForTokenClassification(get_preset("tiny", num_labels=3, type_vocab_size=2)).eval()
    assert typed.model.encoder.embed_token_types.weight.shape == (2, 32)
    with torch.no_grad():
        zeros = typed(input_ids, token_type_ids=torch.zeros_like(types)).logits
        marked = typed(input_ids, token_type_ids=types).logits
    assert not torch.allclose(zeros, marked)


def test_type_vocab_size_is_validated() -> None:
    with pytest.raises(ValueError, match="type_vocab_size=-1"):
        get_preset("tiny", type_vocab_size=-1)
