"""Encoders: pooling positions under both paddings, each text kind, the real from_pretrained path."""
import pytest
import torch

from glalign.errors import ModelNotAvailableError
from glalign.model.encoders import EncoderSpec, build_image_encoder, build_text_encoder, pool_text


def test_pool_last_and_first_with_right_and_left_padding():
    hidden = torch.arange(2 * 5).float().view(2, 5, 1)
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert pool_text(hidden, right, "last").squeeze(-1).tolist() == [2.0, 9.0]
    assert pool_text(hidden, left, "last").squeeze(-1).tolist() == [4.0, 9.0]
    assert pool_text(hidden, right, "first").squeeze(-1).tolist() == [0.0, 5.0]
    assert pool_text(hidden, left, "first").squeeze(-1).tolist() == [2.0, 5.0]


def test_pool_rejects_empty_row():
    with pytest.raises(ValueError, match="no real token"):
        pool_text(torch.zeros(1, 3, 2), torch.zeros(1, 3, dtype=torch.long), "last")


def test_gpt2_pools_at_last_real_token_not_argmax_ids():
    # GPT-2 has no pad token; padding with eos (a high id) must not move the pooled position.
    spec = EncoderSpec(hidden=16, layers=1, heads=2, max_length=16, dropout=0.0)
    model, _ = build_text_encoder("gpt2", spec, vocab_size=50, pad_id=49)
    ids = torch.tensor([[5, 6, 7, 49, 49]])
    mask = torch.tensor([[1, 1, 1, 0, 0]])
    out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(pool_text(out, mask, "last"), out[:, 2])
    assert int(ids.argmax()) == 3  # the wrong position an argmax(ids) pooling would pick


@pytest.mark.parametrize("kind", ["clip", "gpt2", "phobert"])
def test_small_text_encoders_save_and_load_through_the_factory(kind, tmp_path):
    spec = EncoderSpec(hidden=16, layers=1, heads=2, max_length=16, dropout=0.0)
    model, hidden = build_text_encoder(kind, spec, vocab_size=40, pad_id=0)
    assert hidden == 16
    model.save_pretrained(tmp_path / kind)
    loaded, hidden2 = build_text_encoder(kind, EncoderSpec(source=str(tmp_path / kind)))
    ids = torch.tensor([[3, 4, 5]])
    mask = torch.ones_like(ids)
    model.eval(), loaded.eval()
    assert torch.allclose(model(input_ids=ids, attention_mask=mask).last_hidden_state,
                          loaded(input_ids=ids, attention_mask=mask).last_hidden_state, atol=1e-6)


def test_small_vision_encoder_roundtrip(tmp_path):
    model, hidden, grid, size = build_image_encoder(EncoderSpec(hidden=16, layers=1, heads=2, image_size=32,
                                                                patch_size=8, dropout=0.0))
    assert (hidden, grid, size) == (16, (4, 4), 32)
    model.save_pretrained(tmp_path / "vit")
    loaded, *_ = build_image_encoder(EncoderSpec(source=str(tmp_path / "vit")))
    x = torch.randn(1, 3, 32, 32)
    model.eval(), loaded.eval()
    assert torch.allclose(model(pixel_values=x).pooler_output, loaded(pixel_values=x).pooler_output, atol=1e-6)


def test_named_model_not_available_offline_says_how_to_provide_it():
    with pytest.raises(ModelNotAvailableError, match="huggingface-cli download openai/clip-vit-base-patch32"):
        build_image_encoder(EncoderSpec(source="openai/clip-vit-base-patch32"))


def test_missing_local_folder():
    from glalign.errors import GlalignError

    with pytest.raises(GlalignError, match="does not exist"):
        build_text_encoder("gpt2", EncoderSpec(source="./no/such/model"))
