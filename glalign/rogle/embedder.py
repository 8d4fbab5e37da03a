"""The RSM judge: a vision-language model (a CLIP folder, a GLAlign run, or a distilled Vietnamese
student beside its CLIP) that embeds image regions and text units in one space, with the run's own
preprocessing; region embeddings of a dataset."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from glalign.constants import PARTS
from glalign.errors import GlalignError
from glalign.fingerprint import file_digest


def model_fingerprint(folder) -> str:
    """sha1 of a model folder's config.json and weight files: mined pairs are cached by it, so
    a model retrained in the same folder means mining again."""
    folder = Path(folder)
    student = [folder / "rsm_student.json"] if (folder / "rsm_student.json").exists() else []  # names its image tower
    return file_digest([folder / "config.json", *sorted(folder.glob("*.safetensors")), *student], n=16)


class Embedder:
    """A vision-language model's image and text towers in one space: a CLIP folder
    (transformers CLIPModel + tokenizer + image processor, e.g. SynthCLIP or
    openai/clip-vit-base-patch32) or a GLAlign run, whose local branch (region and phrase heads,
    the space it aligns regions with phrases in) embeds both regions and sentences.

    tower="global" uses a GLAlign run's global branch instead (image [CLS] and caption heads,
    cropped regions only), as a CLIP folder is used: a run trained global-only (alpha 1) never
    saw the keyword lexicon, so it mines pairs with no keyword list, in any language it was
    trained on (SynthCLIP reads English only).

    A text student (glalign.pretrain.distill: SynthPhoBERT distilled into SynthCLIP's text space,
    its folder holding rsm_student.json) embeds text with the student and regions with the CLIP
    folder that file names: a Vietnamese judge with no keyword list."""

    def __init__(self, source, device: str = "cpu", tower: str = "local"):
        from glalign.device import resolve_device

        if tower not in ("local", "global"):
            raise GlalignError(f"unknown tower {tower!r}; choose local or global")
        self.source, self.device, self.tower = Path(source), resolve_device(device), tower
        if not (self.source / "config.json").exists():
            raise GlalignError(f"{self.source} is not a model folder (no config.json); pass a CLIP folder "
                               "(save_pretrained output with its tokenizer and image processor) or a GLAlign run")
        try:
            saved = json.loads((self.source / "config.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GlalignError(f"{self.source / 'config.json'} is not valid JSON ({exc}); "
                               "restore the model folder") from None
        legacy_run = "train" in saved and "hf_configs" in saved
        from glalign.model.student import read_student

        student = read_student(self.source)
        self.kind = "glalign" if saved.get("model_type") == "glalign" or legacy_run else "student" if student else "clip"
        if tower == "global" and self.kind != "glalign":
            raise GlalignError(f"{self.source}: tower='global' picks a GLAlign run's global branch; a CLIP "
                               "folder has one space only (leave tower at 'local')")
        self.fingerprint = model_fingerprint(self.source)
        if self.kind == "glalign":
            from glalign.model.factory import load_run, model_geometry

            self.model, self.tokenizer, config = load_run(self.source, device=str(self.device))
            self.size, self.max_length = model_geometry(self.model)[0], config.max_length
            self.text_kind = config.text_kind
            self.mean, self.std = torch.tensor(config.image_mean), torch.tensor(config.image_std)  # as trained
        elif self.kind == "student":
            self._load_student(student)
        else:
            self._load_clip(self.source)

    def _load_student(self, student: dict):
        """The student's text tower and tokenizer; the image tower of the CLIP folder it names,
        which must be the one it was distilled against (same fingerprint)."""
        from transformers import AutoTokenizer

        from glalign.hub import from_pretrained
        from glalign.model.student import TextStudent

        clip = Path(student["image_tower"])
        if not (clip / "config.json").exists() or model_fingerprint(clip) != student["image_tower_fingerprint"]:
            raise GlalignError(f"{self.source}: its image tower {clip} is missing or changed since the student was "
                               "distilled against it; distil the student again (glalign.pretrain.distill)")
        self._load_clip(clip)
        try:
            self.text_model = TextStudent.from_folder(self.source).to(self.device).eval()
            self.tokenizer = from_pretrained(AutoTokenizer, self.source)
        except (OSError, ValueError, KeyError) as exc:
            raise GlalignError(f"{self.source}: cannot load the text student offline "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
        self.max_length, self.text_kind = self.text_model.max_length, "phobert"

    def _load_clip(self, source: Path):
        from safetensors import SafetensorError
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        from glalign.hub import from_pretrained, refuse_non_finite

        try:
            self.model = from_pretrained(CLIPModel, source).to(self.device).eval()
            self.tokenizer = from_pretrained(AutoTokenizer, source)
            proc = from_pretrained(AutoImageProcessor, source)
        except (OSError, ValueError, SafetensorError) as exc:
            raise GlalignError(f"{source}: cannot load a CLIP model, tokenizer and image processor offline "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
        refuse_non_finite(self.model, source)
        crop = getattr(proc, "crop_size", None) if getattr(proc, "do_center_crop", False) else None
        size = crop or proc.size
        self.size = int(size.get("height") or size.get("shortest_edge"))
        self.mean, self.std = torch.tensor(proc.image_mean), torch.tensor(proc.image_std)
        self.max_length = self.model.config.text_config.max_position_embeddings

    def _pixels(self, arrays: list[np.ndarray]) -> torch.Tensor:
        """uint8 (h, w, 3) arrays -> normalised (N, 3, S, S), resized by the package's one rule
        (glalign.data.torchdata.resize_square) and normalised with the model's own mean and std; kept
        in float, where training and evaluation cache the resized image as uint8."""
        from glalign.data.torchdata import normalise, resize_square

        x = torch.stack([resize_square(a, self.size) for a in arrays])
        return normalise(x, self.mean, self.std).to(self.device)

    @torch.inference_mode()
    def images(self, arrays: list[np.ndarray]) -> torch.Tensor:
        x = self._pixels(arrays)
        if self.kind == "glalign":
            if self.tower == "global":
                return self.model.encode_image(x, local=False)[0].float().cpu()
            return self.model.encode_regions(x).float().cpu()
        out = self.model.get_image_features(pixel_values=x)
        return F.normalize(getattr(out, "pooler_output", out), dim=-1).float().cpu()

    @torch.inference_mode()
    def pooled(self, arrays: list[np.ndarray], weights: np.ndarray) -> torch.Tensor:
        """(N, 5, d): patch tokens averaged with (N, 5, n_patches) weights, projected (CLIP only)."""
        if self.kind == "glalign":
            if self.tower == "global":
                raise GlalignError(f"{self.source}: the global branch embeds whole images; use region_mode "
                                   "'crop' with tower='global'")
            w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
            return self.model.encode_regions(self._pixels(arrays), w).float().cpu()
        vm = self.model.vision_model
        hidden = vm(pixel_values=self._pixels(arrays)).last_hidden_state[:, 1:]
        w = torch.as_tensor(weights, dtype=hidden.dtype, device=hidden.device)
        w = w / w.sum(-1, keepdim=True).clamp(min=1e-6)
        pooled = self.model.visual_projection(vm.post_layernorm(torch.einsum("bpn,bnh->bph", w, hidden)))
        return F.normalize(pooled, dim=-1).float().cpu()

    @property
    def grid(self) -> tuple[int, int]:
        cfg = self.model.config.vision_config
        g = cfg.image_size // cfg.patch_size
        return g, g

    @torch.inference_mode()
    def texts(self, texts: list[str], lang: str | None = None, batch: int = 256) -> torch.Tensor:
        """(N, d) embeddings; each distinct text is encoded once (noun phrases such as "black
        shoes" recur across thousands of captions). A text longer than the tower's context is read
        whole, by sentence chunks pooled (glalign.text.longtext), with a warning if a sentence is cut."""
        from glalign.text.longtext import encode_whole

        distinct = list(dict.fromkeys(texts))
        if len(distinct) < len(texts):
            row = {t: i for i, t in enumerate(distinct)}
            return self.texts(distinct, lang, batch)[[row[t] for t in texts]]
        view = None
        if self.kind == "student" and lang != "vi":
            raise GlalignError(f"{self.source} is a Vietnamese text student; it reads lang 'vi', not {lang!r}")
        if self.kind in ("glalign", "student") and lang is not None:
            from glalign.model.factory import text_view_for

            view = text_view_for(self.text_kind, lang, texts)  # PhoBERT reads word-segmented Vietnamese

        def encode(ids, mask):
            ids, mask = ids.to(self.device), mask.to(self.device)
            if self.kind == "student":
                return self.text_model(ids, mask)
            if self.kind == "glalign":
                return (self.model.encode_text if self.tower == "global" else self.model.encode_phrase_text)(ids, mask)
            f = self.model.get_text_features(input_ids=ids, attention_mask=mask)
            return F.normalize(getattr(f, "pooler_output", f), dim=-1)

        return encode_whole(texts, self.tokenizer, self.max_length, encode, lang or "en", view, batch=batch)


def region_embeddings(embedder: Embedder, root: Path, records, mode: str, masks: str = "parsing"
                       ) -> tuple[torch.Tensor, np.ndarray]:
    """(B, 5, d) region embeddings and (B, 5) presence for a chunk of RegionRecords. A region is
    present when it has a box and, pooled ("pool"), its mask covers at least one pixel: a part
    the parser found nowhere (an empty mask) is absent, not an embedding pooled from zero weights."""
    key = (str(root), mode, masks, tuple(str(r.image) for r in records),
           tuple(tuple(sorted(r.regions.items())) for r in records))
    cache = embedder.__dict__.setdefault("_region_cache", {})  # the last few calls, e.g. one test split
    if key not in cache:
        if len(cache) >= 2:
            cache.pop(next(iter(cache)))
        cache[key] = _embed_regions(embedder, root, records, mode, masks)
    emb, present = cache[key]
    return emb.clone(), present.copy()


def _embed_regions(embedder: Embedder, root: Path, records, mode: str, masks: str) -> tuple[torch.Tensor, np.ndarray]:
    from glalign.data.records import load_rgb
    from glalign.data.masks import load_label_map, patch_weights

    arrays = [np.asarray(load_rgb(r.image, root=root)) for r in records]
    present = np.array([r.present for r in records], dtype=bool)
    if mode == "pool":
        weights = []
        for r, a in zip(records, arrays):
            mask = root / masks / Path(r.file_path).with_suffix(".png")
            if mask.exists():
                label = load_label_map(mask)
            else:  # boxes only: rasterise them, smaller regions drawn last so they stay visible
                label = np.zeros(a.shape[:2], np.uint8)
                by_area = sorted(r.regions.items(), key=lambda kv: -(kv[1][2] - kv[1][0]) * (kv[1][3] - kv[1][1]))
                for part, (y0, x0, y1, x1) in by_area:
                    label[y0:y1, x0:x1] = PARTS.index(part) + 1
            weights.append(patch_weights(label, embedder.grid))
        weights = np.stack(weights)
        return embedder.pooled(arrays, weights), present & (weights.sum(-1) > 0)
    crops, where = [], []
    for b, (r, a) in enumerate(zip(records, arrays)):
        for part, (y0, x0, y1, x1) in r.regions.items():
            crops.append(a[y0:y1, x0:x1])
            where.append((b, PARTS.index(part)))
    emb = embedder.images(crops) if crops else torch.zeros(0, 1)
    out = torch.zeros(len(records), len(PARTS), emb.shape[-1])
    for (b, p), e in zip(where, emb):
        out[b, p] = e
    return out, present
