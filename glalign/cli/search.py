"""`glalign search`: a folder of images searched by a description (glalign.search.GalleryIndex)."""
from __future__ import annotations

import json
from pathlib import Path

from glalign.cli.types import positive_int, unit_float
from glalign.errors import GlalignError


OUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def check_out(out) -> Path:
    out = Path(out)
    if out.is_dir():
        raise GlalignError(f"--out {out} is a folder; name the file to write, e.g. {out / 'results.png'}")
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise GlalignError(f"--out {out}: unknown extension {out.suffix or '(none)'!r}; use .png, .jpg, .pdf or .svg")
    return out


def cmd_search(args) -> int:
    import sys

    from glalign.retrieval.search import GalleryIndex

    out = check_out(args.out) if args.out else None  # before the slow part
    index = GalleryIndex(args.run, args.gallery, device=getattr(args, "device", "cpu"),
                         dtype="float32" if getattr(args, "index_dtype", "fp16") == "fp32" else "float16",
                         strict=getattr(args, "strict", False), index=getattr(args, "index", "exact"),
                         nprobe=getattr(args, "nprobe", 32))
    if index.skipped:
        print(f"glalign: skipped {len(index.skipped)} unreadable gallery image(s), e.g. {index.skipped[0][1]} "
              "(--strict makes this an error)", file=sys.stderr)
    hits = index.search(args.query, args.top_k, args.alpha, fusion=getattr(args, "fusion", "raw"))
    if out:
        import matplotlib.pyplot as plt

        from glalign.io import atomic_path
        from glalign.repro.plots import result_strip

        fig = result_strip(args.query, [index.root / h["path"] for h in hits], [h["score"] for h in hits])
        with atomic_path(out) as tmp:  # creates a missing folder; a crash leaves no half-written file
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=out.suffix.lower().lstrip(".").replace("jpeg", "jpg"))
        plt.close(fig)
    if args.json:
        print(json.dumps(hits, ensure_ascii=False))
    else:
        for h in hits:
            print(f"{h['rank']:>3}  {h['score']:.4f}  {h['path']}")
    return 0


def add_search(sub) -> None:
    """glalign search."""
    se = sub.add_parser("search", help="search a folder of images with a description")
    se.add_argument("--run", required=True)
    se.add_argument("--gallery", required=True, help="folder of images (searched recursively)")
    se.add_argument("--top-k", type=positive_int, default=10)
    se.add_argument("--alpha", type=unit_float)
    se.add_argument("--fusion", choices=("raw", "zscore"), default="raw",
                    help="raw: the paper's alpha*global + (1-alpha)*local; zscore: each score standardised over "
                         "the gallery per query first (as evaluate --fusion zscore)")
    se.add_argument("--json", action="store_true")
    se.add_argument("--out", help="save the result strip here (.png, .jpg, .pdf or .svg; folders are created)")
    se.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the model runs")
    se.add_argument("--index", choices=("exact", "faiss"), default="exact",
                    help="exact: one pass over the memory-mapped index; faiss: IVF candidates re-ranked exactly "
                         "(approximate, for galleries beyond memory; needs faiss-cpu)")
    se.add_argument("--nprobe", type=positive_int, default=32, help="faiss: inverted lists visited per query")
    se.add_argument("--index-dtype", choices=("fp16", "fp32"), default="fp16", help="storage of the index file")
    se.add_argument("--strict", action="store_true", help="an unreadable gallery image is an error, not skipped")
    se.add_argument("query")
    se.set_defaults(func=cmd_search)
