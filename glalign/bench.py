"""`glalign bench ...`: benchmarks that print numbers (not timed tests)."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch


def _print(obj):
    print(json.dumps(obj))


def bench_synth(args):
    from glalign.data.synth import generate_domain

    with tempfile.TemporaryDirectory() as tmp:
        s = generate_domain(Path(tmp) / "A", "A", n_ids=args.ids, progress=False)
    _print({"bench": "synth", **s})


def bench_phrases(args):
    from glalign.data.synth import generate_domain
    from glalign.data.records import load_dataset
    from glalign.text.phrases import extract

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "A"
        generate_domain(root, "A", n_ids=100, progress=False)
        for lang in ("en", "vi"):
            caps = [c for r in load_dataset(root, lang=lang, check_images=False).records for c in r.captions]
            extract(caps[:10], lang)
            t0 = time.perf_counter()
            extract(caps, lang)
            dt = time.perf_counter() - t0
            _print({"bench": "phrases", "lang": lang, "captions": len(caps), "captions_per_s": round(len(caps) / dt, 1)})


class _RandomVocab:
    """What build_model needs of a tokenizer when the text is random ids: a size and a pad id."""
    pad_token_id = 0

    def __len__(self):
        return 1000


def bench_train(args):
    """Training pairs/s and peak memory, crop vs pool vs global-only, on random data of the right shapes."""
    import resource

    from glalign.config import PROFILES, TrainConfig
    from glalign.device import resolve_device
    from glalign.model.factory import build_model
    from glalign.model.task import GLAlignTask

    device = resolve_device(args.device)
    profiles = ["synthpedes"] + (["paper-random"] if args.paper else [])
    for prof in profiles:
        base = dict(PROFILES["synthpedes"]) if prof == "synthpedes" else dict(
            image_size=224, patch_size=32, vision_hidden=768, vision_layers=12, text_hidden=512, text_layers=12,
            heads=8, embed_dim=512, max_length=77, batch_size=32)
        # cheapest first: on the CPU the peak is the process's max RSS so far, so it only grows
        for mode, alpha in (("pool", 1.0), ("pool", 0.5), ("crop", 0.5)):
            cfg = TrainConfig.from_flat({**{k: v for k, v in base.items() if k not in ("image_encoder", "text_encoder")},
                                         "region_mode": mode, "alpha": alpha})
            model = build_model(cfg, _RandomVocab()).to(device)
            task = GLAlignTask(model, alpha)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            b, s = cfg.optim.batch_size, cfg.model.image_size
            batch = {"pixels": torch.randn(b, 3, s, s), "present": torch.ones(b, 5, dtype=torch.bool),
                     "input_ids": torch.randint(4, 1000, (b, 40)), "attention_mask": torch.ones(b, 40, dtype=torch.long),
                     "labels": torch.arange(b), "phrase_present": torch.ones(b, 5, dtype=torch.bool),
                     "phrase_slots": torch.stack(torch.meshgrid(torch.arange(b), torch.arange(5), indexing="ij"),
                                                 -1).view(-1, 2),
                     "phrase_ids": torch.randint(4, 1000, (b * 5, 6)),
                     "phrase_mask": torch.ones(b * 5, 6, dtype=torch.long)}
            if mode == "crop":
                batch["crops"] = torch.randn(b, 5, 3, s, s)
            else:
                batch["weights"] = torch.rand(b, 5, (s // cfg.model.patch_size) ** 2)
            batch = {k: v.to(device) for k, v in batch.items()}
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            times = []
            for step in range(args.steps + 1):
                t0 = time.perf_counter()
                loss = task(batch)["loss"]
                opt.zero_grad()
                loss.backward()
                opt.step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if step:
                    times.append(time.perf_counter() - t0)
            pairs_s = b / (sum(times) / len(times))
            peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                    else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            row = {"bench": "train", "profile": prof, "device": device.type, "region_mode": mode,
                   "variant": "global-only" if alpha == 1 else "full", "batch": b, "pairs_per_s": round(pairs_s, 1),
                   ("peak_gpu_mib" if device.type == "cuda" else "process_peak_rss_mib"): round(peak, 1)}
            if prof != "synthpedes":
                row["projected_20_epochs_cuhk_h"] = round(68126 * 20 / pairs_s / 3600, 2)
            _print(row)


def bench_search(args):
    """Latency of one query by the search path itself (fused global + 5-part local score, chunked
    top-k) on random unit embeddings of the synthpedes width."""
    from glalign.evaluate import GalleryEmbeddings, QueryEmbeddings
    from glalign.search import topk_fused

    d, unit = 96, lambda *shape: torch.nn.functional.normalize(torch.randn(*shape), dim=-1)  # noqa: E731
    query = QueryEmbeddings(unit(1, d), unit(1, 5, d), torch.tensor([[True, True, True, True, False]]))
    for n in (10_000, 100_000, 1_000_000):
        gallery = GalleryEmbeddings(unit(n, d), unit(n, 5, d), torch.ones(n, 5, dtype=torch.bool))
        topk_fused(query, gallery, 0.5, 10)
        reps = 5
        t0 = time.perf_counter()
        for _ in range(reps):
            topk_fused(query, gallery, 0.5, 10)
        _print({"bench": "search", "gallery": n, "dim": d, "parts": 5,
                "latency_ms": round((time.perf_counter() - t0) / reps * 1000, 2)})
        del gallery


def main(what: str, args) -> int:
    {"synth": bench_synth, "phrases": bench_phrases, "train": bench_train, "search": bench_search}[what](args)
    return 0
