"""`glalign evaluate`: the global protocol (rank_metrics' numbers) and the local one (ROGLE)."""
from __future__ import annotations

import json

from glalign.cli.types import unit_float
from glalign.config import FORMATS
from glalign.errors import GlalignError


def cmd_evaluate(args) -> int:
    from glalign.retrieval.evaluate import evaluate_run

    if args.protocol == "local":
        return _evaluate_local(args)
    result = evaluate_run(args.run, args.data, split=args.split, alpha=args.alpha, fmt=args.format,
                          lang=args.lang, per_query_out=args.per_query, device=args.device,
                          image_encoder=args.image_encoder, text_encoder=args.text_encoder, masks=args.masks,
                          queries=args.queries or "short", fusion=args.fusion)
    metrics = {k: result.metrics[k] for k in ("R1", "R5", "R10", "mAP", "mINP")}
    metrics["n_queries"] = result.n_queries
    from glalign.distributed import is_main

    if not is_main():  # under torchrun every process has the result; rank 0 prints it
        return 0
    if args.json:
        print(json.dumps(metrics))
    else:
        print("  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
    return 0


def _evaluate_local(args) -> int:
    """The local protocol (glalign.local_protocol): part-conditioned region retrieval, grounding
    and attribute foils, per part, each beside its chance and a text-only baseline."""
    from glalign.rogle.local_protocol import evaluate_local

    model = args.run or args.image_encoder
    if not model or (args.run is None and args.text_encoder not in (None, args.image_encoder)):
        raise GlalignError("--protocol local needs --run RUN, or one CLIP folder as --image-encoder "
                           "(its own text tower)")
    from pathlib import Path

    if args.masks != "parsing" and not (Path(args.data) / args.masks).is_dir():  # named, so never boxes instead
        raise GlalignError(f"mask folder {Path(args.data) / args.masks} does not exist (without --masks, regions "
                           "come from DATA/parsing, or from regions.json's boxes where it has none)")
    lang = args.lang or "en"
    out = evaluate_local(args.data, model, lang=lang, split=args.split, region_mode=args.region_mode,
                         device=args.device, masks=args.masks, queries=args.queries or "long")
    if args.json:  # one object: the headline numbers, the per-part rows, absent regions
        print(json.dumps(out))
    else:
        from glalign.rogle.local_protocol import format_table

        print(format_table(out))
    return 0


def add_evaluate(sub) -> None:
    """glalign evaluate."""
    ev = sub.add_parser("evaluate", help="rank a dataset split with a trained run")
    ev.add_argument("--run", help="a trained run folder")
    ev.add_argument("--image-encoder", help="zero-shot (no --run): a CLIP model folder or cached hub name")
    ev.add_argument("--text-encoder", help="zero-shot (no --run): a CLIP / GPT-2 / RoBERTa folder or cached name")
    ev.add_argument("--data", required=True)
    ev.add_argument("--format", choices=FORMATS, default="auto")
    ev.add_argument("--split", default="test")
    ev.add_argument("--lang", choices=("en", "vi"), help="caption language (default: the run's)")
    ev.add_argument("--alpha", type=unit_float, help="fusion weight (default: the run's)")
    ev.add_argument("--fusion", choices=("raw", "zscore"), default="raw",
                    help="raw: the paper's alpha*global + (1-alpha)*local; zscore: each score standardised over "
                         "the gallery per query first (the global cosine spreads wider than the local one)")
    ev.add_argument("--per-query", help="write per-query results (CSV) here")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    ev.add_argument("--masks", default="parsing", help="folder of part label maps under DIR (default: parsing)")
    ev.add_argument("--protocol", choices=("global", "local"), default="global",
                    help="global: image retrieval (R1/5/10, mAP, mINP); local (regions.json): a sentence retrieves "
                         "regions of its part (identity and attribute relevance), grounds its region in its "
                         "image, and beats attribute foils; per part, beside chance and a text-only baseline")
    ev.add_argument("--queries", choices=("short", "long"),
                    help="the dataset's short captions (default of the global protocol), or the long-form "
                         "captions of regions.json (default of the local protocol: their sentences; short: "
                         "the captions' noun phrases)")
    ev.add_argument("--region-mode", choices=("crop", "pool"), default="pool",
                    help="local protocol: regions pooled from the part masks, or cropped boxes")
    ev.set_defaults(func=cmd_evaluate)
