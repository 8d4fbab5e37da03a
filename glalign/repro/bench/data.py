"""`glalign bench synth | phrases | pipeline`: images generated per second, captions parsed per second,
and the data pipeline's batches per second."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from glalign.repro.bench.emit import emit


def bench_synth(args):
    from glalign.data.synth import generate_domain

    with tempfile.TemporaryDirectory() as tmp:
        s = generate_domain(Path(tmp) / "A", "A", n_ids=args.ids, progress=False)
    emit({"bench": "synth", **s})


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
            emit({"bench": "phrases", "lang": lang, "captions": len(caps), "captions_per_s": round(len(caps) / dt, 1)})


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
            emit({"bench": "pipeline", "images": len(records), "image_size": size,
                    "decode_images_per_s": round(decoded, 1), "cache_build_s": round(build_s, 2),
                    "cached_images_per_s": round(cached, 1), "speedup": round(cached / decoded, 2),
                    "cache_mib": round(sum(f.stat().st_size for f in image_cache.cache_folder(
                        root, store, image_cache.fingerprint(records, size, "vitaa")).iterdir()) / 2**20, 1)})
