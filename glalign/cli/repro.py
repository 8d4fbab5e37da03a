"""`glalign reproduce`, `sweep`, `bench` and `paper`: the experiments and their checks."""
from __future__ import annotations

from glalign.cli.types import positive_int
from glalign.errors import GlalignError


def cmd_reproduce(args) -> int:
    if args.verify is not None:  # compare a rerun with the committed tables: glalign.verify
        from pathlib import Path

        from glalign.repro.verify import verify_cli

        return verify_cli(args.verify or Path(args.results) / args.profile, args.reference, args.profile)
    if args.reference:
        raise GlalignError("--reference goes with --verify (compare a rerun with it); drop it to rerun the notebooks")
    from glalign.repro.reproduce import reproduce

    out = reproduce(profile=args.profile, results_root=args.results, workdir=args.workdir,
                    only=args.only)
    print(out)
    return 0


def cmd_sweep(args) -> int:
    """The validation sweep (glalign.sweep): one row per setting, best per language and init."""
    from pathlib import Path

    from glalign.io import write_csv
    from glalign.repro.reproduce import default_workdir
    from glalign.repro.workspace import Workspace
    from glalign.repro.sweep import best_settings, sweep

    ws = Workspace(args.profile, args.workdir or default_workdir(args.profile), progress=not args.quiet)
    table = sweep(ws, epochs=args.epochs)
    if args.out:
        write_csv(Path(args.out), table)
    cols = [c for c in ("lang", "init", "alpha", "lr", "head_lr_scale", "text_pooling", "epochs", "best_epoch", "val_R1",
                        "val_R1_global", "val_R1_local", "converged", "val_curve") if c in table]
    print(table[cols].to_string(index=False))
    print("\nchosen on validation:\n" + best_settings(table)[cols].to_string(index=False))
    return 0


def cmd_bench(args) -> int:
    from glalign.repro import bench

    return bench.main(args.what, args)


def cmd_paper(args) -> int:
    from glalign.repro.paper import find_inconsistencies

    for item in find_inconsistencies():
        print(f"[{item['kind']}] {item['where']}: {item['detail']}")
    return 0


def cmd_paper_verify(args) -> int:
    from pathlib import Path

    from glalign.repro.paper import verify_text

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


def add_reproduce(sub) -> None:
    """glalign reproduce and glalign sweep."""
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
    sw.add_argument("--epochs", type=positive_int, help="epochs of every run (default: the profile's)")
    sw.add_argument("--out", help="CSV of every setting tried")
    sw.add_argument("--quiet", action="store_true")
    sw.set_defaults(func=cmd_sweep)


def add_bench_paper(sub) -> None:
    """glalign bench and glalign paper [verify]."""
    be = sub.add_parser("bench", help="benchmarks that print numbers")
    be.add_argument("what", choices=("synth", "phrases", "train", "search", "pipeline"))
    be.add_argument("--ids", type=positive_int, default=2000)
    be.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    be.add_argument("--steps", type=positive_int, default=5)
    be.add_argument("--paper", action="store_true", help="also the paper-size model (GPU advised)")
    be.add_argument("--batch-size", type=positive_int, help="train: the batch (default: the profile's)")
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
