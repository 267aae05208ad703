"""Gaze on a screen from the face core's eye/iris features and head pose (ROS-free).

Model: models/gaze_hybrid_int8.tflite (card: models/gaze_hybrid_int8.md), trained on synthetic
sequences from training/gaze/generator.py. Inputs 1×15×10 (eye features, oldest frame first)
and 1×3 (head pitch, yaw, roll: the tensor's own order; every function here takes (yaw, pitch,
roll) like the rest of the package and reorders); output 1×2, a normalized point on screen.REFERENCE_SCREEN,
which `GazeModel` converts to the configured screen.

Input scaling (done here, in float, before the INT8 quantization, and by the training script
through the same functions):
* `canonical_eye_features`: the three camera-dependent features become camera-independent:
  face_scale -> inter-ocular distance / focal length, eye_cx/eye_cy -> the eye mid-point in
  normalized camera coordinates (x/z, y/z), using the camera matrix (default_camera_matrix when
  none is given, as in the face core).
* `standardize`: (feature - EYE_MEAN) / EYE_STD, clipped to +-5, so every feature uses the
  INT8 input range (one scale per tensor) alike; head pose degrees / 90.

`GazeTracker` keeps a 15-frame window per face, smooths the model output with a One-Euro filter
(optional), applies the per-user calibration (gaze_calibration.GazeCalibration) and adds the gaze
direction, on_screen and a confidence.

"Left"/"right" on the screen are as the user sees it: x = 0 is the screen's left edge from the
user's point of view (the camera image's right side).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.head_pose import rotation_from_angles
from ..media.camera import default_camera_matrix
from ..runtime import LiteModel, ModelError, ModelOptions, require_finite
from .gaze_screen import REFERENCE_SCREEN, ScreenGeometry, convert, eye_position_m, gaze_direction
from .windows import FaceWindows

__all__ = [
    "SEQ_LEN", "GazeModel", "GazeTracker", "GazeEstimate", "ScreenGeometry", "REFERENCE_SCREEN",
    "canonical_eye_features", "standardize", "model_inputs", "confidence", "ModelError", "OneEuroFilter",
    "calibration_features", "CALIBRATION_FEATURES",
]

SEQ_LEN = 15
NUM_EYE = 10
# Standardisation of the canonical features: rounded statistics of generated sequences, fixed
# here (not fitted per training run) so that the model and this module cannot drift apart.
EYE_MEAN = np.array([0.0, 0.0, 0.0, 0.0, 0.21, 0.21, 0.23, 0.1, 0.0, 0.0], np.float32)
EYE_STD = np.array([0.21, 0.075, 0.21, 0.075, 0.08, 0.08, 0.04, 0.025, 0.18, 0.12], np.float32)
HEAD_SCALE_DEG = 90.0
CLIP = 5.0


def canonical_eye_features(eye: np.ndarray, width: int, height: int, camera_matrix: np.ndarray | None = None) -> np.ndarray:
    """(T, 10) face-core eye features -> camera-independent ones (same order, same meaning for 0-6).

    7: inter-ocular distance / focal length (instead of / image width);
    8, 9: eye mid-point x/z and y/z in the optical frame (instead of [-1, 1] image coordinates).
    """
    eye = np.array(eye, dtype=np.float64, copy=True).reshape(-1, NUM_EYE)
    k = default_camera_matrix(width, height) if camera_matrix is None else np.asarray(camera_matrix, dtype=np.float64)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    u = (eye[:, 8] + 1) * width / 2.0
    v = (eye[:, 9] + 1) * height / 2.0
    eye[:, 7] = eye[:, 7] * width / fx
    eye[:, 8] = (u - cx) / fx
    eye[:, 9] = (v - cy) / fy
    return eye.astype(np.float32)


def standardize(canonical: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(canonical, np.float32) - EYE_MEAN) / EYE_STD, -CLIP, CLIP)


def head_input(yaw_pitch_roll) -> np.ndarray:
    """(..., 3) (yaw, pitch, roll) degrees -> the model's head tensor rows: (pitch, yaw, roll) / 90."""
    ypr = np.asarray(yaw_pitch_roll, np.float32).reshape(-1, 3)
    return ypr[:, [1, 0, 2]] / HEAD_SCALE_DEG


def pad_window(seq: np.ndarray, length: int = SEQ_LEN) -> np.ndarray:
    """Last `length` rows; shorter histories are padded by repeating the oldest frame."""
    seq = np.asarray(seq, np.float32)
    if seq.ndim != 2 or seq.shape[0] == 0:
        raise ValueError(f"expected a (T>=1, {NUM_EYE}) sequence, got shape {seq.shape}")
    if seq.shape[0] >= length:
        return seq[-length:]
    return np.concatenate([np.repeat(seq[:1], length - seq.shape[0], axis=0), seq], axis=0)


def model_inputs(canonical_seq: np.ndarray, yaw_pitch_roll) -> tuple[np.ndarray, np.ndarray]:
    """(1, 15, 10) and (1, 3) float model inputs from canonical features and head pose (yaw, pitch, roll) in degrees."""
    return standardize(pad_window(canonical_seq))[None], head_input(yaw_pitch_roll)


CALIBRATION_FEATURES = (
    "iris_x_left", "iris_y_left", "iris_x_right", "iris_y_right", "open_left", "open_right", "face_scale", "eye_cx", "eye_cy",
    "yaw", "pitch", "roll",
)
_CAL_EYE = [0, 1, 2, 3, 4, 5, 7, 8, 9]  # canonical features used (not the iris radius: noise, no gaze signal)
CAL_HEAD_SCALE_DEG = 15.0
CAL_FRAMES = 5


def calibration_features(canonical_seq: np.ndarray, yaw_pitch_roll) -> np.ndarray:
    """The per-user calibration's feature vector (CALIBRATION_FEATURES, 12): the standardised canonical
    features (as the model sees them) averaged over the last CAL_FRAMES frames, and the head pose / 15 deg."""
    seq = standardize(np.asarray(canonical_seq, np.float32).reshape(-1, NUM_EYE)[-CAL_FRAMES:])
    head = np.asarray(yaw_pitch_roll, np.float64).ravel()[:3] / CAL_HEAD_SCALE_DEG
    return np.concatenate([seq[:, _CAL_EYE].mean(axis=0).astype(np.float64), head])


def confidence(canonical_seq: np.ndarray, yaw_pitch_roll, history: int) -> float:
    """[0, 1]: product of eye openness (last 3 frames), history length and head-turn factors.

    openness: lid opening / eye width 0.08 (closed) -> 0, 0.16 and above -> 1;
    history: sqrt(frames / 15); head: 1 up to 35 deg yaw (25 deg pitch), 0 at 55 deg (45 deg).
    """
    seq = np.asarray(canonical_seq, np.float32).reshape(-1, NUM_EYE)
    opening = float(np.mean(seq[-3:, 4:6]))
    c_open = _unit((opening - 0.08) / 0.08)
    c_hist = math.sqrt(_unit(history / SEQ_LEN))
    yaw, pitch, _ = (float(v) for v in np.asarray(yaw_pitch_roll).ravel()[:3])
    c_head = _unit(min((55 - abs(yaw)) / 20, (45 - abs(pitch)) / 20))
    return c_open * c_hist * c_head


def _unit(x: float) -> float:
    """x clipped to [0, 1] (plain floats: a NumPy call per scalar cost more than the arithmetic)."""
    return min(max(float(x), 0.0), 1.0)


class GazeModel:
    """The INT8 gaze model on the shared LiteRT runtime; outputs points on `screen`."""

    INPUT_SHAPES = ((1, SEQ_LEN, NUM_EYE), (1, 3))
    OUTPUT_SHAPES = ((1, 2),)

    def __init__(self, path: str, options: ModelOptions | None = None, screen: ScreenGeometry | None = None):
        self.runtime = LiteModel(path, options, expected_inputs=self.INPUT_SHAPES, expected_outputs=self.OUTPUT_SHAPES)
        self.screen = screen or REFERENCE_SCREEN
        self._seq = self.runtime.input_by_shape(self.INPUT_SHAPES[0]).index
        self._head = self.runtime.input_by_shape(self.INPUT_SHAPES[1]).index
        self._out = self.runtime.output_by_shape(self.OUTPUT_SHAPES[0]).index
        self.runtime.warm_up()

    def describe(self) -> str:
        return self.runtime.describe()

    @property
    def output_range(self) -> tuple[float, float]:
        """The (lowest, highest) point coordinate, on REFERENCE_SCREEN, the INT8 output can express
        (its quantisation range; (-inf, inf) for a float output). Values at it are clipped."""
        info = self.runtime.output_by_shape(self.OUTPUT_SHAPES[0])
        if not info.quantized:
            return float("-inf"), float("inf")
        bits = np.iinfo(info.dtype)
        return float((bits.min - info.zero_point) * info.scale), float((bits.max - info.zero_point) * info.scale)

    def predict_reference(self, canonical_seq: np.ndarray, yaw_pitch_roll) -> np.ndarray:
        """Raw model output: normalized point on REFERENCE_SCREEN, from canonical features."""
        seq, head = model_inputs(canonical_seq, yaw_pitch_roll)
        out = self.runtime.run({self._seq: seq, self._head: head})[self._out]
        return out.reshape(2).astype(np.float64)

    def predict(
        self,
        eye_seq: np.ndarray,
        yaw_pitch_roll,
        image_size: tuple[int, int] = (640, 480),
        camera_matrix: np.ndarray | None = None,
    ) -> tuple[float, float]:
        """(x, y) normalized on self.screen from face-core eye features (T, 10), oldest first.

        T < 15 is padded by repeating the oldest frame; T > 15 uses the last 15 frames.
        yaw_pitch_roll: head pose (yaw, pitch, roll), degrees, of the newest frame. image_size: (width, height)
        of the frames the features came from; camera_matrix: None = default_camera_matrix.
        """
        canon = canonical_eye_features(eye_seq, image_size[0], image_size[1], camera_matrix)
        xy = convert(self.predict_reference(canon, yaw_pitch_roll), REFERENCE_SCREEN, self.screen)
        return float(xy[0]), float(xy[1])

    def close(self) -> None:
        self.runtime.close()


class OneEuroFilter:
    """Adaptive low-pass filter for a 2-D point (Casiez et al. 2012): smooths fixation jitter,
    follows saccades (the cut-off rises with the speed). Units: normalized screen, seconds."""

    def __init__(self, min_cutoff_hz: float = 1.5, beta: float = 0.5, d_cutoff_hz: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff_hz), float(beta), float(d_cutoff_hz)
        self._x: np.ndarray | None = None
        self._dx = np.zeros(2)
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, t: float, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._t, self._dx = x.copy(), t, np.zeros(2)
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * float(np.linalg.norm(self._dx))
        self._x = self._x + self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


@dataclass
class GazeEstimate:
    face_id: int
    stamp: float
    x: float  # normalized on the screen, calibrated when `calibrated`
    y: float
    raw_x: float  # model output before the calibration
    raw_y: float
    calibrated: bool
    on_screen: bool
    direction: np.ndarray  # unit vector, optical frame, from the eye mid-point to (x, y)
    eye_position_m: np.ndarray  # eye mid-point, optical frame, metres
    confidence: float
    frames: int  # history length used (<= 15)
    yaw: float
    pitch: float
    roll: float
    features: np.ndarray | None = None  # calibration_features of this window (the calibration's other input)


class GazeTracker:
    """Per-face feature windows; an estimate once a face has `min_frames` frames of history.

    A gap longer than `max_gap_s` between two frames of a face restarts its window (a lost and
    found face must not mix old frames into the new estimate). `calibration` (optional) is an
    object with `calibrated` and `apply(xy, features)` (gaze_calibration.GazeCalibration). `smoothing`: run the
    model output through a OneEuroFilter per face (raw_x/raw_y are the filtered model output;
    the calibration is applied after it).
    """

    def __init__(self, model: GazeModel, min_frames: int = 5, max_gap_s: float = 0.5, calibration=None,
                 smoothing: bool = True, min_cutoff_hz: float = 1.5, beta: float = 0.5):
        if not 1 <= min_frames <= SEQ_LEN:
            raise ValueError(f"min_frames must be in [1, {SEQ_LEN}], got {min_frames}")
        self.model = model
        self.min_frames = int(min_frames)
        self.max_gap_s = float(max_gap_s)
        self.calibration = calibration
        self.smoothing = bool(smoothing)
        self._filter_args = (float(min_cutoff_hz), float(beta))
        self._filters: dict[int, OneEuroFilter] = {}
        self._windows = FaceWindows(SEQ_LEN, self.max_gap_s)  # items: canonical eye features

    @property
    def face_ids(self) -> list[int]:
        return self._windows.face_ids

    def history(self, face_id: int) -> int:
        return self._windows.count(face_id)

    def forget(self, face_id: int) -> None:
        self._windows.forget([face_id])
        self._filters.pop(face_id, None)

    def forget_stale(self, now: float, max_age_s: float | None = None) -> list[int]:
        """Drop faces not seen for more than `max_age_s` (default max_gap_s) before `now`."""
        gone = self._windows.forget_stale(now, max_age_s)
        for fid in gone:
            self._filters.pop(fid, None)
        return gone

    def reset(self) -> None:
        self._windows.clear()
        self._filters.clear()

    def push(
        self,
        face_id: int,
        stamp: float,
        eye10: np.ndarray,
        yaw: float,
        pitch: float,
        roll: float,
        image_size: tuple[int, int] = (640, 480),
        head_position_m=None,
        rotation: np.ndarray | None = None,
        camera_matrix: np.ndarray | None = None,
    ) -> GazeEstimate | None:
        """Add one frame of a face; the estimate for it, or None while the history is too short.

        head_position_m: the face core's head translation (nose tip, metres); rotation: its head
        rotation (3×3), None = built from the angles. Without a position the eye is assumed 0.6 m
        in front of the camera. Non-finite features, pose or camera raise NonFiniteInput before
        anything is added to the face's window (one bad frame must not disturb the track).
        """
        require_finite(f"face {face_id}: eye features", eye10)
        require_finite(f"face {face_id}: head pose", yaw, pitch, roll, head_position_m, rotation)
        require_finite("camera matrix", camera_matrix)
        canon = canonical_eye_features(eye10, image_size[0], image_size[1], camera_matrix)[0]
        if self._windows.push(face_id, stamp, canon):
            self._filters.pop(face_id, None)  # a new window: the filter starts over too
        n = self._windows.count(face_id)
        if n < self.min_frames:
            return None
        seq = np.stack(self._windows.items(face_id))
        ypr = (yaw, pitch, roll)
        raw = convert(self.model.predict_reference(seq, ypr), REFERENCE_SCREEN, self.model.screen)
        if self.smoothing:
            raw = self._filters.setdefault(face_id, OneEuroFilter(*self._filter_args))(stamp, raw)
        xy = raw
        feats = calibration_features(seq, ypr)
        calibrated = bool(self.calibration is not None and self.calibration.calibrated)
        if calibrated:
            xy = np.asarray(self.calibration.apply(raw, feats), dtype=np.float64)
        if head_position_m is None:
            eye_m = np.array([0.0, 0.0, 0.6])
        else:
            if rotation is None:
                rotation = rotation_from_angles(yaw, pitch, roll)
            eye_m = eye_position_m(head_position_m, rotation)
        return GazeEstimate(
            face_id=face_id,
            stamp=stamp,
            x=float(xy[0]),
            y=float(xy[1]),
            raw_x=float(raw[0]),
            raw_y=float(raw[1]),
            calibrated=calibrated,
            on_screen=self.model.screen.on_screen(float(xy[0]), float(xy[1])),
            direction=gaze_direction(eye_m, xy, self.model.screen),
            eye_position_m=eye_m,
            confidence=confidence(seq, ypr, n),
            frames=n,
            yaw=float(yaw),
            pitch=float(pitch),
            roll=float(roll),
            features=feats,
        )
