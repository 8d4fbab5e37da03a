"""SynthPEDES drawing: a person under some conditions, rendered with a pixel-exact part label map.

Label ids follow ViTAA: 0 background, 1 head, 2 upper body, 3 lower body, 4 shoes, 5 others
(bag, umbrella, phone). Everything is drawn with numpy masks on a coordinate grid, so an image
and its label map come from the same shapes and agree to the pixel. Who is drawn (attributes,
conditions) is glalign.data.synth_people."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glalign.data.synth_people import COLOURS, LONG_SLEEVES, SKIN, Conditions, Person


class Canvas:
    """An RGB image and its label map, painted shape by shape (later shapes cover earlier ones)."""

    def __init__(self, height: int, width: int):
        self.h, self.w = height, width
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32)
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.label = np.zeros((height, width), np.uint8)

    def paint(self, mask: np.ndarray, colour, label: int | None) -> None:
        self.rgb[mask] = colour
        if label is not None:
            self.label[mask] = label

    def rect(self, y0, y1, x0, x1):
        return (self.yy >= y0) & (self.yy < y1) & (self.xx >= x0) & (self.xx < x1)

    def ellipse(self, cy, cx, ry, rx):
        return ((self.yy - cy) / max(ry, 0.5)) ** 2 + ((self.xx - cx) / max(rx, 0.5)) ** 2 <= 1.0

    def trapezoid(self, y0, y1, cx, half_top, half_bottom):
        t = np.clip((self.yy - y0) / max(y1 - y0, 1e-3), 0, 1)
        half = half_top + (half_bottom - half_top) * t
        return (self.yy >= y0) & (self.yy < y1) & (np.abs(self.xx - cx) <= half)


def render(person: Person, cond: Conditions, rng: np.random.Generator, height: int = 128,
           width: int = 64, hard: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Draw one image of `person` under `cond`. Returns (uint8 HxWx3 image, uint8 HxW label map).
    Back to front, each step drawing over the last (the generator's draws in a fixed order)."""
    cv = Canvas(height, width)
    _background(cv, rng, hard)
    f = _Figure.place(person, cond, rng, height, width)
    _back_accessory(cv, person, cond, f)
    _legs_and_shoes(cv, person, f)
    _torso_and_arms(cv, person, cond, f)
    _head(cv, person, cond, f)
    _front_accessory(cv, person, cond, f)
    _occluder(cv, cond, rng, f)
    return _finish(cv, cond, rng, hard)


def _background(cv: Canvas, rng, hard: bool) -> None:
    """A floor/wall gradient plus clutter boxes (more, darker in domain B)."""
    height, width = cv.label.shape
    top = np.array(rng.uniform(90, 200, 3) if not hard else rng.uniform(50, 140, 3), np.float32)
    bottom = top * rng.uniform(0.6, 0.9)
    grad = (cv.yy / height)[..., None]
    cv.rgb[:] = top * (1 - grad) + bottom * grad
    for _ in range(int(rng.integers(2, 7 if hard else 4))):
        y0, x0 = rng.uniform(0, height), rng.uniform(-10, width)
        cv.paint(cv.rect(y0, y0 + rng.uniform(8, 40), x0, x0 + rng.uniform(5, 25)), rng.uniform(30, 220, 3), None)


@dataclass
class _Figure:
    """Where the person stands and how wide they are: every body part is placed from these."""
    s: float          # body height in pixels
    cx: float         # horizontal centre
    y_top: float
    side: bool
    body_w: float
    skin: tuple
    arm_w: float
    leg_w: float

    @classmethod
    def place(cls, person: Person, cond: Conditions, rng, height: int, width: int) -> "_Figure":
        s = cond.scale * height
        cx = width / 2 + rng.uniform(-0.06, 0.06) * width
        y_top = rng.uniform(0.01, 0.04) * height + (height - s) * rng.uniform(0.2, 0.8)
        side = cond.view == "side"
        body_w = (0.11 if side else 0.14) * s * (0.9 if person.gender == "woman" else 1.0)
        return cls(s=s, cx=cx, y_top=y_top, side=side, body_w=body_w, skin=SKIN[person.skin], arm_w=0.036 * s,
                   leg_w=body_w * (0.45 if not side else 0.6))

    def Y(self, frac: float) -> float:  # noqa: N802  (vertical position as a fraction of body height)
        return self.y_top + frac * self.s


def _back_accessory(cv: Canvas, person: Person, cond: Conditions, f: _Figure) -> None:
    """A backpack sits behind the torso in front and side views: drawn first."""
    cx, s, Y, side, body_w = f.cx, f.s, f.Y, f.side, f.body_w
    acc_col = COLOURS[person.accessory_colour]
    if person.accessory == "backpack" and cond.view != "back":
        off = body_w * (0.9 if side else 1.05)
        cv.paint(cv.rect(Y(0.22), Y(0.46), cx - off - (0.05 * s if not side else -0.2 * s), cx - off + 0.06 * s)
                 if side else cv.rect(Y(0.22), Y(0.44), cx - off, cx + off), acc_col, 5)


def _legs_and_shoes(cv: Canvas, person: Person, f: _Figure) -> None:
    cx, s, Y, side, body_w, skin, leg_w = f.cx, f.s, f.Y, f.side, f.body_w, f.skin, f.leg_w
    low_col = COLOURS[person.lower_colour]
    hip, knee, ankle = Y(0.5), Y(0.7), Y(0.92)
    for sign in ((-1, 1) if not side else (0,)):
        lx = cx + sign * body_w * 0.48
        leg = cv.rect(hip, ankle, lx - leg_w, lx + leg_w)
        if person.lower_type in ("shorts", "skirt"):
            cv.paint(leg & (cv.yy >= knee - 0.04 * s), skin, 3)
            cv.paint(leg & (cv.yy < knee - 0.04 * s), low_col, 3)
        else:
            cv.paint(leg, low_col, 3)
    if person.lower_type == "skirt":
        cv.paint(cv.trapezoid(hip - 0.02 * s, knee, cx, body_w, body_w * 1.45), low_col, 3)
    shoe_col = COLOURS[person.shoe_colour]
    shoe_h = 0.05 * s if person.shoe_type != "boots" else 0.1 * s
    for sign in ((-1, 1) if not side else (0,)):
        lx = cx + sign * body_w * 0.48 + (0.04 * s if side else 0)
        cv.paint(cv.rect(ankle - (shoe_h - 0.05 * s), ankle + 0.045 * s, lx - leg_w * 1.15, lx + leg_w * 1.25),
                 shoe_col, 4)


def _torso_and_arms(cv: Canvas, person: Person, cond: Conditions, f: _Figure) -> None:
    cx, s, Y, side, body_w, skin, arm_w = f.cx, f.s, f.Y, f.side, f.body_w, f.skin, f.arm_w
    up_col = COLOURS[person.upper_colour]
    torso = cv.trapezoid(Y(0.19), Y(0.5) + 0.02 * s, cx, body_w * 1.05, body_w * 0.95)
    cv.paint(torso, up_col, 2)
    if person.pattern == "stripes":
        stripes = torso & ((((cv.yy - Y(0.19)) / max(0.035 * s, 1)).astype(int) % 2) == 1)
        cv.paint(stripes, COLOURS[person.pattern_colour], 2)
    elif person.pattern == "logo" and cond.view == "front":
        cv.paint(cv.rect(Y(0.27), Y(0.34), cx - 0.045 * s, cx + 0.045 * s), COLOURS[person.pattern_colour], 2)
    sleeve_end = Y(0.47) if person.upper_type in LONG_SLEEVES else Y(0.29)
    for sign in ((-1, 1) if not side else (0.2,)):
        ax = cx + sign * (body_w * 1.05 + arm_w)
        arm = cv.rect(Y(0.2), Y(0.49), ax - arm_w, ax + arm_w)
        cv.paint(arm & (cv.yy < sleeve_end), up_col, 2)
        cv.paint(arm & (cv.yy >= sleeve_end), skin, 2)


def _head(cv: Canvas, person: Person, cond: Conditions, f: _Figure) -> None:
    """Head, hair, hat, glasses (or eyes, so faces read as faces)."""
    cx, s, Y = f.cx, f.s, f.Y
    hcy, hry, hrx = Y(0.1), 0.085 * s, 0.065 * s
    cv.paint(cv.ellipse(hcy, cx, hry, hrx), f.skin, 1)
    hair_col = COLOURS[person.hair_colour]
    if cond.view == "back":
        cv.paint(cv.ellipse(hcy, cx, hry, hrx), hair_col, 1)
    else:
        cv.paint(cv.ellipse(hcy - 0.4 * hry, cx, hry * 0.7, hrx * 1.05) & (cv.yy < hcy - 0.1 * hry), hair_col, 1)
    if person.hair_length == "long":
        cv.paint(cv.rect(hcy - 0.2 * hry, Y(0.3), cx - hrx * 1.1, cx - hrx * 0.55), hair_col, 1)
        cv.paint(cv.rect(hcy - 0.2 * hry, Y(0.3), cx + hrx * 0.55, cx + hrx * 1.1), hair_col, 1)
        if cond.view == "back":
            cv.paint(cv.rect(hcy, Y(0.3), cx - hrx * 1.1, cx + hrx * 1.1), hair_col, 1)
    if person.hat != "none":
        cv.paint(cv.ellipse(hcy - 0.65 * hry, cx, hry * 0.5, hrx * 1.25), COLOURS[person.hat], 1)
    if person.glasses and cond.view != "back":
        cv.paint(cv.rect(hcy - 0.15 * hry, hcy + 0.12 * hry, cx - hrx * 0.85, cx + hrx * 0.85), (20, 20, 20), 1)
    elif cond.view != "back":
        for sign in (-1, 1):
            cv.paint(cv.ellipse(hcy - 0.05 * hry, cx + sign * hrx * 0.4, 0.08 * hry + 0.6, 0.1 * hrx + 0.5),
                     (25, 25, 25), 1)


def _front_accessory(cv: Canvas, person: Person, cond: Conditions, f: _Figure) -> None:
    """Accessories in front of the body."""
    cx, s, Y, body_w, arm_w = f.cx, f.s, f.Y, f.body_w, f.arm_w
    acc_col = COLOURS[person.accessory_colour]
    if person.accessory == "backpack" and cond.view == "back":
        cv.paint(cv.rect(Y(0.22), Y(0.46), cx - body_w * 0.85, cx + body_w * 0.85), acc_col, 5)
    elif person.accessory == "backpack" and cond.view == "front":
        for sign in (-1, 1):
            cv.paint(cv.rect(Y(0.2), Y(0.38), cx + sign * body_w * 0.6 - 1, cx + sign * body_w * 0.6 + 1), acc_col, 5)
    elif person.accessory == "handbag":
        bx = cx + body_w * 1.05 + 2 * arm_w
        cv.paint(cv.rect(Y(0.43), Y(0.55), bx - 0.05 * s, bx + 0.07 * s), acc_col, 5)
    elif person.accessory == "umbrella":
        ux = cx + body_w * 1.1 + arm_w
        cv.paint(cv.rect(Y(-0.02), Y(0.46), ux - 0.7, ux + 0.7), (40, 40, 40), 5)
        cv.paint(cv.ellipse(Y(0.0), ux, 0.06 * s, 0.2 * s) & (cv.yy <= Y(0.0)), acc_col, 5)
    elif person.accessory == "phone" and cond.view != "back":
        px = cx + body_w * 1.05 + arm_w
        cv.paint(cv.rect(Y(0.44), Y(0.5), px - 0.025 * s, px + 0.025 * s), acc_col, 5)


def _occluder(cv: Canvas, cond: Conditions, rng, f: _Figure) -> None:
    """Something in front of the person (label back to background)."""
    height, width = cv.label.shape
    if cond.occluded:
        if rng.random() < 0.5:  # low wall / car bonnet hiding the legs and shoes
            y0 = f.Y(rng.uniform(0.62, 0.8))
            cv.paint(cv.rect(y0, height, -1, width + 1), rng.uniform(40, 200, 3), 0)
        else:  # a passer-by or pole hiding one side
            x0 = f.cx + rng.choice((-1, 1)) * rng.uniform(0.0, 0.25) * width
            cv.paint(cv.rect(f.Y(0.15), height, x0 - 0.2 * width, x0 + 0.2 * width), rng.uniform(40, 200, 3), 0)


def _finish(cv: Canvas, cond: Conditions, rng, hard: bool) -> tuple[np.ndarray, np.ndarray]:
    """Blur, lighting and sensor noise over the drawn image; the label map is kept as drawn."""
    height, width = cv.label.shape
    img = cv.rgb
    if cond.blur:
        pad = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
        img = sum(pad[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3)) / 9.0
    light = rng.uniform(0.9, 1.1) if not cond.low_light else rng.uniform(0.28, 0.42)
    img = img * light + rng.normal(0, 6 if not (hard or cond.low_light) else 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), cv.label
