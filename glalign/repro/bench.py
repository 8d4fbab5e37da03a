"""`glalign bench ...`: benchmarks that print numbers (not timed tests)."""
from __future__ import annotations

import json
import math
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


CAPTION_TOKENS, PHRASE_TOKENS = 40, 6  # the random batch's caption and part-phrase lengths
CUHK_PEDES_PAIRS, PAPER_EPOCHS = 68_126, 20
# dense bf16 tensor-core peaks (FLOP/s) by device name, most specific first; others: --peak-tflops
BF16_PEAK = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12), ("B200", 2250e12),
             ("A100", 312e12), ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12), ("RTX 4090", 165e12))
# the paper-size model with random weights (no download): ViT-B/32 and CLIP's text tower
PAPER_RANDOM = dict(image_size=224, patch_size=32, vision_hidden=768, vision_layers=12, text_hidden=512,
                    text_layers=12, heads=8, embed_dim=512, max_length=77, batch_size=32)


def random_batch(cfg, batch: int) -> dict:
    """A training batch of the right shapes for a TrainConfig: every part present, one phrase per part."""
    b, s = batch, cfg.model.image_size
    out = {"pixels": torch.randn(b, 3, s, s), "present": torch.ones(b, 5, dtype=torch.bool),
           "input_ids": torch.randint(4, 1000, (b, CAPTION_TOKENS)),
           "attention_mask": torch.ones(b, CAPTION_TOKENS, dtype=torch.long), "labels": torch.arange(b),
           "phrase_present": torch.ones(b, 5, dtype=torch.bool),
           "phrase_slots": torch.stack(torch.meshgrid(torch.arange(b), torch.arange(5), indexing="ij"), -1).view(-1, 2),
           "phrase_ids": torch.randint(4, 1000, (b * 5, PHRASE_TOKENS)),
           "phrase_mask": torch.ones(b * 5, PHRASE_TOKENS, dtype=torch.long)}
    if cfg.model.region_mode == "crop":
        out["crops"] = torch.randn(b, 5, 3, s, s)
    else:
        out["weights"] = torch.rand(b, 5, (s // cfg.model.patch_size) ** 2)
    return out


def tower_flops(config, tokens: int) -> float:
    """Forward FLOPs (2 per multiply-add) of one sequence through a transformer tower: the four
    attention projections, the MLP, and the two attention products (embeddings and norms left out)."""
    h = getattr(config, "hidden_size", None) or config.n_embd
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    ffn = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * h
    return layers * (tokens * (8 * h * h + 4 * h * ffn) + 4 * tokens * tokens * h)


def train_flops_per_pair(model, region_mode: str, local: bool) -> float:
    """Model FLOPs of one training pair (forward + backward = 3 forwards; a checkpointed forward
    is not counted, as MFU does not): the image (and in crop mode its five part crops, all present
    in the random batch), the caption and its five part phrases."""
    v = model.config.vision_config
    grid = (v.image_size // v.patch_size) ** 2
    vit = tower_flops(v, grid + 1) + 2 * grid * 3 * v.patch_size ** 2 * v.hidden_size  # + patch embedding
    text = tower_flops(model.config.text_config, CAPTION_TOKENS)
    if local:
        vit *= 6 if region_mode == "crop" else 1
        text += 5 * tower_flops(model.config.text_config, PHRASE_TOKENS)
    return 3 * (vit + text)


def device_peak(device, override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None  # no meaningful bf16 tensor peak for a CPU: FLOP/s only
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_PEAK if key in name), None)


def bench_train(args):
    """Training pairs/s, peak memory and model FLOP utilisation, crop vs pool vs global-only, on
    random data of the right shapes (one fixed batch: the input pipeline is not measured here;
    `glalign bench pipeline` measures that)."""
    import resource

    from glalign.config import PROFILES, TrainConfig
    from glalign.device import resolve_device
    from glalign.model.factory import build_model
    from glalign.model.task import GLAlignTask, enable_grad_checkpointing

    device = resolve_device(args.device)
    peak_flops = device_peak(device, getattr(args, "peak_tflops", None))
    profiles = ["synthpedes"] + (["paper-random"] if args.paper else [])
    modes = getattr(args, "modes", None) or ("global", "pool", "crop")
    for prof in profiles:
        base = dict(PROFILES["synthpedes"]) if prof == "synthpedes" else dict(PAPER_RANDOM)
        if getattr(args, "batch_size", None):
            base["batch_size"] = args.batch_size
        # cheapest first: on the CPU the peak is the process's max RSS so far, so it only grows
        for variant in ("global", "pool", "crop"):
            if variant not in modes:
                continue
            mode, alpha = ("pool", 1.0) if variant == "global" else (variant, 0.5)
            cfg = TrainConfig.from_flat({**{k: v for k, v in base.items() if k not in ("image_encoder", "text_encoder")},
                                         "region_mode": mode, "alpha": alpha})
            torch.manual_seed(0)
            model = build_model(cfg, _RandomVocab()).to(device)
            if getattr(args, "grad_checkpointing", False):
                enable_grad_checkpointing(model)
            task = GLAlignTask(model, alpha).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            b = cfg.optim.batch_size
            batch = {k: v.to(device) for k, v in random_batch(cfg, b).items()}
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            times, losses = [], []
            for step in range(args.steps + 1):
                t0 = time.perf_counter()
                loss = task(batch)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))  # synchronises with the device
                if step:  # the first step warms up (allocator, kernels)
                    times.append(time.perf_counter() - t0)
            step_s = sum(times) / len(times)
            pairs_s = b / step_s
            flops = train_flops_per_pair(model, mode, alpha < 1)
            peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                    else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            row = {"bench": "train", "profile": prof, "device": device.type, "region_mode": mode,
                   "variant": "global-only" if alpha == 1 else "full", "batch": b,
                   "grad_checkpointing": bool(getattr(args, "grad_checkpointing", False)),
                   "pairs_per_s": round(pairs_s, 1), "losses_finite": all(map(math.isfinite, losses)),
                   ("peak_gpu_mib" if device.type == "cuda" else "process_peak_rss_mib"): round(peak, 1),
                   "gflop_per_pair": round(flops / 1e9, 2), "tflop_s": round(flops * pairs_s / 1e12, 3)}
            if peak_flops:
                row["mfu"] = round(flops * pairs_s / peak_flops, 4)
            if prof != "synthpedes":
                row["projected_20_epochs_cuhk_min"] = round(CUHK_PEDES_PAIRS * PAPER_EPOCHS / pairs_s / 60, 1)
            _print(row)
            del model, task, opt, batch
            if device.type == "cuda":
                torch.cuda.empty_cache()


def bench_pipeline(args):
    """Images/s of the training input pipeline (decode, resize, part masks, normalise, flip, pool
    weights) for a SynthPEDES domain: decoding the files (what every new run did) vs reading the
    memory-mapped file cache (glalign.data.image_cache), and the one-off cost of building it."""
    from glalign.data import image_cache
    from glalign.data.records import load_dataset
    from glalign.data.synth import generate_domain
    from glalign.data.torchdata import ImageStore, image_item

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "A"
        generate_domain(root, "A", n_ids=args.ids, progress=False)
        records = load_dataset(root, lang="en", check_images=False).records
        for size, patch in ((64, 8), (224, 32)):
            grid = (size // patch, size // patch)

            def epoch(store):
                t0 = time.perf_counter()
                for i, r in enumerate(records):
                    image_item(store, r, i % 2 == 0, "pool")
                return len(records) / (time.perf_counter() - t0)

            decoded = epoch(ImageStore(size, grid))
            t0 = time.perf_counter()
            image_cache.attach(ImageStore(size, grid), records, root)
            build_s = time.perf_counter() - t0
            store = ImageStore(size, grid)
            image_cache.attach(store, records, root)
            cached = epoch(store)
            _print({"bench": "pipeline", "images": len(records), "image_size": size,
                    "decode_images_per_s": round(decoded, 1), "cache_build_s": round(build_s, 2),
                    "cached_images_per_s": round(cached, 1), "speedup": round(cached / decoded, 2),
                    "cache_mib": round(sum(f.stat().st_size for f in image_cache.cache_folder(
                        root, store, image_cache.fingerprint(records, size, "vitaa")).iterdir()) / 2**20, 1)})


def bench_search(args):
    """Search latency per path beside the one-pass bound: a plain matrix-vector product over the same
    stored bytes (numpy or torch, whichever is faster in that dtype), on random unit embeddings of the
    synthpedes width (d = 96, global + 5 parts, 80% of parts present). Median of several queries after
    a warm-up; one JSON line per case."""
    import statistics

    import numpy as np

    import glalign.retrieval.index as gi
    from glalign.retrieval.embeddings import GalleryEmbeddings, QueryEmbeddings
    from glalign.retrieval.fusion import query_rows
    from glalign.retrieval.search import topk_fused

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
    w = query_rows(q, 0.5)
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
    {"synth": bench_synth, "phrases": bench_phrases, "train": bench_train, "search": bench_search,
     "pipeline": bench_pipeline}[what](args)
    return 0
