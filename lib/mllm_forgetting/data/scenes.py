"""Procedural scenes: up to 3 coloured shapes on a 2x2 grid, drawn with PIL.

Shapes are big and colours saturated so a tiny random-init ViT (patch 8 at 32x32) can learn
them; one object per quadrant, so objects never overlap and every position has a name.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("circle", "square", "triangle", "cross")
COLORS = {"red": (225, 35, 35), "green": (35, 190, 50), "blue": (45, 85, 240), "yellow": (240, 220, 30)}
POSITIONS = ("top left", "top right", "bottom left", "bottom right")  # quadrant p: row p // 2, col p % 2
SUPERSAMPLE = 4  # draw 4x larger then box-downsample: clean anti-aliased edges at 32x32
DEGRADATIONS = ("noise", "blur", "occlusion")
# load_digits() has 1797 scans; disjoint index ranges so test measures reading, not memorisation
DIGIT_SPLITS = {"train": (0, 1200), "val": (1200, 1400), "test": (1400, 1797)}


@dataclass(frozen=True)
class Obj:
    shape: str
    color: str
    pos: int  # quadrant index into POSITIONS

    @property
    def row(self) -> int:
        return self.pos // 2

    @property
    def col(self) -> int:
        return self.pos % 2


def random_scene(rng: np.random.Generator, n: int, positions=range(4)) -> list[Obj]:
    """n objects of distinct shapes, colours and quadrants: 'the circle' / 'the red object' is unambiguous."""
    shapes = rng.permutation(len(SHAPES))[:n]
    colors = rng.permutation(len(COLORS))[:n]
    pos = rng.permutation(np.array(list(positions)))[:n]
    names = list(COLORS)
    return [Obj(SHAPES[s], names[c], int(p)) for s, c, p in zip(shapes, colors, pos)]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        s = 0.85 * r  # a bit smaller than the circle's bbox so areas are comparable
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + 0.85 * r), (cx + r, cy + 0.85 * r)], fill=fill)
    elif shape == "cross":
        t = 0.38 * r  # half thickness of the arms: ~4 px at 32x32, still clearly a plus sign
        draw.rectangle([cx - r, cy - t, cx + r, cy + t], fill=fill)
        draw.rectangle([cx - t, cy - r, cx + t, cy + r], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def render_scene(scene: list[Obj], size: int, rng: np.random.Generator) -> Image.Image:
    """Dark grey background (random shade) with each object jittered inside its quadrant."""
    big = size * SUPERSAMPLE
    q = big / 4  # half width of a quadrant
    bg = int(rng.integers(15, 70))
    img = Image.new("RGB", (big, big), (bg, bg, bg))
    draw = ImageDraw.Draw(img)
    for o in scene:
        r = q * rng.uniform(0.8, 0.92)
        slack = q - r  # jitter only as far as the shape stays inside its quadrant
        cx = (2 * o.col + 1) * q + rng.uniform(-slack, slack)
        cy = (2 * o.row + 1) * q + rng.uniform(-slack, slack)
        _draw_shape(draw, o.shape, cx, cy, r, COLORS[o.color])
    return img.resize((size, size), Image.Resampling.BOX)


def degrade(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A VizWiz-style strong degradation, strong enough that the question becomes unanswerable."""
    kind = DEGRADATIONS[int(rng.integers(len(DEGRADATIONS)))]
    size = img.size[0]
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(radius=size / 5))
    a = np.asarray(img, dtype=np.float32)
    if kind == "noise":
        a = 0.25 * a + 0.75 * rng.uniform(0, 255, a.shape)
    else:  # occlusion: a skin-toned "finger over the lens" covering most of the image
        w, h = (rng.uniform(0.9, 1.0, 2) * size).astype(int)
        x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        a[y : y + h, x : x + w] = rng.uniform([170, 120, 90], [230, 180, 150])
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    d = load_digits()
    return d.images, d.target


def digit_pool(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(scans, labels) reserved for a split; scans are 8x8 with values 0..16."""
    if split not in DIGIT_SPLITS:
        raise ValueError(f"textvqa digit scans exist only for splits {list(DIGIT_SPLITS)}, got {split!r}")
    lo, hi = DIGIT_SPLITS[split]
    images, labels = _digits()
    return images[lo:hi], labels[lo:hi]


def paste_digit(img: Image.Image, scan: np.ndarray, pos: int, dark_ink: bool) -> None:
    """Upscale an 8x8 scan to fill quadrant `pos` (in place): dark ink on light paper or the reverse."""
    size = img.size[0]
    ink = scan / 16.0
    a = 240 - 220 * ink if dark_ink else 20 + 220 * ink
    patch = Image.fromarray(a.astype(np.uint8), "L").resize((size // 2, size // 2), Image.Resampling.BILINEAR)
    img.paste(patch.convert("RGB"), ((pos % 2) * size // 2, (pos // 2) * size // 2))


# ------------------------------------------------- 3x3 grid scenes (grounding) and counting scenes

GRID = 3  # cells per side of the grounding grid; cell index c: row c // GRID, col c % GRID
CELL_TENTHS = 3  # a cell spans 3 tenths of the image side: boxes are single digits ("10" is no word)


@dataclass(frozen=True)
class GridObj:
    shape: str
    color: str
    cell: int  # index into the 3x3 grid, row-major

    @property
    def row(self) -> int:
        return self.cell // GRID

    @property
    def col(self) -> int:
        return self.cell % GRID


def cell_box(cell: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a grid cell in tenths of the image side: the grid covers tenths 0..9 (the last
    tenth on the right and at the bottom stays empty), so every coordinate is one digit."""
    row, col = divmod(cell, GRID)
    return (CELL_TENTHS * col, CELL_TENTHS * row, CELL_TENTHS * (col + 1), CELL_TENTHS * (row + 1))


def random_grid_scene(rng: np.random.Generator, n: int, cell: int) -> list[GridObj]:
    """n objects of distinct shapes and colours in distinct cells of the 3x3 grid, the first one at `cell`."""
    shapes = rng.permutation(len(SHAPES))[:n]
    colors = rng.permutation(len(COLORS))[:n]
    others = rng.permutation(np.array([c for c in range(GRID * GRID) if c != cell]))[: n - 1]
    names = list(COLORS)
    return [GridObj(SHAPES[s], names[c], int(p)) for s, c, p in zip(shapes, colors, [cell, *others])]


def render_grid_scene(scene: list[GridObj], size: int, rng: np.random.Generator) -> Image.Image:
    """Like render_scene, on a 3x3 grid: each object jittered inside the whole output pixels of its cell's
    box (cell_box), so every pixel it touches lies within that box at any image size."""
    big = size * SUPERSAMPLE
    bg = int(rng.integers(15, 70))
    img = Image.new("RGB", (big, big), (bg, bg, bg))
    draw = ImageDraw.Draw(img)
    for o in scene:
        x0, y0, x1, y1 = cell_box(o.cell)
        # supersampled pixels [lo, hi] (inclusive) make up the output pixels wholly inside the box
        lo_x, lo_y = (-(-t * size // 10) * SUPERSAMPLE for t in (x0, y0))
        hi_x, hi_y = ((t * size // 10) * SUPERSAMPLE - 1 for t in (x1, y1))
        half = min(hi_x - lo_x, hi_y - lo_y) / 2
        r = half * rng.uniform(0.8, 0.92)
        slack = half - r
        cx = (lo_x + hi_x) / 2 + rng.uniform(-slack, slack)
        cy = (lo_y + hi_y) / 2 + rng.uniform(-slack, slack)
        _draw_shape(draw, o.shape, cx, cy, r, COLORS[o.color])
    return img.resize((size, size), Image.Resampling.BOX)


def count_scene(rng: np.random.Generator, color: str, k: int, n: int) -> list[Obj]:
    """n objects (1..4, one per quadrant) of which exactly k are `color`; the others' colours are drawn from
    the remaining colours with repetition, and every shape is drawn with repetition."""
    if not 1 <= k <= n <= 4:
        raise ValueError(f"count_scene needs 1 <= k <= n <= 4, got k={k} n={n}")
    others = [c for c in COLORS if c != color]
    colors = [color] * k + [others[int(i)] for i in rng.integers(len(others), size=n - k)]
    shapes = rng.integers(len(SHAPES), size=n)
    pos = rng.permutation(4)[:n]
    return [Obj(SHAPES[int(s)], c, int(p)) for s, c, p in zip(shapes, colors, pos)]
