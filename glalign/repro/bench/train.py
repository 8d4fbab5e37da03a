"""`glalign bench train`: training steps per second, pair passes and model FLOPs utilisation (MFU) of
the global-only, pool and crop variants, at the profile's size or the paper's (random weights,
random batches)."""
from __future__ import annotations

import math
import time

import torch

from glalign.repro.bench.emit import emit


CAPTION_TOKENS, PHRASE_TOKENS = 40, 6  # the random batch's caption and part-phrase lengths


CUHK_PEDES_PAIRS, PAPER_EPOCHS = 68_126, 20


# dense bf16 tensor-core peaks (FLOP/s) by device name, most specific first; others: --peak-tflops
BF16_PEAK = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12), ("B200", 2250e12),
             ("A100", 312e12), ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12), ("RTX 4090", 165e12))


class RandomVocab:
    """What build_model needs of a tokenizer when the text is random ids: a size and a pad id."""
    pad_token_id = 0

    def __len__(self):
        return 1000


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
    from glalign.config import PROFILES
    from glalign.device import resolve_device

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
            if variant in modes:
                emit(_train_row(args, device, peak_flops, prof, base, variant))
                if device.type == "cuda":
                    torch.cuda.empty_cache()


def _train_row(args, device, peak_flops, prof: str, base: dict, variant: str) -> dict:
    """One variant's numbers: args.steps timed steps after one warm-up step."""
    import resource

    from glalign.config import TrainConfig
    from glalign.model.factory import build_model
    from glalign.model.task import GLAlignTask, enable_grad_checkpointing

    mode, alpha = ("pool", 1.0) if variant == "global" else (variant, 0.5)
    cfg = TrainConfig.from_flat({**{k: v for k, v in base.items() if k not in ("image_encoder", "text_encoder")},
                                 "region_mode": mode, "alpha": alpha})
    torch.manual_seed(0)
    model = build_model(cfg, RandomVocab()).to(device)
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
    pairs_s = b / (sum(times) / len(times))
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
    return row
