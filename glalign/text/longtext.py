"""Texts longer than the text tower's context, read whole: sentence chunks, pooled.

A text that fits the tower's `max_length` tokens (special tokens included) is encoded as it is.
A longer one is cut into sentences (glalign.rsm.split_many: spaCy's sentencizer, underthesea for
Vietnamese), consecutive sentences are packed greedily into chunks that each fit, every chunk is
encoded by the same tower, and the text's embedding is the normalised mean of its chunks'
(normalised) embeddings. So every word reaches the embedding and short texts are unchanged.

Why pooling and not stretched position embeddings (Long-CLIP): stretching needs fine-tuning on
long texts to work, and would change every run's text tower; pooling uses the towers as trained.
Its cost: the chunks are read apart (a pronoun in chunk 2 does not see its noun in chunk 1), and
the mean weighs every chunk alike.

Only a single sentence longer than the context is still cut; then a warning says how many."""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F


def _token_counts(tokenizer, texts: list[str]) -> list[int]:
    """Tokens of each text without special tokens (words are pre-split on spaces, so the counts
    of sentences joined by a space add up)."""
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]


def warn_if_cut(texts: list[str], tokenizer, max_length: int, what: str) -> int:
    """Warn (and return how many) when texts that are encoded in one piece exceed max_length."""
    specials = len(tokenizer("")["input_ids"])
    cut = sum(n > max_length - specials for n in _token_counts(tokenizer, texts))
    if cut:
        warnings.warn(f"{cut} {what} are longer than the text tower's {max_length} tokens and are cut at it",
                      stacklevel=2)
    return cut


def chunk_texts(texts: list[str], tokenizer, max_length: int, lang: str = "en", view=None
                ) -> tuple[list[str], np.ndarray, int]:
    """(chunks, owner, cut): each text as one or more chunks (viewed, e.g. word-segmented for
    PhoBERT) of at most max_length tokens with the special tokens, the index of the text each
    chunk belongs to, and the number of sentences still longer than max_length (cut when encoded)."""
    from glalign.text.sentences import split_many

    view = view or (lambda t: t)
    viewed = [view(t) for t in texts]
    specials = len(tokenizer("")["input_ids"])
    room = max_length - specials
    counts = _token_counts(tokenizer, viewed)
    long = [i for i, n in enumerate(counts) if n > room]
    chunks: list[list[str]] = [[v] for v in viewed]
    cut = 0
    if long:
        sentences = split_many([texts[i] for i in long], lang)
        for i, ss in zip(long, sentences):
            ss = [view(s) for s in ss] or [viewed[i]]
            out, current, used = [], [], 0
            for s, n in zip(ss, _token_counts(tokenizer, ss)):
                cut += n > room
                if current and used + n > room:
                    out.append(" ".join(current))
                    current, used = [], 0
                current.append(s)
                used += n
            out.append(" ".join(current))
            chunks[i] = out
    owner = np.array([i for i, cs in enumerate(chunks) for _ in cs], dtype=np.int64)
    return [c for cs in chunks for c in cs], owner, cut


def encode_whole(texts: list[str], tokenizer, max_length: int, encode, lang: str = "en", view=None,
                 batch: int = 256, where: str = "text") -> torch.Tensor:
    """(N, d) embeddings of texts of any length: encode(input_ids, attention_mask) -> (n, d) on
    the chunks of chunk_texts, mean-pooled per text and normalised. Warns when a sentence is cut."""
    chunks, owner, cut = chunk_texts(texts, tokenizer, max_length, lang, view)
    if cut:
        warnings.warn(f"{cut} {where} sentence(s) are longer than the text tower's {max_length} tokens and are "
                      "cut at it (longer texts are read sentence by sentence; split such sentences to keep every "
                      "word)", stacklevel=2)
    outs = []
    for start in range(0, len(chunks), batch):
        tok = tokenizer(chunks[start:start + batch], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
        outs.append(encode(tok["input_ids"], tok["attention_mask"]).float().cpu())
    if not outs:
        return torch.zeros(0, 1)
    emb = F.normalize(torch.cat(outs), dim=-1)
    if len(chunks) == len(texts):
        return emb
    pooled = torch.zeros(len(texts), emb.shape[1]).index_add_(0, torch.as_tensor(owner), emb)
    return F.normalize(pooled, dim=-1)
