"""`glalign pretrain` (the stand-ins) and `glalign rsm mine` (ROGLE's region-sentence pairs)."""
from __future__ import annotations

import json

from glalign.cli.types import command_group, finite_float, positive_int, seed


def cmd_rsm_mine(args) -> int:
    from glalign.rogle.mine import mine

    summary = mine(args.data, args.model, lang=args.lang, captions=args.captions, min_margin=args.min_margin,
                   per_region=args.per_region, region_mode=args.region_mode, device=args.device,
                   split=args.split, progress=not args.quiet)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def cmd_pretrain(args) -> int:
    """SynthCLIP or SynthPhoBERT into --out (skipped when it already holds one with these settings)."""
    if args.what == "shipped":  # all three stand-ins and their manifest: glalign.pretrain.ship
        from glalign.pretrain.ship import ship

        print(ship(args.out, recipe=args.recipe, corpus=args.corpus, device=args.device, workers=args.workers,
                   progress=not args.quiet))
        return 0
    if args.what == "parser":  # SynthParser: glalign.pretrain.parser
        from glalign.pretrain.parser import train_parser

        print(train_parser(args.corpus, args.out, epochs=args.epochs, seed=args.seed, n_ids=args.ids,
                           device=args.device, overwrite=args.overwrite, progress=not args.quiet))
        return 0
    if args.what == "clip":
        from glalign.pretrain.clip import ClipPretrainConfig as Config, pretrain_clip as pretrain
    else:
        from glalign.pretrain.mlm import MlmPretrainConfig as Config, pretrain_mlm as pretrain
    cfg = Config(seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    out = pretrain(args.out, corpus=args.corpus, n_ids=args.ids, cfg=cfg, device=args.device,
                   overwrite=args.overwrite, progress=not args.quiet)
    print(out)
    return 0


def add_rsm(sub) -> None:
    """glalign rsm mine."""
    rsub = command_group(sub, "rsm", "region-to-sentence matching (ROGLE's RSM)", "rsm_command")
    rm = rsub.add_parser("mine", help="mine region-sentence pairs with a vision-language model",
                         description="Split captions into units, embed units and region boxes (regions.json) "
                                     "with a CLIP folder or GLAlign run, assign them one-to-one and keep reliable "
                                     "pairs; writes DATA/rsm_pairs.<lang>.<captions>.json and prints a JSON summary "
                                     "(precision/recall beside the keyword lexicon's where ground truth exists).")
    rm.add_argument("--data", required=True, help="dataset root with regions.json")
    rm.add_argument("--model", required=True, help="CLIP folder (SynthCLIP, openai/clip-...) or GLAlign run")
    rm.add_argument("--lang", choices=("en", "vi"), default="en")
    rm.add_argument("--captions", choices=("long", "short"), default="long",
                    help="long: sentences of the long captions; short: noun phrases of the short captions")
    rm.add_argument("--min-margin", type=finite_float, default=0.05,
                    help="drop pairs whose cosine margin over the next-best region is below this")
    rm.add_argument("--per-region", type=positive_int, default=1, help="units a region may take (1: one-to-one)")
    rm.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                    help="mine this split's images only (--local-supervision rsm trains on the train split's "
                         "long-caption pairs)")
    rm.add_argument("--region-mode", choices=("crop", "pool"), default="crop")
    rm.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    rm.add_argument("--quiet", action="store_true")
    rm.set_defaults(func=cmd_rsm_mine)


def add_pretrain(sub) -> None:
    """glalign pretrain clip | phobert | parser | shipped."""
    pt = sub.add_parser("pretrain", help="pretrain SynthCLIP / SynthPhoBERT on a synthetic corpus",
                        description="Build the embedded default's pretrained transformers on a corpus of their own "
                                    "identities: clip is a CLIPModel trained contrastively on English image-caption "
                                    "pairs, phobert a RobertaForMaskedLM trained on word-segmented Vietnamese captions. "
                                    "The folder loads like openai/clip-vit-base-patch32 / vinai/phobert-base "
                                    "(--image-encoder DIR --text-encoder DIR); history.csv holds the curve.")
    pt.add_argument("what", choices=("clip", "phobert", "parser", "shipped"),
                    help="parser: SynthParser, a small SegformerForSemanticSegmentation trained on the corpus's "
                         "part label maps (run it with `glalign data parse ROOT --parser OUT`); shipped: all three "
                         "with the shipped recipe and a MANIFEST.json (the folders in glalign/pretrained/)")
    pt.add_argument("--recipe", choices=("shipped", "tiny"), default="shipped",
                    help="with shipped: the package's recipe, or the same code at test size")
    pt.add_argument("--workers", type=positive_int, default=2, help="with shipped: processes (2: side by side)")
    pt.add_argument("--out", required=True, help="model folder (written atomically)")
    pt.add_argument("--corpus", help="SynthPEDES-format corpus folder; made with --ids if missing or empty "
                                     "(default: OUT/../corpus-<ids>)")
    pt.add_argument("--ids", type=positive_int, default=2000, help="identities of a corpus made here")
    pt.add_argument("--epochs", type=positive_int)
    pt.add_argument("--seed", type=seed, default=0)
    pt.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    pt.add_argument("--overwrite", action="store_true", help="replace a model made with other settings")
    pt.add_argument("--quiet", action="store_true")
    pt.set_defaults(func=cmd_pretrain)
