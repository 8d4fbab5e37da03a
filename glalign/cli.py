"""The `glalign` command line. Each subcommand is a thin shell over a package function,
so notebooks and the CLI share one code path. User mistakes print one line and exit 2."""
from __future__ import annotations

import argparse
import errno
import json
import sys

from glalign.config import FORMATS
from glalign.config import PROFILES as TRAIN_PROFILES
from glalign.errors import GlalignError, os_error_of


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def _seed(text: str) -> int:
    """A seed every generator accepts (numpy's and torch's: [0, 2**32 - 1])."""
    from glalign.config import MAX_SEED

    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, {MAX_SEED}], got {value}")
    return value


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


# ---------------------------------------------------------------- command bodies
def cmd_data_synth(args) -> int:
    from glalign.data.synth import generate_domain

    stats = generate_domain(args.out, domain=args.domain, n_ids=args.ids, seed=args.seed,
                            height=args.height, width=args.width, progress=not args.quiet,
                            test_ids=args.test_ids, val_ids=args.val_ids)
    print(json.dumps(stats, ensure_ascii=False))
    return 0


def cmd_data_check(args) -> int:
    from glalign.data.check import check_dataset, format_stats

    stats = check_dataset(args.root, fmt=args.format, skip_bad=args.skip_bad, lang=args.lang)
    print(json.dumps(stats, ensure_ascii=False) if args.json else format_stats(stats))
    return 0


def cmd_data_parse(args) -> int:
    from glalign.parsing.segformer import parse_dataset

    counts = parse_dataset(args.root, args.parser, out=args.out, device=args.device, batch_size=args.batch_size,
                           progress=not args.quiet, fmt=args.format)
    print(json.dumps(counts, ensure_ascii=False))
    return 0


def cmd_data_sheet(args) -> int:
    from glalign.plots import contact_sheet

    path = contact_sheet(args.root, args.out, n_ids=args.ids, fmt=args.format)
    print(path)
    return 0


def cmd_text_phrases(args) -> int:
    from glalign.text.phrases import read_lines, stream_phrases

    for obj in stream_phrases(read_lines(args.file), lang=args.lang, mode=args.mode):
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def cmd_train(args) -> int:
    from glalign.config import TrainConfig
    from glalign.train import train

    cfg = TrainConfig.from_cli(args)  # settings refused here, once, before any process starts
    if args.nproc > 1:  # the shortcut: torchrun starts the processes, each runs this command without --nproc
        from pathlib import Path

        from glalign.distributed import launch

        for root in cfg.data.data:
            if not Path(root).is_dir():
                raise GlalignError(f"--data {root} is not a dataset folder (it does not exist or is a file)")
        return launch(args.nproc, ["train", *strip_nproc(args.argv)])
    if args.workers < 0:
        raise GlalignError(f"--workers must be 0 or more, got {args.workers}")
    cfg.workers, cfg.grad_checkpointing, cfg.image_cache = args.workers, args.grad_checkpointing, args.image_cache
    run = train(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    from glalign.distributed import is_main

    if is_main():
        print(run)
    return 0


def strip_nproc(argv: list[str]) -> list[str]:
    """The train arguments without --nproc N / --nproc=N (what each launched process runs)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def cmd_evaluate(args) -> int:
    from glalign.evaluate import evaluate_run

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
    from glalign.local_protocol import evaluate_local

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
        from glalign.local_protocol import format_table

        print(format_table(out))
    return 0


def cmd_search(args) -> int:
    from glalign.search import search_cli

    return search_cli(args)


def cmd_reproduce(args) -> int:
    if args.verify is not None:  # compare a rerun with the committed tables: glalign.verify
        from pathlib import Path

        from glalign.verify import verify_cli

        return verify_cli(args.verify or Path(args.results) / args.profile, args.reference, args.profile)
    if args.reference:
        raise GlalignError("--reference goes with --verify (compare a rerun with it); drop it to rerun the notebooks")
    from glalign.reproduce import reproduce

    out = reproduce(profile=args.profile, results_root=args.results, workdir=args.workdir,
                    only=args.only)
    print(out)
    return 0


def cmd_sweep(args) -> int:
    """The validation sweep (glalign.sweep): one row per setting, best per language and init."""
    from pathlib import Path

    from glalign.io import write_csv
    from glalign.reproduce import default_workdir
    from glalign.scenarios import Workspace
    from glalign.sweep import best_settings, sweep

    ws = Workspace(args.profile, args.workdir or default_workdir(args.profile), progress=not args.quiet)
    table = sweep(ws, epochs=args.epochs)
    if args.out:
        write_csv(Path(args.out), table)
    cols = [c for c in ("lang", "init", "lr", "head_lr_scale", "text_pooling", "epochs", "best_epoch", "val_R1",
                        "val_R1_global", "val_R1_local", "converged", "val_curve") if c in table]
    print(table[cols].to_string(index=False))
    print("\nchosen on validation:\n" + best_settings(table)[cols].to_string(index=False))
    return 0


def cmd_rsm_mine(args) -> int:
    from glalign.rsm import mine

    summary = mine(args.data, args.model, lang=args.lang, captions=args.captions, min_margin=args.min_margin,
                   per_region=args.per_region, region_mode=args.region_mode, device=args.device,
                   progress=not args.quiet)
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


def cmd_bench(args) -> int:
    from glalign import bench

    return bench.main(args.what, args)


def cmd_paper(args) -> int:
    from glalign.paper import find_inconsistencies

    for item in find_inconsistencies():
        print(f"[{item['kind']}] {item['where']}: {item['detail']}")
    return 0


def cmd_paper_verify(args) -> int:
    from pathlib import Path

    from glalign.paper import verify_text

    path = Path(args.text)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GlalignError(f"{path} does not exist; pass the paper's text file") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise GlalignError(f"{path}: not a UTF-8 text file ({type(exc).__name__})") from None
    found = verify_text(text)
    for item in found:
        print(f"[{item['kind']}] {item['where']}: {item['detail']}")
    print(f"{len(found)} finding(s)" if found else "results/paper agrees with the text")
    return 1 if found else 0


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="glalign",
        description="GLAlign for text-based person search: data, noun phrases, training, "
                    "evaluation, search and the paper's experiments.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # data
    data = sub.add_parser("data", help="make, read and validate person-search datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = dsub.add_parser("synth", help="generate a SynthPEDES domain (deterministic from --seed)",
                        description="Render a synthetic TBPS dataset in the CUHK-PEDES layout: images, "
                                    "part label maps, native and translated captions, conditions.")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--domain", required=True, choices=("A", "B"),
                   help="A: CUHK-PEDES-like, English native; B: 3000VnPerson-like, Vietnamese native")
    s.add_argument("--ids", type=_positive_int, default=None, help="number of identities")
    s.add_argument("--test-ids", type=_positive_int, default=None,
                   help="at least this many test identities (default: the domain's proportion)")
    s.add_argument("--val-ids", type=int, default=None,
                   help="at least this many validation identities, disjoint from train and test (default: 10%%)")
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--height", type=_positive_int, default=128)
    s.add_argument("--width", type=_positive_int, default=64)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_data_synth)

    c = dsub.add_parser("check", help="validate a dataset folder and print its statistics",
                        description="Reads a dataset in one of the supported layouts; any bad entry "
                                    "is reported with its file and index and the exit code is 2.")
    c.add_argument("root", help="dataset root folder")
    c.add_argument("--format", choices=FORMATS, default="auto")
    c.add_argument("--json", action="store_true", help="one JSON object on stdout")
    c.add_argument("--skip-bad", action="store_true", help="drop bad entries and count them instead of failing")
    c.add_argument("--lang", choices=("en", "vi"),
                   help="read the language variant reid_raw_<lang>.json when there is one (e.g. CUHK-PEDES-VN)")
    c.set_defaults(func=cmd_data_check)

    pa = dsub.add_parser("parse", help="write part masks with a human-parsing model (SegFormer, SynthParser)",
                         description="Run a transformers semantic-segmentation model over a dataset and write "
                                     "ViTAA part label maps (0-5), one PNG per image at its relative path. The "
                                     "model's id2label (LIP, ATR or ViTAA names) says what its labels are. "
                                     "Resumable: masks already written are kept.")
    pa.add_argument("root", help="dataset root folder")
    pa.add_argument("--parser", required=True, help="model folder (save_pretrained) or a cached hub name")
    pa.add_argument("--out", help="mask folder (default ROOT/parsing)")
    pa.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    pa.add_argument("--batch-size", type=_positive_int, default=32)
    pa.add_argument("--format", choices=FORMATS, default="auto")
    pa.add_argument("--quiet", action="store_true", help="no progress bar")
    pa.set_defaults(func=cmd_data_parse)

    sh = dsub.add_parser("sheet", help="save a contact sheet (images, masks, captions) as PNG")
    sh.add_argument("root")
    sh.add_argument("--out", required=True)
    sh.add_argument("--ids", type=_positive_int, default=20)
    sh.add_argument("--format", choices=FORMATS, default="auto")
    sh.set_defaults(func=cmd_data_sheet)

    # text
    text = sub.add_parser("text", help="noun phrases and body-part mapping")
    tsub = text.add_subparsers(dest="text_command", metavar="ACTION", required=True)
    t = tsub.add_parser("phrases", help="captions in (one per line), NP/part JSON lines out",
                        description="Extract noun phrases (spaCy for English, underthesea for "
                                    "Vietnamese) and map each to a body part or null.")
    t.add_argument("file", nargs="?", help="caption file, one per line (default: stdin)")
    t.add_argument("--lang", required=True, choices=("en", "vi"))
    t.add_argument("--mode", choices=("paper", "extended"), default="extended",
                   help="paper: the paper's keyword lists verbatim; extended: with synonyms and lemmas")
    t.set_defaults(func=cmd_text_phrases)

    # train
    tr = sub.add_parser("train", help="train GLAlign on a dataset",
                        description="Train the global+local model; writes config.json, "
                                    "model.safetensors, tokenizer files and history.csv to --out.")
    tr.add_argument("--data", required=True, action="append",
                    help="dataset root (repeat to train on several, e.g. SE4)")
    tr.add_argument("--lang", required=True, choices=("en", "vi"))
    tr.add_argument("--out", required=True, help="run folder")
    tr.add_argument("--format", choices=FORMATS, default="auto")
    tr.add_argument("--profile", choices=tuple(TRAIN_PROFILES), default="synthpedes",
                    help="settings preset; synthpedes-finetune: the paper's fine-tuning regime for SynthCLIP/SynthPhoBERT")
    tr.add_argument("--config", help="JSON file of TrainConfig fields (flags override it)")
    tr.add_argument("--epochs", type=_positive_int)
    tr.add_argument("--batch-size", type=_positive_int)
    tr.add_argument("--lr", type=float)
    tr.add_argument("--head-lr-scale", type=float,
                    help="projection heads and logit scale learn at lr x this, the towers at lr (fine-tuning)")
    tr.add_argument("--alpha", type=_unit_float)
    tr.add_argument("--region-mode", choices=("crop", "pool"))
    tr.add_argument("--text-encoder", help="clip | gpt2 | phobert | a local model folder")
    tr.add_argument("--image-encoder", help="'small' or a CLIP vision model name/folder")
    tr.add_argument("--seed", type=_seed)
    tr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    tr.add_argument("--masks", help="folder of part label maps under each DIR (default: parsing)")
    tr.add_argument("--local-supervision", choices=("lexicon", "rsm"),
                    help="lexicon: noun phrases mapped to parts by keyword lists (GLAlign); rsm: region-phrase pairs "
                         "mined by `glalign rsm mine` and weighed by their reliability (ROGLE)")
    tr.add_argument("--nproc", type=_positive_int, default=1,
                    help="train in N processes on this machine (one per GPU; gloo on the CPU) through torchrun; "
                         "for several machines run torchrun yourself (README)")
    tr.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per training process")
    tr.add_argument("--image-cache", action="store_true",
                    help="decode and resize the images once into a memory-mapped file beside the dataset "
                         "(.glalign-cache/), read by every later run, process and worker")
    tr.add_argument("--grad-checkpointing", action="store_true",
                    help="recompute the towers' activations in backward: less GPU memory for one more forward pass")
    tr.add_argument("--resume", action="store_true", help="continue from the last complete epoch")
    tr.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    # evaluate
    ev = sub.add_parser("evaluate", help="rank a dataset split with a trained run")
    ev.add_argument("--run", help="a trained run folder")
    ev.add_argument("--image-encoder", help="zero-shot (no --run): a CLIP model folder or cached hub name")
    ev.add_argument("--text-encoder", help="zero-shot (no --run): a CLIP / GPT-2 / RoBERTa folder or cached name")
    ev.add_argument("--data", required=True)
    ev.add_argument("--format", choices=FORMATS, default="auto")
    ev.add_argument("--split", default="test")
    ev.add_argument("--lang", choices=("en", "vi"), help="caption language (default: the run's)")
    ev.add_argument("--alpha", type=_unit_float, help="fusion weight (default: the run's)")
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

    # search
    se = sub.add_parser("search", help="search a folder of images with a description")
    se.add_argument("--run", required=True)
    se.add_argument("--gallery", required=True, help="folder of images (searched recursively)")
    se.add_argument("--top-k", type=_positive_int, default=10)
    se.add_argument("--alpha", type=_unit_float)
    se.add_argument("--fusion", choices=("raw", "zscore"), default="raw",
                    help="raw: the paper's alpha*global + (1-alpha)*local; zscore: each score standardised over "
                         "the gallery per query first (as evaluate --fusion zscore)")
    se.add_argument("--json", action="store_true")
    se.add_argument("--out", help="save the result strip here (.png, .jpg, .pdf or .svg; folders are created)")
    se.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the model runs")
    se.add_argument("--index", choices=("exact", "faiss"), default="exact",
                    help="exact: one pass over the memory-mapped index; faiss: IVF candidates re-ranked exactly "
                         "(approximate, for galleries beyond memory; needs faiss-cpu)")
    se.add_argument("--nprobe", type=_positive_int, default=32, help="faiss: inverted lists visited per query")
    se.add_argument("--index-dtype", choices=("fp16", "fp32"), default="fp16", help="storage of the index file")
    se.add_argument("--strict", action="store_true", help="an unreadable gallery image is an error, not skipped")
    se.add_argument("query")
    se.set_defaults(func=cmd_search)

    # reproduce
    rp = sub.add_parser("reproduce", help="run notebooks 00-08 (method, then pipeline) with papermill into results/<profile>/")
    rp.add_argument("--profile", default="synthpedes", choices=("synthpedes", "synthpedes-full", "tiny"))
    rp.add_argument("--results", default="results", help="results root (default: ./results)")
    rp.add_argument("--workdir", help="where datasets and runs are cached (default: ./work/<profile>)")
    rp.add_argument("--only", nargs="*", help="run only these notebook numbers, e.g. 01 02")
    rp.add_argument("--verify", nargs="?", const="", metavar="RESULTS_DIR",
                    help="run nothing: compare RESULTS_DIR (default: RESULTS/PROFILE) with the committed tables, "
                         "per number, against stated tolerances; exit 1 when a number drifted beyond them")
    rp.add_argument("--reference", metavar="DIR",
                    help="with --verify: the results to compare with (default: results/PROFILE at git HEAD)")
    rp.set_defaults(func=cmd_reproduce)

    # sweep
    sw = sub.add_parser("sweep", help="the validation sweep that chose each language's fine-tuning recipe",
                        description="Train domain A's runs over a small grid of learning rates, head-rate scales "
                                    "and text poolings (glalign.sweep.GRID) and rank them by validation Rank-1; "
                                    "test splits are never read.")
    sw.add_argument("--profile", default="synthpedes", choices=("synthpedes", "tiny"))
    sw.add_argument("--workdir", help="where datasets and runs are cached (default: ./work/<profile>)")
    sw.add_argument("--epochs", type=_positive_int, help="epochs of every run (default: the profile's)")
    sw.add_argument("--out", help="CSV of every setting tried")
    sw.add_argument("--quiet", action="store_true")
    sw.set_defaults(func=cmd_sweep)

    # rsm
    rs = sub.add_parser("rsm", help="region-to-sentence matching (ROGLE's RSM)")
    rsub = rs.add_subparsers(dest="rsm_command", metavar="ACTION", required=True)
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
    rm.add_argument("--min-margin", type=_finite_float, default=0.05,
                    help="drop pairs whose cosine margin over the next-best region is below this")
    rm.add_argument("--per-region", type=_positive_int, default=1, help="units a region may take (1: one-to-one)")
    rm.add_argument("--region-mode", choices=("crop", "pool"), default="crop")
    rm.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    rm.add_argument("--quiet", action="store_true")
    rm.set_defaults(func=cmd_rsm_mine)

    # pretrain
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
    pt.add_argument("--workers", type=_positive_int, default=2, help="with shipped: processes (2: side by side)")
    pt.add_argument("--out", required=True, help="model folder (written atomically)")
    pt.add_argument("--corpus", help="SynthPEDES-format corpus folder; made with --ids if missing or empty "
                                     "(default: OUT/../corpus-<ids>)")
    pt.add_argument("--ids", type=_positive_int, default=2000, help="identities of a corpus made here")
    pt.add_argument("--epochs", type=_positive_int)
    pt.add_argument("--seed", type=_seed, default=0)
    pt.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    pt.add_argument("--overwrite", action="store_true", help="replace a model made with other settings")
    pt.add_argument("--quiet", action="store_true")
    pt.set_defaults(func=cmd_pretrain)

    # bench
    be = sub.add_parser("bench", help="benchmarks that print numbers")
    be.add_argument("what", choices=("synth", "phrases", "train", "search", "pipeline"))
    be.add_argument("--ids", type=_positive_int, default=2000)
    be.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    be.add_argument("--steps", type=_positive_int, default=5)
    be.add_argument("--paper", action="store_true", help="also the paper-size model (GPU advised)")
    be.add_argument("--batch-size", type=_positive_int, help="train: the batch (default: the profile's)")
    be.add_argument("--modes", nargs="+", choices=("global", "pool", "crop"),
                    help="train: which variants (default: global-only, pool, crop)")
    be.add_argument("--grad-checkpointing", action="store_true", help="train: recompute activations in backward")
    be.add_argument("--peak-tflops", type=float, help="train: the device's bf16 peak, for MFU on an unlisted GPU")
    be.set_defaults(func=cmd_bench)

    pa = sub.add_parser("paper", help="the paper's numbers: list its inconsistencies, or verify them against its text")
    pa.set_defaults(func=cmd_paper)
    psub = pa.add_subparsers(dest="paper_command", metavar="ACTION")
    pv = psub.add_parser("verify", help="check results/paper/*.csv against the paper's text (exit 1 on a finding)")
    pv.add_argument("text", help="the paper as plain text (tables tab-separated)")
    pv.set_defaults(func=cmd_paper_verify)
    return p


class _Parser(argparse.ArgumentParser):
    """Argument mistakes: one line naming the problem and where to look, not the whole usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    """The one place where errors become messages: a user mistake (GlalignError, a file the
    system refuses) prints one line and exits 2; anything else is a bug: its traceback is printed
    with a line asking to report it, and the exit code is 1. A process that `train --nproc`
    started leaves its exit code for the launcher (torchrun itself only says 1)."""
    import os

    from glalign.hub import offline_environment

    offline_environment()  # this process is glalign's: nothing it runs may reach a model hub
    if not os.environ.get("GLALIGN_RANK_STATUS_DIR"):
        return _main(argv)
    from glalign.distributed import record_exit

    code = 1
    try:
        code = _main(argv)
    except SystemExit as exc:  # argparse's refusal (2)
        code = exc.code
        raise
    finally:
        record_exit(code)
    return code


def _main(argv: list[str] | None) -> int:
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[2:] if argv is None else argv[1:])  # after the subcommand (train --nproc)
    try:
        return args.func(args)
    except GlalignError as exc:
        print(f"glalign: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glalign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        fs = os_error_of(exc)  # also one that safetensors, transformers or PIL wrapped in their own
        if fs is not None and fs.errno in _USER_ERRNOS:
            where = fs.filename or getattr(args, "out", None) or "the output folder"
            kept = " (nothing half-written was kept)" if fs.errno in _NO_ROOM else ""
            print(f"glalign: error: {fs.strerror}: {where}{kept}", file=sys.stderr)
            return 2
        if _peer_left(exc):  # this process is fine: another one stopped (its own message says why)
            print(f"glalign: rank {os.environ.get('RANK')} stopped: another process of this run failed "
                  f"({str(exc).splitlines()[0][:160]})", file=sys.stderr)
            return PEER_FAILED
        if _out_of_memory(exc):  # the machine's limit, not a bug: sizes the user chose
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            print(f"glalign: error: out of memory ({first}); lower --batch-size, the image size or the model's "
                  "sizes, or use a machine with more memory", file=sys.stderr)
            return 2
        import traceback

        traceback.print_exc()
        print("glalign: internal error: this is a bug in glalign, not a mistake of yours; please report it with "
              "the command line and the traceback above", file=sys.stderr)
        return 1


PEER_FAILED = 3  # a process of a torchrun job whose peer failed first (glalign.distributed.launch)


def _peer_left(exc: BaseException) -> bool:
    import os

    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and isinstance(exc, RuntimeError) and any(
        s in str(exc) for s in ("Connection closed by peer", "Connection reset by peer", "Broken pipe"))


def _out_of_memory(exc: BaseException) -> bool:
    oom = getattr(sys.modules.get("torch"), "OutOfMemoryError", ())
    return isinstance(exc, MemoryError) or (oom and isinstance(exc, oom)) or (
        isinstance(exc, RuntimeError) and any(s in str(exc) for s in ("can't allocate memory", "out of memory")))


# file-system refusals that are the user's to fix (a missing file that reaches here was not checked: a bug)
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
_USER_ERRNOS = (errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, *_NO_ROOM)


if __name__ == "__main__":
    sys.exit(main())
