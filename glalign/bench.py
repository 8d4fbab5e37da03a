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
    """Search latency per path beside the one-pass bound: a plain matrix-vector product over the same
    stored bytes (numpy or torch, whichever is faster in that dtype), on random unit embeddings of the
    synthpedes width (d = 96, global + 5 parts, 80% of parts present). Median of several queries after
    a warm-up; one JSON line per case."""
    import statistics

    import numpy as np

    import glalign.index as gi
    from glalign.evaluate import GalleryEmbeddings, QueryEmbeddings
    from glalign.search import topk_fused

    d, k = 96, 10
    unit = lambda *shape: torch.nn.functional.normalize(torch.randn(*shape), dim=-1)  # noqa: E731

    def timed(fn, calls):
        fn(calls[0])  # warm-up: pages mapped, kernels loaded
        times = []
        for c in calls:
            t0 = time.perf_counter()
            fn(c)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times), max(times) / min(times)

    def row(n, dtype, nq, path, ms, bound, spread, **extra):
        _print({"bench": "search", "gallery": n, "dtype": dtype, "queries": nq, "path": path,
                "latency_ms": round(ms, 2), "bound_ms": round(bound, 2), "ratio": round(ms / bound, 2),
                "spread": round(spread, 2), **extra})

    torch.manual_seed(0)
    q = QueryEmbeddings(unit(32, d), unit(32, 5, d), torch.rand(32, 5) > 0.3)
    w = gi.query_rows(q, 0.5)
    for n in getattr(args, "sizes", None) or (10_000, 100_000, 1_000_000):
        reps = 5 if n >= 1_000_000 else 9
        g = GalleryEmbeddings(unit(n, d), unit(n, 5, d), torch.rand(n, 5) > 0.2)
        with tempfile.TemporaryDirectory() as tmp:
            top32 = {}
            for dtype in ("float32", "float16"):
                idx = gi.FusedIndex(gi.write_index(Path(tmp) / dtype, g.global_, g.regions, g.present, dtype))
                ones = [w[i:i + 1] for i in range(reps)]
                # the fastest plain product in each dtype (numpy's BLAS for fp32: torch's fp32 gemv is
                # single-threaded here; torch's fp16 gemv: numpy has none); one library per case, so two
                # thread pools never spin against each other on the 2 cores
                plain = ((lambda x: np.dot(idx.rows, x[0])) if dtype == "float32" else
                         (lambda x: idx.row_block(0, n) @ torch.from_numpy(x[0]).half()))
                bound = timed(plain, ones)[0]
                one_ms, spread = timed(lambda x: idx.topk(x, k), ones)
                row(n, dtype, 1, "exact", one_ms, bound, spread)
                ms, spread = timed(lambda x: idx.topk(x, k), [w] * max(3, reps // 2))
                top32[dtype] = idx.topk(w, k)[1]
                extra = {"vs_one_query": round(ms / one_ms, 2)}
                if dtype == "float16":
                    extra["recall_at_10_vs_fp32"] = round(float(np.mean(
                        [len(set(a) & set(b)) / k for a, b in zip(top32["float32"].tolist(), top32[dtype].tolist())])), 4)
                row(n, dtype, 32, "exact", ms, bound, spread, **extra)
                if dtype == "float32":  # the old path, for comparison
                    calls = [QueryEmbeddings(q.global_[i:i + 1], q.phrases[i:i + 1], q.present[i:i + 1])
                             for i in range(3 if n >= 1_000_000 else reps)]
                    ms, spread = timed(lambda x: topk_fused(x, g, 0.5, k), calls)
                    row(n, dtype, 1, "topk_fused", ms, bound, spread)
                    continue
                try:
                    t0 = time.perf_counter()
                    ivf = gi.open_faiss(idx)
                    build_s = time.perf_counter() - t0
                except Exception as exc:  # faiss is optional
                    _print({"bench": "search", "gallery": n, "path": "faiss", "skipped": str(exc)})
                    continue
                for nq, calls in ((1, ones), (32, [w] * max(3, reps // 2))):
                    ms, spread = timed(lambda x: gi.faiss_topk(idx, ivf, x, k), calls)
                    got = gi.faiss_topk(idx, ivf, w, k)[1]
                    recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top32[dtype].tolist(), got.tolist())]))
                    row(n, dtype, nq, "faiss", ms, bound, spread, recall_at_10=round(recall, 4),
                        nlist=gi.default_nlist(n), nprobe=32, build_s=round(build_s, 1))
                del idx, ivf
        del g


def main(what: str, args) -> int:
    {"synth": bench_synth, "phrases": bench_phrases, "train": bench_train, "search": bench_search}[what](args)
    return 0
