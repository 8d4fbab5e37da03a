"""SynthPEDES people: who is drawn (attribute sets, look-alike family members) and under which
conditions, sampled deterministically from a generator; glalign.data.synth_render draws them.

Label ids follow ViTAA: 0 background, 1 head, 2 upper body, 3 lower body, 4 shoes, 5 others
(bag, umbrella, phone)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

COLOURS = {  # name -> RGB; Vietnamese names live in synth_captions.
    "black": (30, 30, 34), "white": (235, 235, 230), "red": (200, 35, 40), "green": (40, 150, 60),
    "blue": (40, 80, 200), "yellow": (235, 205, 40), "gray": (128, 128, 130), "brown": (120, 75, 40),
    "pink": (240, 140, 180), "purple": (120, 50, 150), "orange": (240, 130, 30),
}
HAIR_COLOURS = ("black", "brown", "yellow", "gray")
SKIN = ((236, 196, 160), (214, 170, 130), (180, 130, 95), (120, 85, 60))
UPPER_TYPES = ("t-shirt", "shirt", "jacket", "sweater", "hoodie", "coat")
LONG_SLEEVES = {"jacket", "sweater", "hoodie", "coat", "shirt"}
LOWER_TYPES = ("pants", "jeans", "shorts", "skirt")
SHOE_TYPES = ("sneakers", "boots", "sandals", "shoes")
ACCESSORIES = ("none", "backpack", "handbag", "umbrella", "phone")
PATTERNS = ("plain", "plain", "stripes", "logo")
VIEWS = ("front", "back", "side")


@dataclass(frozen=True)
class Person:
    gender: str
    hair_length: str
    hair_colour: str
    skin: int
    hat: str  # "none" or a colour
    glasses: bool
    upper_type: str
    upper_colour: str
    pattern: str
    pattern_colour: str
    lower_type: str
    lower_colour: str
    shoe_type: str
    shoe_colour: str
    accessory: str
    accessory_colour: str

    def to_dict(self) -> dict:
        return asdict(self)


def _pick(rng, seq, exclude=()):
    choices = [c for c in seq if c not in exclude]
    return choices[int(rng.integers(len(choices)))]


def sample_person(rng: np.random.Generator) -> Person:
    gender = "woman" if rng.random() < 0.5 else "man"
    lower_types = LOWER_TYPES if gender == "woman" else ("pants", "jeans", "shorts")
    lower = _pick(rng, lower_types)
    colours = tuple(COLOURS)
    upper_colour = _pick(rng, colours)
    lower_colour = "blue" if lower == "jeans" and rng.random() < 0.7 else _pick(rng, colours, (upper_colour,))
    pattern = _pick(rng, PATTERNS)
    return Person(
        gender=gender,
        hair_length="long" if rng.random() < (0.75 if gender == "woman" else 0.1) else "short",
        hair_colour=_pick(rng, HAIR_COLOURS),
        skin=int(rng.integers(len(SKIN))),
        hat=_pick(rng, colours) if rng.random() < 0.2 else "none",
        glasses=bool(rng.random() < 0.2),
        upper_type=_pick(rng, UPPER_TYPES),
        upper_colour=upper_colour,
        pattern=pattern,
        pattern_colour=_pick(rng, ("white", "black", "yellow", "red"), (upper_colour,)),
        lower_type=lower,
        lower_colour=lower_colour,
        shoe_type=_pick(rng, SHOE_TYPES),
        shoe_colour=_pick(rng, colours),
        accessory=_pick(rng, ACCESSORIES) if rng.random() < 0.75 else "none",
        accessory_colour=_pick(rng, colours),
    )


def family_variant(base: Person, rng: np.random.Generator) -> Person:
    """A look-alike that differs in one small region (shoe or accessory colour), so that the
    global embedding alone struggles to tell family members apart."""
    d = base.to_dict()
    if base.accessory != "none" and rng.random() < 0.5:
        d["accessory_colour"] = _pick(rng, tuple(COLOURS), (base.accessory_colour,))
    else:
        d["shoe_colour"] = _pick(rng, tuple(COLOURS), (base.shoe_colour,))
    return Person(**d)


@dataclass(frozen=True)
class Conditions:
    view: str
    low_light: bool
    occluded: bool
    blur: bool
    scale: float

    def to_dict(self) -> dict:
        return asdict(self)


def sample_conditions(rng: np.random.Generator, hard: bool) -> Conditions:
    """Domain B ('hard') has more low light, blur and occlusion, like surveillance footage."""
    return Conditions(
        view=VIEWS[int(rng.choice(3, p=(0.5, 0.3, 0.2)))],
        low_light=bool(rng.random() < (0.3 if hard else 0.08)),
        occluded=bool(rng.random() < (0.2 if hard else 0.08)),
        blur=bool(rng.random() < (0.25 if hard else 0.05)),
        scale=float(rng.uniform(0.82, 0.98)),
    )


def __getattr__(name: str):
    """The old path of the renderer (it moved to synth_render; imported lazily, as it imports this)."""
    if name in ("Canvas", "render"):
        from glalign.data import synth_render
        return getattr(synth_render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
