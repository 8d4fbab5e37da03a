"""Torch datasets for training (image-caption pairs) and evaluation (unique gallery images,
caption queries). Transforms are written on tensors (no torchvision): resize, CLIP
normalisation, random horizontal flip for training."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from glalign import constants
from glalign.constants import PARTS
from glalign.data.masks import load_label_map, part_boxes, patch_weights, stripes_label_map
from glalign.errors import DataError

CLIP_MEAN = torch.tensor(constants.CLIP_MEAN).view(3, 1, 1)  # CLIP's normalisation (glalign.constants)
CLIP_STD = torch.tensor(constants.CLIP_STD).view(3, 1, 1)
MIN_PART_FRACTION = 0.004  # a part smaller than this share of the image counts as absent


class ImageStore:
    """Decoded, resized images and their part data, cached in memory (small images, many epochs)."""

    def __init__(self, size: int, grid: tuple[int, int], mask_scheme: str = "vitaa", mean=CLIP_MEAN, std=CLIP_STD):
        self.size, self.grid, self.scheme = size, grid, mask_scheme
        self.mean, self.std = torch.as_tensor(mean).view(3, 1, 1), torch.as_tensor(std).view(3, 1, 1)
        self._cache: dict[str, tuple] = {}
        self.files: list = []  # glalign.data.image_cache.ImageCache: decoded once, memory-mapped

    def get(self, image_path, mask_path):
        key = str(image_path)
        if key in self._cache:
            return self._cache[key]
        for cached in self.files:  # read from the page cache, shared by every process and worker
            hit = cached.get(key)
            if hit is not None:
                return hit
        self._cache[key] = self.decode(image_path, mask_path)
        return self._cache[key]

    def decode(self, image_path, mask_path) -> tuple:
        """(uint8 image (3, S, S), uint8 label map (S, S), part presence (5,)) from the files."""
        from glalign.data.records import load_rgb

        arr = np.asarray(load_rgb(image_path))  # symlink, decompression-bomb and decoding checks
        label = (load_label_map(mask_path, self.scheme) if mask_path is not None
                 else stripes_label_map(*arr.shape[:2]))
        if label.shape != arr.shape[:2]:
            raise DataError(f"{mask_path}: label map is {label.shape}, image {image_path} is {arr.shape[:2]}")
        img = resize_square(arr, self.size).round().clamp(0, 255).to(torch.uint8)  # uint8: cached compactly
        lab = torch.from_numpy(label.copy())[None, None].float()
        lab = F.interpolate(lab, size=(self.size, self.size), mode="nearest")[0, 0].to(torch.uint8)
        present = torch.tensor([(label == i + 1).mean() >= MIN_PART_FRACTION for i in range(len(PARTS))])
        return img, lab, present


def resize_square(arr: np.ndarray, size: int) -> torch.Tensor:
    """(h, w, 3) uint8 -> float (3, size, size) on the 0-255 scale: the package's one resize rule
    (squashed, bilinear with antialiasing), for training, evaluation and RSM's judge alike."""
    img = torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1).float().unsqueeze(0)  # PIL arrays are read-only
    return F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def normalise(img_uint8: torch.Tensor, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    mean, std = torch.as_tensor(mean).view(3, 1, 1), torch.as_tensor(std).view(3, 1, 1)
    return (img_uint8.float() / 255.0 - mean) / std


def part_crops(img: torch.Tensor, lab: torch.Tensor, present: torch.Tensor, size: int) -> torch.Tensor:
    """(5, 3, S, S): each present part's box, pixels outside the part set to the mean (0 after
    normalisation), resized to the ViT input; absent parts are zeros and flagged absent."""
    out = torch.zeros(len(PARTS), 3, size, size)
    boxes = part_boxes(lab.numpy())
    for i, name in enumerate(PARTS):
        box = boxes[name]
        if not present[i] or box is None:
            continue
        y0, x0, y1, x1 = box
        crop = img[:, y0:y1, x0:x1] * (lab[y0:y1, x0:x1] == i + 1)
        out[i] = F.interpolate(crop[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    return out


def image_item(store: ImageStore, record, flip: bool, region_mode: str) -> dict:
    img, lab, present = store.get(record.image, record.mask)
    if flip:
        img, lab = img.flip(-1), lab.flip(-1)
    pixels = normalise(img, store.mean, store.std)
    item = {"pixels": pixels, "present": present.clone()}
    if region_mode == "pool":
        item["weights"] = torch.from_numpy(patch_weights(lab.numpy(), store.grid))
    else:
        item["crops"] = part_crops(pixels, lab, present, store.size)
    return item


def pair_key(record, caption_index: int) -> tuple[str, int]:
    """One image's one caption: the image file (unique across dataset roots) and the caption's
    index. Mined (RSM) pairs belong to it; lexicon phrases, a function of the text, are keyed by
    the caption text instead."""
    return str(record.image), int(caption_index)


class PairDataset(torch.utils.data.Dataset):
    """Every (image, caption) pair of the training records. Indexed by (i, flip) as
    GlobalBatchSampler hands them (flipped when both the key and `flip` say so), or by i (no flip)."""

    def __init__(self, records, store: ImageStore, part_phrases: dict[str, dict], labels: dict,
                 region_mode: str, flip: bool = True, text_view=None, phrase_weights: dict | None = None):
        """part_phrases: {caption text or pair_key: {part: phrase}} (lexicon phrases by text, mined
        pairs by image and caption index); phrase_weights: the same keys -> {part: weight} for
        mined (RSM) supervision; None: all 1."""
        self.records, self.store, self.part_phrases = records, store, part_phrases
        self.phrase_weights = phrase_weights
        self.labels, self.region_mode, self.flip = labels, region_mode, flip
        self.text_view = text_view or (lambda t: t)
        self.items = [(ri, ci) for ri, r in enumerate(records) for ci in range(len(r.captions))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, key):
        i, flip = key if isinstance(key, tuple) else (key, False)
        ri, ci = self.items[i]
        rec = self.records[ri]
        flip = self.flip and flip
        item = image_item(self.store, rec, flip, self.region_mode)
        caption = rec.captions[ci]
        key = pair_key(rec, ci) if pair_key(rec, ci) in self.part_phrases else caption
        item.update(caption=self.text_view(caption), phrases=self.part_phrases.get(key, {}),
                    label=self.labels[rec.pid])
        if self.phrase_weights is not None:
            item["phrase_weights"] = self.phrase_weights.get(key, {})
        return item


class GlobalBatchSampler(torch.utils.data.Sampler):
    """This process's share of every global batch: one shuffled order of the whole dataset (the
    permutation of torch.randperm seeded with seed + epoch, whatever the number of processes),
    cut into global batches of `batch_size` (the last partial one dropped unless it is the only
    one), rank r taking the r-th contiguous slice of batch_size / world_size samples of each. The
    ranks' slices put side by side (all-gathered in rank order) are the batch one process sees,
    in the same order. Each index comes with its random flip, drawn for its place in that global
    order (from a generator seeded with seed + epoch), so the flips do not depend on the number of
    processes, on workers or on resuming. Call set_epoch before each epoch, as with
    DistributedSampler."""

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0):
        if batch_size % world_size:
            raise DataError(f"the global batch of {batch_size} does not split evenly over {world_size} processes; "
                            f"choose a --batch-size that is a multiple of {world_size}")
        if world_size > 1 and n < batch_size:
            raise DataError(f"{n} training pairs are fewer than one global batch of {batch_size}; lower --batch-size "
                            "or train in one process")
        self.n, self.batch_size, self.rank, self.world_size, self.seed = n, batch_size, rank, world_size, seed
        self.local = batch_size // world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self):
        return self.n if self.n < self.batch_size else (self.n // self.batch_size) * self.local

    def __iter__(self):
        seed = self.seed + self.epoch
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(seed)).tolist()
        flips = (torch.rand(self.n, generator=torch.Generator().manual_seed(seed)) < 0.5).tolist()
        keys = list(zip(order, flips))
        if self.n < self.batch_size:  # one process only (checked above): the one partial batch
            yield from keys
            return
        for start in range(0, self.n - self.batch_size + 1, self.batch_size):
            mine = start + self.rank * self.local
            yield from keys[mine:mine + self.local]


def collate_images(items: list[dict]) -> dict:
    out = {"pixels": torch.stack([it["pixels"] for it in items]),
           "present": torch.stack([it["present"] for it in items])}
    if "weights" in items[0]:
        out["weights"] = torch.stack([it["weights"] for it in items])
    if "crops" in items[0]:
        out["crops"] = torch.stack([it["crops"] for it in items])
    return out


def tokenize_phrases(phrase_dicts: list[dict], tokenizer, max_length: int, text_view=None) -> dict:
    """Flatten per-caption part phrases to one batch with (row, part) slots."""
    view = text_view or (lambda t: t)
    texts, slots = [], []
    for row, d in enumerate(phrase_dicts):
        for p, name in enumerate(PARTS):
            if name in d:
                texts.append(view(d[name]))
                slots.append((row, p))
    present = torch.zeros(len(phrase_dicts), len(PARTS), dtype=torch.bool)
    for row, p in slots:
        present[row, p] = True
    out = {"phrase_slots": torch.tensor(slots, dtype=torch.long).view(-1, 2), "phrase_present": present}
    if texts:
        tok = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out.update(phrase_ids=tok["input_ids"], phrase_mask=tok["attention_mask"])
    return out


def make_collate(tokenizer, max_length: int, text_view=None):
    def collate(items):
        out = collate_images(items)
        tok = tokenizer([it["caption"] for it in items], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
        out.update(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                   labels=torch.tensor([it["label"] for it in items]))
        out.update(tokenize_phrases([it["phrases"] for it in items], tokenizer, max_length, text_view))
        if "phrase_weights" in items[0]:
            out["phrase_weight"] = torch.tensor([[float(it["phrase_weights"].get(p, 0.0)) for p in PARTS]
                                                 for it in items])
        return out
    return collate
