"""Tokenizers: trained on the training captions with the `tokenizers` library for small models,
or loaded with transformers for pretrained ones. Saved with the run so it can be rebuilt."""
from __future__ import annotations

from pathlib import Path


SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "bos": "[BOS]", "eos": "[EOS]"}


_SEGMENTED: dict[str, str] = {}  # text -> segmented: evaluation segments the same sentences many times
_SEGMENTED_LIMIT = 500_000


def segment_vietnamese(texts: list[str]) -> list[str]:
    """PhoBERT expects word-segmented input ('áo_khoác đen'); underthesea does it offline. Each
    distinct text is segmented once per process (a pure function of the text): one evaluation
    reads a long caption's sentences for its global chunks, its local units and the local
    protocol, and CRF segmentation is the slowest step of a Vietnamese evaluation."""
    from underthesea import word_tokenize

    out = []
    for t in texts:
        seg = _SEGMENTED.get(t)
        if seg is None:
            seg = word_tokenize(t, format="text")
            if len(_SEGMENTED) < _SEGMENTED_LIMIT:
                _SEGMENTED[t] = seg
        out.append(seg)
    return out


def train_tokenizer(texts: list[str], kind: str, vocab_size: int = 2000):
    """A BPE tokenizer for a small model. Templates match each kind's pooling: CLIP-style
    [BOS] ... [EOS] (pool at EOS), GPT-2-style bare text (pool at the last word), RoBERTa-style
    [BOS] ... [EOS] with pooling at [BOS]."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=SPECIALS["unk"]))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS.values()), min_frequency=2,
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    bos, eos = SPECIALS["bos"], SPECIALS["eos"]
    if kind == "gpt2":
        tok.post_processor = processors.TemplateProcessing(single="$A", special_tokens=[])
    else:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=SPECIALS["pad"], unk_token=SPECIALS["unk"],
                                   bos_token=bos, eos_token=eos)


def load_tokenizer(source: str | Path, kind: str):
    """A saved or pretrained tokenizer; GPT-2's gets a pad token (it has none) so batches pad."""
    from glalign.hub import load_tokenizer_files

    tok = load_tokenizer_files(source)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok
