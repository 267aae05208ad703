"""The default pinhole camera, used wherever no CameraInfo says otherwise."""
from __future__ import annotations

import numpy as np


def default_camera_matrix(width: int, height: int) -> np.ndarray:
    """Pinhole K with f = image width (about a 53° horizontal field of view) and the centre in the middle."""
    f = float(width)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]], dtype=np.float64)
