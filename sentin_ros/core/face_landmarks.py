"""Face landmarks (468 points) and iris (5 points an eye) on LiteRT, assembled into the
478-point FaceMesh topology (468 mesh points, then the image-left iris, then the image-right
iris; each iris: centre, image-right, top, image-left, bottom) that the rest of the core uses.

Models: MediaPipe's `face_landmark.tflite` (192×192 input) and `iris_landmark.tflite`
(64×64 input, one eye, trained on the image-left eye: the other eye is mirrored), Apache-2.0,
as derived in models/ (uint8 input; the wheel's float-input files also work). Regions follow MediaPipe's face_landmark and iris graphs:
the face square is 1.5× the face's extent rotated to the eye line; an eye square is 2.3× the
distance between its corners.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..runtime import LiteModel, ModelError, ModelOptions
from . import landmarks as L
from .face_roi import Roi, crop, roi_from_points

NUM_MESH = L.NUM_MESH

FACE_INPUT = 192
IRIS_INPUT = 64
FACE_SCALE = 1.5
EYE_SCALE = 2.3
IMAGE_LEFT_EYE, IMAGE_RIGHT_EYE = 0, 1  # the subject's right eye, the subject's left eye


@dataclass
class FaceLandmarks:
    points: np.ndarray  # 478×3 pixels (x, y, z; z in the scale of x); iris rows NaN without iris
    presence: float  # the landmark model's face-presence probability
    roi: Roi  # the region the landmarks were computed in
    box: np.ndarray  # the mesh's extent (x0, y0, x1, y1) in pixels



def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(x, -80.0), 80.0)))


class FaceLandmarker:
    """`mesh(rgb, roi)` -> FaceLandmarks, then `add_iris(rgb, face)` for the faces that are kept."""

    def __init__(self, face_model_path: str, iris_model_path: str | None, options: ModelOptions):
        self.face = LiteModel(
            face_model_path, options,
            expected_inputs=[(1, FACE_INPUT, FACE_INPUT, 3)], expected_outputs=[(1, 1, 1, NUM_MESH * 3), (1, 1, 1, 1)],
        )
        self._face_in = self.face.inputs[0].index
        self._mesh = self.face.output_by_shape((1, 1, 1, NUM_MESH * 3)).index
        self._flag = self.face.output_by_shape((1, 1, 1, 1)).index
        self.iris = None
        if iris_model_path:
            # One eye a call: two calls cost what one batch of both eyes does (9.31 against 9.16 ms
            # a face, AVX2 EPYC), and eyes, not faces, can then be shared among landmark workers.
            # models/'s copy has the iris output only; the wheel's also has the 71-point eye contour.
            self.iris = LiteModel(iris_model_path, options, expected_inputs=[(1, IRIS_INPUT, IRIS_INPUT, 3)])
            if sorted(t.shape for t in self.iris.outputs) not in ([(1, 15)], [(1, 15), (1, 213)]):
                self.close()
                raise ModelError(f"{iris_model_path}: outputs {[t.shape for t in self.iris.outputs]} are not the iris model's (1, 15)")
            self._iris_in = self.iris.inputs[0].index
            self._iris_out = self.iris.output_by_shape((1, 15)).index
        for model in self.models():
            model.warm_up(1)

    def models(self) -> list[LiteModel]:
        return [m for m in (self.face, self.iris) if m is not None]

    def mesh(self, rgb: np.ndarray, roi: Roi) -> FaceLandmarks:
        """The 468 mesh points in the region (iris rows NaN) and the face-presence probability."""
        return self.mesh_many(rgb, [roi])[0]

    def mesh_many(self, rgb: np.ndarray, rois: list[Roi]) -> list[FaceLandmarks]:
        # Every region is cut before the first invoke: an invoke evicts the frame from the
        # cache, and a warp from a cold frame costs about twice one from a warm frame.
        crops = [crop(rgb, roi, FACE_INPUT) for roi in rois]
        return [self._mesh_from_crop(c, roi) for c, roi in zip(crops, rois)]

    def _mesh_from_crop(self, face_crop: np.ndarray, roi: Roi) -> FaceLandmarks:
        out = self.face.run_pixels({self._face_in: face_crop}, 1.0 / 255.0)
        points = np.empty((L.NUM_LANDMARKS, 3), np.float32)
        points[NUM_MESH:] = np.nan
        mesh = points[:NUM_MESH]
        mesh[:] = roi.from_input(out[self._mesh].reshape(NUM_MESH, 3), FACE_INPUT)
        return FaceLandmarks(points, _sigmoid(float(out[self._flag].reshape(()))), roi, L.mesh_box(mesh))

    def add_iris(self, rgb: np.ndarray, face: FaceLandmarks) -> None:
        """Fills the 10 iris rows from the iris model on both eyes."""
        self.add_iris_eyes(rgb, [(face, IMAGE_LEFT_EYE), (face, IMAGE_RIGHT_EYE)])

    def add_iris_eyes(self, rgb: np.ndarray, eyes: list[tuple[FaceLandmarks, int]]) -> None:
        """Fills the 5 iris rows of each (face, IMAGE_LEFT_EYE | IMAGE_RIGHT_EYE)."""
        rois = [_eye_roi(face.points[:NUM_MESH], *_IRIS_ROWS[eye][1]) for face, eye in eyes]
        # The model knows the image-left eye; the image-right one is mirrored in and out.
        # All eyes are cut first, while the frame is still in the cache (as in mesh_many).
        crops = [crop(rgb, roi, IRIS_INPUT, mirror=eye == IMAGE_RIGHT_EYE) for (_, eye), roi in zip(eyes, rois)]
        for (face, eye), roi, eye_crop in zip(eyes, rois, crops):
            pts = self.iris.run_pixels({self._iris_in: eye_crop}, 1.0 / 255.0)[self._iris_out].reshape(5, 3)
            if eye == IMAGE_RIGHT_EYE:
                pts[:, 0] = IRIS_INPUT - pts[:, 0]
            rows, (a, b) = _IRIS_ROWS[eye]
            iris = roi.from_input(pts, IRIS_INPUT)
            # The iris model's z is relative to the eye; anchor it at the eye corners' depth.
            iris[:, 2] += (face.points[a, 2] + face.points[b, 2]) / 2
            face.points[rows[0]:rows[-1] + 1] = _order_iris(iris, roi.angle)

    def close(self) -> None:
        for model in self.models():
            model.close()


# Per eye: its iris rows and its corners, image left -> right.
_IRIS_ROWS = ((L.RIGHT_IRIS, (L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER)), (L.LEFT_IRIS, (L.LEFT_EYE_INNER, L.LEFT_EYE_OUTER)))


def _eye_roi(mesh: np.ndarray, left: int, right: int) -> Roi:
    """The square around the eye between corners `left` and `right` (image left -> right)."""
    (ax, ay), (bx, by) = mesh[left, :2].tolist(), mesh[right, :2].tolist()
    return Roi((ax + bx) / 2, (ay + by) / 2, math.hypot(bx - ax, by - ay) * EYE_SCALE, math.atan2(by - ay, bx - ax))


def next_roi(points: np.ndarray) -> Roi:
    """MediaPipe's landmarks -> next-frame region: extent on the eye-corner axis (33 -> 263), ×1.5."""
    return roi_from_points(points[:NUM_MESH], L.RIGHT_EYE_OUTER, L.LEFT_EYE_OUTER, FACE_SCALE)


def _order_iris(iris: np.ndarray, angle: float) -> np.ndarray:
    """Centre first, then the contour points toward the eye's +x, -y (up), -x, +y, as FaceMesh orders them."""
    c, s = math.cos(angle), math.sin(angle)
    (x0, y0), *contour = iris[:, :2].tolist()  # five points: plain floats beat numpy calls here
    u = [(x - x0) * c + (y - y0) * s for x, y in contour]
    v = [(y - y0) * c - (x - x0) * s for x, y in contour]
    order = [u.index(max(u)), v.index(min(v)), u.index(min(u)), v.index(max(v))]
    if len(set(order)) < 4:  # degenerate contour: keep the model's order
        return iris
    return iris[[0, *(i + 1 for i in order)]]
