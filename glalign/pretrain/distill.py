"""A Vietnamese text tower in SynthCLIP's space: SynthPhoBERT distilled on parallel EN/VI captions.

RSM needs a judge that embeds Vietnamese sentences and image regions in one space, with no keyword
list. SynthCLIP reads English only; the Vietnamese global-only GLAlign run, the old judge, mines at
chance. So, as multilingual CLIP models are made (cross-lingual teacher learning, Reimers and
Gurevych 2020; Carlsson et al. 2022), a student reads the Vietnamese caption and learns to put it
where SynthCLIP's text tower (the frozen teacher) puts the English caption it translates:

- student: SynthPhoBERT's encoder (RobertaModel, weights from the MLM folder) + a new linear
  projection to SynthCLIP's projection_dim; input word-segmented by underthesea
  (glalign.text.tokenizers.segment_vietnamese) and tokenised by SynthPhoBERT's tokenizer; pooled
  as the mean of the real tokens (an MLM never trains <s> as a summary), projected, L2-normalised;
- loss: 1 - cos(student(vi), teacher(en)) plus a symmetric InfoNCE over the batch (the other
  captions' teacher embeddings are the negatives; captions of one person are not pushed apart);
- data: every caption of every image of SynthPEDES-format folders whose reid_raw.json and
  reid_raw_vi.json hold the same captions in the same order (the pretraining corpus, or a domain's
  training split). Text only: no image, no region, no keyword list is read.

The student is saved as an ordinary model folder: RobertaModel.save_pretrained (config.json,
model.safetensors), projection.safetensors, the tokenizer, history.csv, pretrain_config.json and
rsm_student.json, which names the CLIP folder whose image tower pairs with it (and that folder's
fingerprint, so a changed CLIP is caught). glalign.rsm.Embedder loads the folder: regions through
the CLIP's image tower, Vietnamese text through TextStudent.encode."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from glalign.errors import GlalignError
from glalign.model.student import POOLING, PROJECTION_FILE, STUDENT_FILE, TextStudent, read_student  # noqa: F401
from glalign.pretrain import common


@dataclass
class DistillConfig:
    """Sized for the ~2,400 training caption pairs of domains A and B: 69 s on one thread of the
    2-core machine shared with another job (3 epochs at lr 1e-3, batch 128, reached a cosine to
    the teacher of 0.37 and VI long-caption precision 68.5%; this 0.62 and 85.7%, 10 epochs 0.68
    and 82.2% in 220 s)."""
    epochs: int = 3
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    temperature: float = 0.05
    contrastive_weight: float = 1.0
    max_pairs: int | None = None  # a seeded subset of the caption pairs (None: all)
    seed: int = 0


def parallel_captions(roots, split: str = "train") -> tuple[list[str], list[str], list[str]]:
    """(english, vietnamese, person key) of every caption of `split` ("all": every split) of each
    folder, caption for caption; a folder whose languages disagree on an image is an error."""
    from glalign.data.records import load_dataset

    en, vi, who = [], [], []
    for root in roots:
        by_path = {r.file_path: r for r in load_dataset(root, lang="vi", check_images=False).records}
        for r in load_dataset(root, lang="en", check_images=False).records:
            if split != "all" and r.split != split:
                continue
            other = by_path.get(r.file_path)
            if other is None or len(other.captions) != len(r.captions):
                raise GlalignError(f"{root}: {r.file_path} has {len(r.captions)} English captions and "
                                   f"{len(other.captions) if other else 0} Vietnamese ones; distillation needs "
                                   "them caption for caption")
            en += r.captions
            vi += other.captions
            who += [f"{Path(root).name}/{r.pid}"] * len(r.captions)
    if not en:
        raise GlalignError(f"no {split} captions in {', '.join(map(str, roots))}")
    return en, vi, who


@torch.inference_mode()
def teacher_embeddings(clip_folder, texts: list[str], batch: int = 512) -> torch.Tensor:
    """SynthCLIP's normalised English text embeddings, as glalign.rsm.Embedder computes them."""
    from glalign.rogle.embedder import Embedder

    return Embedder(clip_folder).texts(texts, "en", batch=batch)


def distill(out, clip, mlm, corpora, cfg: DistillConfig | None = None, split: str = "train",
            overwrite: bool = False, progress: bool = True) -> Path:
    """Distil the MLM folder `mlm` into the text space of the CLIP folder `clip` on the parallel
    captions of `corpora`; the student folder `out` (skipped when it already holds this one)."""
    import numpy as np

    from glalign.hub import load_tokenizer_files
    from glalign.rogle.embedder import model_fingerprint
    from glalign.text.tokenizers import segment_vietnamese

    cfg = cfg or DistillConfig()
    out, clip, mlm = Path(out), Path(clip), Path(mlm)
    corpora = [Path(c) for c in ([corpora] if isinstance(corpora, (str, Path)) else corpora)]
    settings = dataclasses.asdict(cfg) | {"split": split, "teacher": model_fingerprint(clip),
                                          "initial": model_fingerprint(mlm)}
    corpus_fp = "".join(common.corpus_fingerprint(c) for c in corpora)
    fp = common.fingerprint("rsm-student", settings, corpus_fp)
    if common.is_complete(out, fp):
        return out
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    en, vi, who = parallel_captions(corpora, split)
    if cfg.max_pairs and len(en) > cfg.max_pairs:
        keep = np.sort(np.random.default_rng(cfg.seed).permutation(len(en))[:cfg.max_pairs])
        en, vi, who = [en[i] for i in keep], [vi[i] for i in keep], [who[i] for i in keep]
    teacher = teacher_embeddings(clip, en)
    t_teacher = time.perf_counter() - t_start
    distinct = list(dict.fromkeys(vi))
    table = dict(zip(distinct, segment_vietnamese(distinct)))
    t_segment = time.perf_counter() - t_start - t_teacher
    tokenizer = load_tokenizer_files(mlm)
    student = TextStudent.from_folder(mlm, teacher.shape[1], projection=False)
    tok = tokenizer([table[v] for v in vi], padding=True, truncation=True, max_length=student.max_length,
                    return_tensors="pt")
    pid_index = {p: i for i, p in enumerate(dict.fromkeys(who))}
    pids = torch.tensor([pid_index[p] for p in who])
    steps_per_epoch = max(1, len(en) // cfg.batch_size)
    opt = common.adamw(student, cfg.lr, cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, common.warmup_cosine(steps_per_epoch * cfg.epochs,
                                                                         cfg.warmup_fraction))
    history = []
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        total, cos_total = _distil_epoch(student, opt, sched, cfg, epoch, tok, teacher, pids, steps_per_epoch,
                                         progress)
        history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "cosine": cos_total / steps_per_epoch,
                        "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0})
        if progress:
            print(f"distil epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]['loss']:.4f}, "
                  f"cosine to the teacher {history[-1]['cosine']:.3f}")
    student.eval()
    _save_student(out, overwrite, student, tokenizer, history, clip, mlm, {
        "kind": "rsm-student", "fingerprint": fp, "version": common.PRETRAIN_VERSION, "settings": settings,
        "corpus": [str(c) for c in corpora], "corpus_fingerprint": corpus_fp, "pairs": len(en),
        "seconds": time.perf_counter() - t_start, "seconds_teacher": t_teacher, "seconds_segment": t_segment})
    return out


def _distil_epoch(student, opt, sched, cfg: DistillConfig, epoch: int, tok, teacher, pids, steps_per_epoch: int,
                  progress: bool) -> tuple[float, float]:
    """One epoch in a seeded order; returns the summed loss and the summed cosine to the teacher."""
    from tqdm.auto import tqdm

    from glalign.model.losses import symmetric_ce

    order = torch.randperm(len(pids), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
    student.train()
    total, cos_total = 0.0, 0.0
    bar = tqdm(range(steps_per_epoch), desc=f"distil epoch {epoch + 1}/{cfg.epochs}", unit="batch",
               disable=not progress, leave=False)
    for step in bar:
        idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
        mask = tok["attention_mask"][idx]
        n = int(mask.sum(1).max())
        s = student(tok["input_ids"][idx, :n], mask[:, :n])
        t = teacher[idx]
        cos = (s * t).sum(-1).mean()
        loss = (1 - cos) + cfg.contrastive_weight * symmetric_ce(s, t, torch.tensor(1 / cfg.temperature), pids[idx])
        total += common.checked_step(student, opt, sched, loss, "distillation", epoch, step, cfg.lr)
        cos_total += float(cos.detach())
    return total, cos_total


def _save_student(out: Path, overwrite: bool, student, tokenizer, history: list, clip: Path, mlm: Path,
                  meta: dict) -> None:
    """The student folder, written atomically; rsm_student.json names the image tower it pairs with."""
    import pandas as pd

    from glalign.io import write_csv, write_json
    from glalign.rogle.embedder import model_fingerprint

    with common.staged(out, overwrite) as stage:
        student.save(stage)
        tokenizer.save_pretrained(stage)
        write_csv(stage / "history.csv", pd.DataFrame(history))
        write_json(stage / STUDENT_FILE, {
            "kind": "rsm-text-student", "lang": "vi", "image_tower": str(clip.resolve()),
            "image_tower_fingerprint": model_fingerprint(clip), "teacher": str(clip.resolve()),
            "initialised_from": str(mlm.resolve()), "pooling": POOLING, "word_segmentation": "underthesea"})
        write_json(stage / "pretrain_config.json", meta)
