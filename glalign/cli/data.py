"""`glalign data` (synth, check, parse, sheet) and `glalign text phrases`."""
from __future__ import annotations

import json
import sys

from glalign.cli.types import command_group, positive_int, seed
from glalign.config import FORMATS


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
    from glalign.repro.plots import contact_sheet

    path = contact_sheet(args.root, args.out, n_ids=args.ids, fmt=args.format)
    print(path)
    return 0


def cmd_text_phrases(args) -> int:
    from glalign.text.phrases import read_lines, stream_phrases

    for obj in stream_phrases(read_lines(args.file), lang=args.lang, mode=args.mode):
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def add_data(sub) -> None:
    """glalign data synth | check | parse | sheet."""
    dsub = command_group(sub, "data", "make, read and validate person-search datasets", "data_command")
    s = dsub.add_parser("synth", help="generate a SynthPEDES domain (deterministic from --seed)",
                        description="Render a synthetic TBPS dataset in the CUHK-PEDES layout: images, "
                                    "part label maps, native and translated captions, conditions.")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--domain", required=True, choices=("A", "B"),
                   help="A: CUHK-PEDES-like, English native; B: 3000VnPerson-like, Vietnamese native")
    s.add_argument("--ids", type=positive_int, default=None, help="number of identities")
    s.add_argument("--test-ids", type=positive_int, default=None,
                   help="at least this many test identities (default: the domain's proportion)")
    s.add_argument("--val-ids", type=int, default=None,
                   help="at least this many validation identities, disjoint from train and test (default: 10%%)")
    s.add_argument("--seed", type=seed, default=0)
    s.add_argument("--height", type=positive_int, default=128)
    s.add_argument("--width", type=positive_int, default=64)
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
    pa.add_argument("--batch-size", type=positive_int, default=32)
    pa.add_argument("--format", choices=FORMATS, default="auto")
    pa.add_argument("--quiet", action="store_true", help="no progress bar")
    pa.set_defaults(func=cmd_data_parse)

    sh = dsub.add_parser("sheet", help="save a contact sheet (images, masks, captions) as PNG")
    sh.add_argument("root")
    sh.add_argument("--out", required=True)
    sh.add_argument("--ids", type=positive_int, default=20)
    sh.add_argument("--format", choices=FORMATS, default="auto")
    sh.set_defaults(func=cmd_data_sheet)


def add_text(sub) -> None:
    """glalign text phrases."""
    tsub = command_group(sub, "text", "noun phrases and body-part mapping", "text_command")
    t = tsub.add_parser("phrases", help="captions in (one per line), NP/part JSON lines out",
                        description="Extract noun phrases (spaCy for English, underthesea for "
                                    "Vietnamese) and map each to a body part or null.")
    t.add_argument("file", nargs="?", help="caption file, one per line (default: stdin)")
    t.add_argument("--lang", required=True, choices=("en", "vi"))
    t.add_argument("--mode", choices=("paper", "extended"), default="extended",
                   help="paper: the paper's keyword lists verbatim; extended: with synonyms and lemmas")
    t.set_defaults(func=cmd_text_phrases)
