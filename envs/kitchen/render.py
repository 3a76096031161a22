"""A small numpy picture of a kitchen state: one bar per display feature.

Layout (top to bottom): a strip in the goal's colour, the bars (each filled in its own
colour in proportion to ``value / maximum`` over an empty grey slot), and a white bar of
the episode's progress ``t / T``.
"""

from __future__ import annotations

import numpy as np

PALETTE = np.array(
    [[230, 80, 70], [70, 120, 230], [240, 190, 60], [90, 190, 110], [170, 100, 210], [60, 200, 210], [240, 140, 60]],
    dtype=np.uint8,
)
BACKGROUND, SLOT, PROGRESS = 30, 70, 235
STRIP, BAR_HEIGHT, BAR_WIDTH, GAP = 4, 32, 8, 3


def bar_picture(values: np.ndarray, maxima: np.ndarray, progress: float, goal: int) -> np.ndarray:
    """[H, W, 3] uint8: bars of ``values`` [F] out of ``maxima`` [F] (>= 1), ``progress``
    in [0, 1], and a strip in the colour of goal index ``goal``."""
    num_bars = max(len(values), 1)
    width = GAP + num_bars * (BAR_WIDTH + GAP)
    height = STRIP + GAP + BAR_HEIGHT + GAP + STRIP
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    image[:STRIP] = PALETTE[goal % len(PALETTE)]
    bottom = STRIP + GAP + BAR_HEIGHT
    for i, (value, maximum) in enumerate(zip(values, maxima)):
        left = GAP + i * (BAR_WIDTH + GAP)
        filled = int(round(BAR_HEIGHT * min(value / maximum, 1.0)))
        image[bottom - BAR_HEIGHT : bottom, left : left + BAR_WIDTH] = SLOT
        image[bottom - filled : bottom, left : left + BAR_WIDTH] = PALETTE[i % len(PALETTE)]
    done = int(round(width * min(max(progress, 0.0), 1.0)))
    image[height - STRIP :, :done] = PROGRESS
    return image
