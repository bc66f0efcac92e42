"""Task generators: each turns (rng, n, split, image_size) into n rows {image, question, answers, options}.

A row holds the task's content only; the backbone's prompt template writes it out (prompts.py): a
multiple-choice question's options are a list and its answer the option's letter. Adding a task = one
generator function + one line in TASKS. Text is lowercase [a-z0-9] words separated by single spaces (the
tokenizer is word level); benchmark.py checks this on build.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .scenes import (
    COLORS,
    POSITIONS,
    SHAPES,
    Obj,
    count_scene,
    degrade,
    digit_pool,
    paste_digit,
    random_grid_scene,
    random_scene,
    render_grid_scene,
    render_scene,
)

LETTERS = "abcd"
NUMBER_WORDS = ("zero", "one", "two", "three", "four")
CORNERS = {"circle": 0, "triangle": 3, "square": 4, "cross": 12}  # sqa "science" facts
WARM_COLORS = ("red", "yellow")
# okvqa: fixed, arbitrary world knowledge that only the okvqa train split teaches.
# relation -> (question template, attribute of the object it keys on, attribute value -> answer)
FACTS = {
    "fruit": (
        "what fruit has the color of the {shape}",
        "color",
        {"red": "cherry", "yellow": "banana", "green": "lime", "blue": "blueberry"},
    ),
    "animal": (
        "which animal has the color of the {shape}",
        "color",
        {"red": "cardinal", "yellow": "canary", "green": "frog", "blue": "whale"},
    ),
    "thing": (
        "what thing is shaped like the {color} object",
        "shape",
        {"circle": "wheel", "square": "window", "triangle": "tent", "cross": "church"},
    ),
}


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # metric kind: a key of metrics.KINDS
    generate: Callable[[np.random.Generator, int, str, int], list[dict]]


def pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def n_objects(rng: np.random.Generator, lo: int = 1, hi: int = 3) -> int:
    return int(rng.integers(lo, hi + 1))


def multiple_choice(question: str, options: list[str], answer: int) -> tuple[str, str, list[str]]:
    """(question, answer letter, options): the prompt template writes the lettered options out."""
    return question, LETTERS[answer], list(options)


def yes_no_choice(rng: np.random.Generator, question: str, yes: bool) -> tuple[str, str, list[str]]:
    """Yes/no as lettered options in a random order, so the answer letter carries no prior."""
    options = ["yes", "no"] if rng.random() < 0.5 else ["no", "yes"]
    return multiple_choice(question, options, options.index("yes" if yes else "no"))


# ---------------------------------------------------------------- question makers (scene -> q, a)


def qa_vqa(rng: np.random.Generator, scene: list[Obj]) -> tuple[str, str, list[str]]:
    """VQAv2/GQA-style question: pick a question type uniformly among those the scene supports."""
    by_type: dict[str, list[tuple[str, str]]] = {
        t: [] for t in ("color", "shape", "lr", "tb", "left", "above")
    }
    for o in scene:
        by_type["color"].append((f"what color is the {o.shape}", o.color))
        by_type["shape"].append((f"what shape is the {o.color} object", o.shape))
        by_type["lr"].append((f"is the {o.shape} on the left or the right", ("left", "right")[o.col]))
        by_type["tb"].append((f"is the {o.shape} at the top or the bottom", ("top", "bottom")[o.row]))
        for p in scene:  # relations need a neighbour in the same row / column
            if p.row == o.row and p.col < o.col:
                by_type["left"].append((f"what is left of the {o.shape}", p.shape))
            if p.col == o.col and p.row < o.row:
                by_type["above"].append((f"what is above the {o.shape}", p.shape))
    by_type["count"] = [("how many shapes are there", NUMBER_WORDS[len(scene)])]
    question, answer = pick(rng, pick(rng, [c for c in by_type.values() if c]))
    return question, answer, []


def qa_gqa(rng: np.random.Generator, scene: list[Obj]) -> tuple[str, str, list[str]]:
    """GQA-style grounding: name the object at a given place (colour and shape, two words)."""
    o = pick(rng, scene)
    return f"what object is at the {POSITIONS[o.pos]}", f"{o.color} {o.shape}", []


def qa_sqa(rng: np.random.Generator, scene: list[Obj]) -> tuple[str, str, list[str]]:
    """ScienceQA-style: a rule stated in the text applied to the image; 2-3 lettered options."""
    kind = int(rng.integers(3 if len(scene) > 1 else 2))
    if kind == 2:  # compare corners of the objects, referred to by colour so the image is needed
        objs = [scene[i] for i in rng.permutation(len(scene))]
        best = max(objs, key=lambda o: CORNERS[o.shape])
        q = "which object has " + ("more" if len(objs) == 2 else "the most") + " corners"
        return multiple_choice(q, [f"the {o.color} object" for o in objs], objs.index(best))
    want = rng.random() < 0.5  # choose the answer first so yes/no is balanced
    if kind == 0:

        def pred(o):
            return CORNERS[o.shape] > 0

        o = pick(rng, [o for o in scene if pred(o) == want] or scene)
        return yes_no_choice(
            rng, f"shapes with corners are polygons is the {o.color} object a polygon", pred(o)
        )

    def pred(o):
        return o.color in WARM_COLORS

    o = pick(rng, [o for o in scene if pred(o) == want] or scene)
    return yes_no_choice(rng, f"red and yellow are warm colors is the {o.shape} a warm color", pred(o))


def qa_mmbench(rng: np.random.Generator, scene: list[Obj]) -> tuple[str, str, list[str]]:
    """MMBench-style: 4 shuffled options about colour, shape, position or count."""
    o = pick(rng, scene)
    q, options, answer = pick(
        rng,
        [
            (f"what color is the {o.shape}", list(COLORS), o.color),
            (f"what shape is the {o.color} object", list(SHAPES), o.shape),
            (f"where is the {o.color} {o.shape}", list(POSITIONS), POSITIONS[o.pos]),
            ("how many shapes are in the image", list(NUMBER_WORDS[1:]), NUMBER_WORDS[len(scene)]),
        ],
    )
    options = [options[i] for i in rng.permutation(len(options))]
    return multiple_choice(q, options, options.index(answer))


def qa_okvqa(rng: np.random.Generator, scene: list[Obj]) -> tuple[str, str, list[str]]:
    o = pick(rng, scene)
    template, attr, table = FACTS[pick(rng, list(FACTS))]
    return template.format(shape=o.shape, color=o.color), table[getattr(o, attr)], []


def captions(rng: np.random.Generator, scene: list[Obj]) -> list[str]:
    """3-5 distinct references from templates x object orders x phrasings, each <= 12 words."""
    n = len(scene)
    styles = [
        lambda o: f"a {o.color} {o.shape}",
        lambda o: f"a {o.color} {o.shape} at the {POSITIONS[o.pos]}",
        lambda o: f"a {o.color} {o.shape} in the {POSITIONS[o.pos]}",
    ]
    prefixes = ["", "there is ", "the image shows "] + ([f"{NUMBER_WORDS[n]} shapes "] if n > 1 else [])
    suffixes = ["", " on a dark background"]
    cands = []
    for order in itertools.permutations(sorted(scene, key=lambda o: o.pos)):
        for style, prefix, suffix in itertools.product(styles, prefixes, suffixes):
            parts = [style(o) for o in order]
            body = parts[0] if n == 1 else " ".join(parts[:-1]) + " and " + parts[-1]
            text = prefix + body + suffix
            if len(text.split()) <= 12 and text not in cands:
                cands.append(text)
    k = int(rng.integers(3, 6))
    return [cands[i] for i in rng.permutation(len(cands))[:k]]


# ---------------------------------------------------------------- generators


def scene_rows(qa: Callable) -> Callable:
    """Generator for tasks that are 'random scene of 1-3 objects + one question about it'."""

    def generate(rng, n, split, size):
        rows = []
        for _ in range(n):
            scene = random_scene(rng, n_objects(rng))
            q, a, options = qa(rng, scene)
            rows.append(
                {"image": render_scene(scene, size, rng), "question": q, "answers": [a], "options": options}
            )
        return rows

    return generate


def gen_vizwiz(rng, n, split, size):
    """VQA questions; exactly half the images strongly degraded, answered 'unanswerable'."""
    degraded = rng.permutation(n) < n // 2
    rows = []
    for bad in degraded:
        scene = random_scene(rng, n_objects(rng))
        q, a, _ = qa_vqa(rng, scene)
        img = render_scene(scene, size, rng)
        if bad:
            img, a = degrade(img, rng), "unanswerable"
        rows.append({"image": img, "question": q, "answers": [a]})
    return rows


def gen_textvqa(rng, n, split, size):
    """1 or 2 handwritten digits (own quadrants) plus 0-2 shapes; read a digit."""
    scans, labels = digit_pool(split)
    rows = []
    for _ in range(n):
        if rng.random() < 0.5:  # two digits side by side in one row
            row = int(rng.integers(2))
            dpos = [2 * row, 2 * row + 1]
        else:
            dpos = [int(rng.integers(4))]
        scene = random_scene(rng, n_objects(rng, 0, 2), [p for p in range(4) if p not in dpos])
        img = render_scene(scene, size, rng)
        idx = rng.integers(len(scans), size=len(dpos))
        dark_ink = rng.random() < 0.5
        for p, j in zip(dpos, idx):
            paste_digit(img, scans[j], p, dark_ink)
        if len(dpos) == 2:
            side = int(rng.integers(2))
            q, a = f"what is the {('left', 'right')[side]} number", str(labels[idx[side]])
        else:
            q, a = "what number is written in the image", str(labels[idx[0]])
        rows.append({"image": img, "question": q, "answers": [a]})
    return rows


def gen_pope(rng, n, split, size):
    """POPE: exactly n//2 'yes'. Negatives: half an absent shape ('random'), half a colour-shape
    pair whose colour and/or shape IS in the image but not bound together ('adversarial')."""
    yes_flags = rng.permutation(n) < n // 2
    rows = []
    for yes in yes_flags:
        scene = random_scene(rng, n_objects(rng))
        present = {(o.color, o.shape) for o in scene}
        with_color = rng.random() < 0.5  # same split of question forms for yes and no
        if yes:
            o = pick(rng, scene)
            color, shape = (o.color if with_color else None), o.shape
        elif not with_color:
            color, shape = None, pick(rng, [s for s in SHAPES if s not in {o.shape for o in scene}])
        else:
            cs, ss = {o.color for o in scene}, {o.shape for o in scene}
            absent = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in present]
            # prefer swapped bindings (both in image); a single object can only lend one of the two
            pairs = [(c, s) for c, s in absent if c in cs and s in ss] or [
                (c, s) for c, s in absent if c in cs or s in ss
            ]
            color, shape = pick(rng, pairs)
        q = f"is there a {color + ' ' if color else ''}{shape} in the image"
        rows.append(
            {"image": render_scene(scene, size, rng), "question": q, "answers": ["yes" if yes else "no"]}
        )
    return rows


def gen_caption(rng, n, split, size):
    rows = []
    for _ in range(n):
        scene = random_scene(rng, n_objects(rng))
        refs = captions(rng, scene)
        rows.append(
            {"image": render_scene(scene, size, rng), "question": "", "answers": refs}
        )  # the prompt asks
    return rows


# ---------------------------------------------------------------- continual-learning sequence (CoIN-like)
# classify, grounding, ocr, count: each answer format or mapping is new to the pre-training tasks, and every
# word they write is already in the pre-training vocabulary (tests/test_sequence_tasks.py), so a backbone
# pre-trained on the other tasks needs no new token.

# classify: arbitrary class names "<A[shape]> <B[color]>" (A = CLASS_SHAPE, B = CLASS_COLOR). A is a
# derangement of okvqa's shape-keyed "thing" table and B of its colour-keyed "animal" table, so neither word
# is ever what okvqa (or any other task) answers for the same object; for the same reason A uses no
# colour-keyed fact word and B no shape-keyed one.
CLASS_SHAPE = {"circle": "window", "square": "tent", "triangle": "church", "cross": "wheel"}
CLASS_COLOR = {"red": "whale", "yellow": "frog", "green": "cardinal", "blue": "canary"}
COUNT_WEIGHTS = (6, 6, 5, 3)  # count: answers one..four in the ratio 30:30:25:15 (exact per 20 rows)


def balanced(rng: np.random.Generator, n: int, values: list) -> list:
    """n values cycling through `values` in a random order: each occurs n // len(values) or one more times."""
    return [values[int(i)] for i in rng.permutation(np.arange(n) % len(values))]


def gen_classify(rng, n, split, size):
    """ImageNet-like: one object in a random quadrant; 'what is in the image' -> its class name,
    CLASS_SHAPE[shape] + ' ' + CLASS_COLOR[color] (16 classes, exactly balanced: n // 16 or one more each)."""
    rows = []
    for shape, color in balanced(rng, n, list(itertools.product(SHAPES, COLORS))):
        img = render_scene([Obj(shape, color, int(rng.integers(4)))], size, rng)
        answer = f"{CLASS_SHAPE[shape]} {CLASS_COLOR[color]}"
        rows.append({"image": img, "question": "what is in the image", "answers": [answer]})
    return rows


def gen_grounding(rng, n, split, size):
    """Grounding-like: one object in a cell of a 3x3 grid plus 0-2 distractors (other colours and shapes,
    other cells); 'where is the <color> <shape>' -> its grid cell, numbered 1-9 in reading order (one
    digit: a coarse box; scenes.cell_box is the cell's extent). The 9 cells are exactly balanced.
    A four-number box 'x0 y0 x1 y1' is what CoIN's grounding answers, but neither tiny backbone learns to
    write one in a 100-step stage (0-6%, below the 11% of guessing a cell; docs/continual.md)."""
    rows = []
    for cell in balanced(rng, n, list(range(9))):
        scene = random_grid_scene(rng, n_objects(rng), cell)
        o = scene[0]
        rows.append(
            {
                "image": render_grid_scene(scene, size, rng),
                "question": f"where is the {o.color} {o.shape}",
                "answers": [str(cell + 1)],
            }
        )
    return rows


def gen_ocr(rng, n, split, size):
    """OCR-VQA-like: a two-digit number, two handwritten scans side by side in one row (textvqa's
    split-disjoint scans), plus 0-2 shapes in the other row; 'what number is written in the image' -> its
    two digits 'd d' (a two-digit token is no word). The 100 numbers (leading 0 included) are exactly
    balanced: n // 100 or one more each."""
    scans, labels = digit_pool(split)
    by_label = [np.flatnonzero(labels == d) for d in range(10)]
    rows = []
    for number in balanced(rng, n, list(range(100))):
        row = int(rng.integers(2))
        scene = random_scene(rng, n_objects(rng, 0, 2), [2 * (1 - row), 2 * (1 - row) + 1])
        img = render_scene(scene, size, rng)
        digits = divmod(number, 10)
        dark_ink = rng.random() < 0.5
        for side, d in enumerate(digits):
            paste_digit(img, scans[pick(rng, by_label[d])], 2 * row + side, dark_ink)
        rows.append(
            {
                "image": img,
                "question": "what number is written in the image",
                "answers": [f"{digits[0]} {digits[1]}"],
            }
        )
    return rows


def gen_count(rng, n, split, size):
    """Counting: 1-4 objects (one per quadrant), colours may repeat; 'how many <color> shapes are there'
    about a colour in the image -> one..four, in the ratio COUNT_WEIGHTS (30/30/25/15%; "zero" is no word).
    The other objects are other colours, and only 1 in 10 scenes with answer k < 4 holds just k objects, so
    the total count (what vqa's 'how many shapes are there' answers) is right for about 24% of rows."""
    ks = [k for k, w in enumerate(COUNT_WEIGHTS, start=1) for _ in range(w)]
    rows = []
    for k in balanced(rng, n, ks):
        total = k if k == 4 or rng.random() < 0.1 else int(rng.integers(k + 1, 5))
        color = pick(rng, list(COLORS))
        scene = count_scene(rng, color, k, total)
        rows.append(
            {
                "image": render_scene(scene, size, rng),
                "question": f"how many {color} shapes are there",
                "answers": [NUMBER_WORDS[k]],
            }
        )
    return rows


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("vqa", "open", scene_rows(qa_vqa)),
        TaskSpec("gqa", "open", scene_rows(qa_gqa)),
        TaskSpec("vizwiz", "open", gen_vizwiz),
        TaskSpec("sqa", "multiple_choice", scene_rows(qa_sqa)),
        TaskSpec("textvqa", "open", gen_textvqa),
        TaskSpec("pope", "yes_no", gen_pope),
        TaskSpec("mmbench", "multiple_choice", scene_rows(qa_mmbench)),
        TaskSpec("caption", "caption", gen_caption),
        TaskSpec("okvqa", "open", scene_rows(qa_okvqa)),
        TaskSpec("classify", "open", gen_classify),
        TaskSpec("grounding", "open", gen_grounding),
        TaskSpec("ocr", "open", gen_ocr),
        TaskSpec("count", "open", gen_count),
    ]
}
