"""`glalign train`, and the --nproc shortcut that starts it under torchrun."""
from __future__ import annotations

from glalign.cli.types import positive_int, seed, unit_float
from glalign.config import FORMATS
from glalign.config import PROFILES as TRAIN_PROFILES
from glalign.errors import GlalignError


def cmd_train(args) -> int:
    from glalign.config import TrainConfig
    from glalign.training.loop import train

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


def add_train(sub) -> None:
    """glalign train."""
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
    tr.add_argument("--epochs", type=positive_int)
    tr.add_argument("--batch-size", type=positive_int)
    tr.add_argument("--lr", type=float)
    tr.add_argument("--head-lr-scale", type=float,
                    help="projection heads and logit scale learn at lr x this, the towers at lr (fine-tuning)")
    tr.add_argument("--alpha", type=unit_float)
    tr.add_argument("--region-mode", choices=("crop", "pool"))
    tr.add_argument("--text-encoder", help="clip | gpt2 | phobert | a local model folder")
    tr.add_argument("--image-encoder", help="'small' or a CLIP vision model name/folder")
    tr.add_argument("--seed", type=seed)
    tr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    tr.add_argument("--masks", help="folder of part label maps under each DIR (default: parsing)")
    tr.add_argument("--local-supervision", choices=("lexicon", "rsm"),
                    help="lexicon: noun phrases mapped to parts by keyword lists (GLAlign); rsm: region-phrase pairs "
                         "mined by `glalign rsm mine` and weighed by their reliability (ROGLE)")
    tr.add_argument("--nproc", type=positive_int, default=1,
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
