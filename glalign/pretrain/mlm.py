"""SynthPhoBERT: a small `RobertaForMaskedLM` pretrained by masked-language modelling on the
corpus's word-segmented Vietnamese captions (text only, as PhoBERT never saw images), saved as
vinai/phobert-base is (model + tokenizer), so `--text-encoder DIR` reads it as a PhoBERT.

The tokenizer is a BPE over underthesea-segmented words ('áo_khoác'), as PhoBERT's is, with
[BOS] ... [EOS] around each caption (pooled at [BOS] = RoBERTa's <s>) and a [MASK] token; masking
is transformers' DataCollatorForLanguageModeling (15%: 80% [MASK], 10% random, 10% kept)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from glalign.pretrain import common

MASK_TOKEN = "[MASK]"


@dataclass
class MlmPretrainConfig:
    """Sizes fit the captions of ~2,000 corpus identities in a minute or two on 2 CPU cores."""
    epochs: int = 6
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    width: int = 128
    layers: int = 3
    heads: int = 4
    max_length: int = 64
    vocab_size: int = 2000
    mlm_probability: float = 0.15
    seed: int = 0


def make_tokenizer(segmented: list[str], cfg: MlmPretrainConfig):
    from glalign.text.tokenizers import train_tokenizer

    tokenizer = train_tokenizer(segmented, "phobert", cfg.vocab_size)
    tokenizer.add_special_tokens({"mask_token": MASK_TOKEN})
    tokenizer.model_max_length = cfg.max_length
    return tokenizer


def build_mlm(cfg: MlmPretrainConfig, tokenizer):
    """Positions start after the padding index, as in RoBERTa: the context is max_length tokens."""
    from transformers import RobertaConfig, RobertaForMaskedLM

    pad = tokenizer.pad_token_id
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=cfg.width, num_hidden_layers=cfg.layers,
                           num_attention_heads=cfg.heads, intermediate_size=4 * cfg.width,
                           max_position_embeddings=cfg.max_length + pad + 1, type_vocab_size=1,
                           pad_token_id=pad, bos_token_id=tokenizer.bos_token_id,
                           eos_token_id=tokenizer.eos_token_id, hidden_dropout_prob=0.1,
                           attention_probs_dropout_prob=0.1)
    torch.manual_seed(cfg.seed)
    return RobertaForMaskedLM(config)


def _encode(tokenizer, texts: list[str], max_length: int) -> list[dict]:
    enc = tokenizer(texts, truncation=True, max_length=max_length, return_special_tokens_mask=True)
    return [{k: enc[k][i] for k in ("input_ids", "attention_mask", "special_tokens_mask")} for i in range(len(texts))]


@torch.inference_mode()
def masked_accuracy(model, collator, examples: list[dict], device, seed: int, batch: int = 256) -> dict:
    """Top-1 accuracy (%) on masked positions under a fixed mask, beside always guessing the most
    frequent masked token (what a model that ignored the context could at best do per token)."""
    model.eval()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    hits, n, targets = 0, 0, []
    try:
        for i in range(0, len(examples), batch):
            b = {k: v.to(device) for k, v in collator(examples[i:i + batch]).items()}
            labels = b.pop("labels")
            pred = model(**b).logits.argmax(-1)
            sel = labels != -100
            hits += int((pred[sel] == labels[sel]).sum())
            n += int(sel.sum())
            targets.append(labels[sel].cpu())
    finally:
        torch.random.set_rng_state(state)
    t = torch.cat(targets)
    majority = float(torch.bincount(t).max()) / max(len(t), 1) * 100
    return {"accuracy": hits / max(n, 1) * 100, "majority": majority, "masked": n}


def pretrain_mlm(out, corpus=None, n_ids: int = 2000, cfg: MlmPretrainConfig | None = None, device: str = "cpu",
                 overwrite: bool = False, progress: bool = True) -> Path:
    """Pretrain SynthPhoBERT into `out` (skipped when `out` already holds it with these settings)."""
    return common.pretrain_text_tower(out, corpus, n_ids, cfg or MlmPretrainConfig(), "synthphobert", "vi", train_mlm,
                                      save_mlm, device, overwrite, progress)


def _segment(texts: list[str], progress: bool) -> list[str]:
    """underthesea in chunks, so a long corpus shows progress."""
    from tqdm.auto import tqdm

    from glalign.text.tokenizers import segment_vietnamese

    chunk = 500
    out = []
    for i in tqdm(range(0, len(texts), chunk), desc="word segmentation", unit="chunk", disable=not progress,
                  leave=False):
        out += segment_vietnamese(texts[i:i + chunk])
    return out


def train_mlm(cfg: MlmPretrainConfig, train_recs, held_recs, device_name: str = "cpu", progress: bool = True):
    """(model on the CPU in eval mode, tokenizer, history rows, summary): masked-language modelling
    on the segmented captions of `train_recs`; masked accuracy on `held_recs`' captions each epoch."""
    from tqdm.auto import tqdm
    from transformers import DataCollatorForLanguageModeling

    from glalign.device import resolve_device

    device = resolve_device(device_name)
    t_start = time.perf_counter()
    train_caps = sorted({c for r in train_recs for c in r.captions})
    held_caps = sorted({c for r in held_recs for c in r.captions} - set(train_caps))
    segmented = _segment(train_caps + held_caps, progress)
    train_text, held_text = segmented[:len(train_caps)], segmented[len(train_caps):]
    tokenizer = make_tokenizer(train_text, cfg)
    model = build_mlm(cfg, tokenizer).to(device)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability)
    train_ex = _encode(tokenizer, train_text, cfg.max_length)
    held_ex = _encode(tokenizer, held_text, cfg.max_length)

    steps_per_epoch = max(1, len(train_ex) // cfg.batch_size)
    opt = common.adamw(model, cfg.lr, cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, common.warmup_cosine(steps_per_epoch * cfg.epochs,
                                                                         cfg.warmup_fraction))
    history = []
    for epoch in range(cfg.epochs):
        torch.manual_seed(cfg.seed * 1000 + epoch)  # masks and dropout
        order = torch.randperm(len(train_ex)).tolist()
        model.train()
        total, t0 = 0.0, time.perf_counter()
        bar = tqdm(range(steps_per_epoch), desc=f"SynthPhoBERT epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not progress, leave=False)
        for step in bar:
            batch = collator([train_ex[i] for i in order[step * cfg.batch_size:(step + 1) * cfg.batch_size]])
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            total += common.checked_step(model, opt, sched, loss, "SynthPhoBERT pretraining", epoch, step, cfg.lr)
            bar.set_postfix(loss=f"{total / (step + 1):.3f}")
        seconds = time.perf_counter() - t0
        held = masked_accuracy(model, collator, held_ex, device, cfg.seed) if held_ex else None
        history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "lr": opt.param_groups[0]["lr"],
                        "heldout_masked_acc": held["accuracy"] if held else float("nan"),
                        "heldout_majority_acc": held["majority"] if held else float("nan"),
                        "captions_per_s": steps_per_epoch * cfg.batch_size / seconds, "seconds": seconds})
        if progress:
            print(f"SynthPhoBERT epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]['loss']:.4f}"
                  + (f", held-out masked accuracy {held['accuracy']:.1f}% (most frequent token "
                     f"{held['majority']:.1f}%)" if held else ""))
    summary = {"train_captions": len(train_ex), "heldout_captions": len(held_ex), "heldout": held,
               "seconds": time.perf_counter() - t_start}
    return model.cpu().eval(), tokenizer, history, summary


def save_mlm(folder, model, tokenizer, cfg, history: list[dict]) -> None:
    """What a user would download: config.json, model.safetensors and tokenizer files; and
    history.csv, the pretraining curve."""
    import pandas as pd

    from glalign.io import write_csv
    from glalign.hub import quiet_transformers

    folder = Path(folder)
    with quiet_transformers():
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_csv(folder / "history.csv", pd.DataFrame(history))
