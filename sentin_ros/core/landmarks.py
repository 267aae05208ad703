"""MediaPipe FaceMesh landmark indices used by the core (478-point topology with iris).

"Right"/"left" are the subject's: the subject's right eye appears on the image's left.
"""
import numpy as np

# Eye contour points for the eye aspect ratio (Soukupova & Cech 2016):
# (outer corner, upper-1, upper-2, inner corner, lower-2, lower-1).
RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)
LEFT_EYE_EAR = (263, 387, 385, 362, 380, 373)

RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE_UPPER_LID, RIGHT_EYE_LOWER_LID = 159, 145
LEFT_EYE_UPPER_LID, LEFT_EYE_LOWER_LID = 386, 374

# Iris: centre then four contour points (refine_landmarks=True).
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Brows: inner end and the point above the eye centre.
RIGHT_BROW_INNER, LEFT_BROW_INNER = 55, 285
RIGHT_BROW_MID, LEFT_BROW_MID = 105, 334

# Mouth: corners, inner-lip mid points, outer-lip mid points.
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
LIP_INNER_UPPER, LIP_INNER_LOWER = 13, 14
LIP_OUTER_UPPER, LIP_OUTER_LOWER = 0, 17

NOSE_TIP, CHIN = 1, 152

NUM_MESH = 468  # the face-landmark model's points; the 10 iris points follow
NUM_LANDMARKS = 478


def mesh_box(points: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) of the 468 mesh points (the iris rows, NaN without iris, are left out)."""
    # Reduced along contiguous rows: down the columns of an N×2 array numpy takes ~6× as long.
    xy = points[:NUM_MESH, :2].T.copy()
    return np.concatenate([xy.min(1), xy.max(1)])
