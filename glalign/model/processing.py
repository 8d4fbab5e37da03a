"""GLAlignProcessor: everything that turns images and captions into GLAlignModel's inputs, as the
run was trained, in one place (what a CLIP folder's CLIPProcessor is to CLIPModel).

Images: decoded by the dataset's open_image rule, resized to the model's image size, normalised
with the image encoder's own mean and std, part masks turned into patch weights (pool) or crops
(crop). Captions: noun phrases mapped to parts with the run's lexicon, PhoBERT's word
segmentation for Vietnamese, the run's tokenizer and token budget. A run folder carries it as
preprocessor_config.json beside tokenizer/ (written with each checkpoint); a run written before
that file existed is read from its config.json, which holds the same settings."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

FILE = "preprocessor_config.json"


@dataclass
class GLAlignProcessor:
    image_size: int
    patch_grid: tuple[int, int]
    image_mean: list[float]
    image_std: list[float]
    region_mode: str
    text_kind: str
    lang: str
    lexicon_mode: str
    max_length: int
    tokenizer: object = field(default=None, repr=False, compare=False)

    @classmethod
    def from_config(cls, config, tokenizer=None) -> "GLAlignProcessor":
        """The processor a GLAlignConfig implies (the run's own settings)."""
        c = config.vision_config
        grid = c.image_size // c.patch_size
        return cls(image_size=c.image_size, patch_grid=(grid, grid), image_mean=list(config.image_mean),
                   image_std=list(config.image_std), region_mode=config.region_mode, text_kind=config.text_kind,
                   lang=config.lang, lexicon_mode=config.lexicon_mode, max_length=config.max_length,
                   tokenizer=tokenizer)

    @classmethod
    def from_pretrained(cls, run, tokenizer=None) -> "GLAlignProcessor":
        """The processor saved in a run folder (its tokenizer from RUN/tokenizer unless given)."""
        import json

        from glalign.errors import GlalignError
        from glalign.model.configuration import read_run_config
        from glalign.text.tokenizers import load_tokenizer

        run = Path(run)
        if (run / FILE).exists():
            try:
                saved = json.loads((run / FILE).read_text(encoding="utf-8"))
                saved.pop("processor_class", None)
                proc = cls(**{**saved, "patch_grid": tuple(saved["patch_grid"])})
            except (ValueError, TypeError, KeyError) as exc:
                raise GlalignError(f"{run / FILE} is damaged ({type(exc).__name__}: {exc}); delete it to read the "
                                   "settings from config.json, or retrain the run") from None
        else:
            proc = cls.from_config(read_run_config(run))
        proc.tokenizer = tokenizer or load_tokenizer(run / "tokenizer", proc.text_kind)
        return proc

    def save_pretrained(self, folder) -> Path:
        from glalign.io import write_json

        settings = {k: v for k, v in asdict(self).items() if k != "tokenizer"}
        settings["patch_grid"] = list(self.patch_grid)
        path = Path(folder) / FILE
        write_json(path, {"processor_class": "GLAlignProcessor", **settings})
        return path

    # ------------------------------------------------------------ images
    def image_store(self):
        """An ImageStore that decodes, resizes and normalises images as the model reads them."""
        from glalign.data.torchdata import ImageStore

        return ImageStore(self.image_size, self.patch_grid, mean=self.image_mean, std=self.image_std)

    def images(self, images: list, masks: list | None = None, store=None) -> dict:
        """A batch for GLAlignModel.encode_image / get_image_features from image files (and their
        part label maps; without one an image gets horizontal stripes): pixel_values, present, and
        part_weights (pool) or crops (crop)."""
        from glalign.data.torchdata import collate_images, image_item

        store = store or self.image_store()
        masks = masks or [None] * len(images)
        items = [image_item(store, ImageFile(Path(i), None if m is None else Path(m)), False, self.region_mode)
                 for i, m in zip(images, masks)]
        batch = collate_images(items)
        out = {"pixel_values": batch["pixels"], "present": batch["present"]}
        out.update({k: batch[k] for k in ("weights", "crops") if k in batch})
        return out

    # ------------------------------------------------------------ text
    def text_view(self, captions: list[str]):
        """What the text tower reads for a caption: PhoBERT's word-segmented Vietnamese, else the text."""
        return text_view_for(self.text_kind, self.lang, captions)

    def phrases(self, captions: list[str]) -> list[dict]:
        """Each caption's part phrases ({part: phrase}), with the run's lexicon."""
        from glalign.text.phrases import extract, part_phrases

        return [part_phrases(p) for p in extract(captions, self.lang, self.lexicon_mode)]

    def text(self, captions: list[str]) -> dict:
        """input_ids and attention_mask of whole captions (GLAlignModel.get_text_features); a
        caption over max_length tokens is cut here: glalign.similarity reads long ones whole."""
        view = self.text_view(captions) or (lambda t: t)
        return dict(self.tokenizer([view(c) for c in captions], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt"))


@dataclass
class ImageFile:
    image: Path
    mask: Path | None


def text_view_for(kind: str, lang: str, texts: list[str]):
    """PhoBERT reads word-segmented Vietnamese; the segmentation is done once per caption."""
    if kind == "phobert" and lang == "vi":
        from glalign.text.tokenizers import segment_vietnamese

        table = dict(zip(texts, segment_vietnamese(texts)))
        return lambda t: table.get(t) or segment_vietnamese([t])[0]
    return None
