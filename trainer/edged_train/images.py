"""Image loading shared by training, calibration and evaluation."""

from __future__ import annotations

import numpy as np
from PIL import Image


def load_rgb(path: str, size: int) -> np.ndarray:
    """Decode an image, convert to RGB and resize (bilinear, stretch) to size×size.

    Raises OSError/ValueError with the path for unreadable files.
    """
    with Image.open(path) as im:
        im = im.convert("RGB")
        im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)
