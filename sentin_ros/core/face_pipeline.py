"""Frame -> tracked faces: the ROS-free face core used by the face node, the demo and the tools."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .alignment import COLOR_CROP_SIZE, aligned_color_crop, aligned_crop, face_roi
from .face_front_end import FaceFrontEnd, FrontEndConfig
from .face_landmarks import FACE_SCALE
from .features import eye_features, geometry_metrics
from .head_pose import HeadPose, HeadPoseEstimator
from .tracking import FaceTracker


@dataclass
class FaceQuality:
    """What the face stage knows about how usable a face is (thresholds: QualityThresholds)."""

    presence: float  # landmark model's face-presence probability [0, 1]
    size_px: float  # side of the face's landmark extent, pixels
    expression_ok: bool  # big, frontal and present enough for expression (emotion, stress)


@dataclass(frozen=True)
class QualityThresholds:
    """min_presence: below it the landmark model does not see a face (the track dies).
    min_size_px: below it a 48×48 crop is upsampled from too few pixels for expression
    (FER2013 faces are ~40 px between brow and chin). max_abs_yaw: beyond it one half of the
    face is hidden and the frontal crop no longer shows an expression (degrees)."""

    min_presence: float = 0.9
    min_size_px: float = 40.0
    max_abs_yaw: float = 45.0

    def expression_ok(self, presence: float, size_px: float, yaw: float) -> bool:
        return presence >= self.min_presence and size_px >= self.min_size_px and abs(yaw) <= self.max_abs_yaw


@dataclass
class FaceObservation:
    face_id: int
    roi: tuple[int, int, int, int]  # x, y, w, h in pixels
    score: float  # detection score of the detection that started the track [0, 1]
    landmarks: np.ndarray  # 478×3 float32, normalized x, y and relative z
    yaw: float
    pitch: float
    roll: float
    head_position: tuple[float, float, float]  # metres, optical frame
    crop: np.ndarray  # 48×48 uint8
    geometry: np.ndarray  # 12 float32 (features.GEOMETRY_NAMES)
    eye: np.ndarray  # 10 float32 (features.EYE_NAMES); NaN without iris
    quality: FaceQuality
    # 64×64×3 uint8 UTKFace-aligned colour crop, BGR whatever the frame's encoding; empty
    # (0×0×3) unless FacePipelineConfig.color_crop
    crop_color: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.uint8))


@dataclass
class FrameFaces:
    stamp: float
    width: int
    height: int
    faces: list[FaceObservation] = field(default_factory=list)
    retired_ids: list[int] = field(default_factory=list)  # tracks that ended at this frame


@dataclass
class FacePipelineConfig:
    front_end: FrontEndConfig = field(default_factory=FrontEndConfig)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    track_timeout_s: float = 1.0
    color_crop: bool = False  # also cut FaceObservation.crop_color (the soft-biometrics model's input)
    camera_matrix: np.ndarray | None = None  # 3×3; None = default_camera_matrix


class FacePipeline:
    """front_end: an already built FaceFrontEnd (the face node builds it as its model), else one from the config."""

    def __init__(self, config: FacePipelineConfig | None = None, front_end: FaceFrontEnd | None = None):
        self.config = config or FacePipelineConfig()
        self.front_end = front_end or FaceFrontEnd(self.config.front_end)
        self.tracker = FaceTracker(timeout_s=self.config.track_timeout_s)
        self.pose = HeadPoseEstimator(self.config.camera_matrix)
        self._ids: dict[int, int] = {}  # front-end track key -> face ID

    def set_camera_matrix(self, k: np.ndarray | None, dist: np.ndarray | None = None) -> None:
        self.pose.camera_matrix = k
        if dist is not None:
            self.pose.dist_coeffs = dist

    def replace_front_end(self, front_end: FaceFrontEnd) -> None:
        """Swap in new interpreters (a parameter change); IDs survive, regions restart from detection."""
        self.front_end = front_end
        self._ids.clear()

    def reset(self) -> None:
        """Forgets every track (a bag loop, a jump in time); IDs keep growing."""
        self.front_end.reset()
        self.tracker.reset()
        self._ids.clear()

    def process(self, image: np.ndarray, stamp: float, encoding: str = "rgb8", still: bool = False) -> FrameFaces:
        """image: H×W×3 RGB (encoding 'rgb8') or BGR ('bgr8'), or H×W mono8; stamp in seconds.
        still: a single image, not a video frame (the whole detection cycle runs on it)."""
        rgb, gray = _rgb_and_gray(image, encoding)
        h, w = gray.shape
        bgr_frame = image.ndim == 3 and encoding == "bgr8"
        found = self.front_end.find(rgb, all_windows=still)
        pixel_points = [f.landmarks.points for f in found]
        boxes = [tuple(f.landmarks.box.tolist()) for f in found]
        tracks, retired = self.tracker.update(boxes, stamp, [self._ids.get(f.track) for f in found])
        self._ids = {f.track: tr.face_id for f, tr in zip(found, tracks)}

        out = FrameFaces(stamp, w, h, retired_ids=retired)
        for tr, face, pp in zip(tracks, found, pixel_points):
            previous = tr.state.get("pose") if tr.state.get("solved") else None
            pose = self.pose.estimate(pp, w, h, previous)
            tr.state["solved"] = pose is not None
            if pose is None:
                pose = tr.state.get("pose") or HeadPose(0.0, 0.0, 0.0, (0.0, 0.0, 0.0), np.eye(3))
            motion = _rotation_speed(tr.state.get("pose"), tr.state.get("t"), pose, stamp)
            tr.state["pose"], tr.state["t"] = pose, stamp
            size = float(face.landmarks.roi.size / FACE_SCALE)
            presence = face.landmarks.presence
            normalized = pp / np.array([w, h, w], np.float32)
            out.faces.append(
                FaceObservation(
                    face_id=tr.face_id,
                    roi=face_roi(pp, w, h),
                    score=face.detection_score,
                    landmarks=normalized,
                    yaw=pose.yaw,
                    pitch=pose.pitch,
                    roll=pose.roll,
                    head_position=pose.translation_m,
                    crop=aligned_crop(gray, pp),
                    geometry=geometry_metrics(pp, pose.yaw, pose.pitch, motion),
                    eye=eye_features(pp, w, h),
                    quality=FaceQuality(presence, size, self.config.quality.expression_ok(presence, size, pose.yaw)),
                    crop_color=_bgr_crop(image if bgr_frame else rgb, pp, bgr_frame) if self.config.color_crop else np.zeros((0, 0, 3), np.uint8),
                )
            )
        return out

    def close(self) -> None:
        self.front_end.close()


def _rotation_speed(prev: HeadPose | None, prev_t: float | None, pose: HeadPose, t: float) -> float:
    """Angle of the relative rotation between two poses / elapsed time, degrees per second."""
    if prev is None or prev_t is None or t <= prev_t:
        return 0.0
    rel = pose.rotation @ prev.rotation.T
    angle = np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1.0, 1.0)))
    return float(angle / (t - prev_t))


def _bgr_crop(color: np.ndarray, points_px: np.ndarray, is_bgr: bool) -> np.ndarray:
    crop = aligned_color_crop(color, points_px)
    return crop if is_bgr else np.ascontiguousarray(crop[..., ::-1])


def _rgb_and_gray(image: np.ndarray, encoding: str) -> tuple[np.ndarray, np.ndarray]:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), image
    if encoding == "bgr8":
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif encoding == "rgb8":
        rgb = image
    else:
        raise ValueError(f"FacePipeline expects rgb8, bgr8 or mono8 arrays, got {encoding}")
    return np.ascontiguousarray(rgb), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


#: The face node's parameters that configure the pipeline (name -> (default, description, range)).
#: The node declares exactly these; `sentin-ros faces --params` reads the same names from the YAML.
_FE, _Q = FrontEndConfig(), QualityThresholds()
PARAMETERS: dict[str, tuple] = {
    "detector_range": (_FE.detector_range, "near: short-range BlazeFace on the whole frame (faces from ~1/6 of the frame height: ~1.1 m with a 60° camera); far: full-range BlazeFace on the whole frame (~3.4 m at 640×480, ~2.6 m at 1280×720; misses many faces that fill much of the frame); auto: both on the whole frame plus full-range tiles of tile_size pixels (~4.3 m at 640×480, ~11 m at 1280×720). Measured: benchmarks/face_front_end.py.", None),
    "detect_interval": (_FE.detect_interval, "Frames between whole-frame detections (and on any frame a track is lost); landmarks track faces in between.", (1, 1000)),
    "tile_size": (_FE.tile_size, "auto: side of the square detection tiles, pixels (a tile is resized to the detector's 192 px).", (64, 4096)),
    "tile_interval": (_FE.tile_interval, "auto: frames between two tile passes (the tiles are scanned in turn, half-way between whole-frame passes).", (1, 1000)),
    "min_detection_score": (_FE.min_detection_score, "BlazeFace score a detection needs before its landmarks are tried.", (0.0, 1.0)),
    "min_presence": (_FE.min_presence, "Landmark face-presence probability a track needs to live (real faces score > 0.98).", (0.0, 1.0)),
    "min_new_presence": (_FE.min_new_presence, "Face-presence probability a new track needs on its first frame (stricter: non-faces the detector accepts score up to ~0.96).", (0.0, 1.0)),
    "max_faces": (_FE.max_faces, "Maximum faces per frame (cost grows with the faces present).", (1, 32)),
    "iris": (_FE.iris, "Run the iris model (10 iris points, the gaze node's eye features; ~2 ms a face). Off: iris points and eye features are NaN.", None),
    "landmark_workers": (_FE.landmark_workers, "Faces whose landmarks, and eyes whose iris, run at once, each worker with interpreters of its own (num_threads each): with 2 on two cores, two faces' landmark models (or one face's two eyes) run side by side (LiteRT releases the GIL); 1 = one after the other; 0 = one per usable core, at most 2.", (0, 8)),
    "background_detection": (_FE.background_detection, "Run the scheduled detector passes (whole frame every detect_interval, tiles) on a thread of their own while the tracked faces are followed; new faces join one frame later (deterministically). Uses a second core when there is one; off: on the frame itself, which makes that frame late by a detector pass. Detection with nothing tracked, on a lost track and on stills always runs on the frame.", None),
    "detector_model_path": (_FE.detector_model_path, "BlazeFace .tflite for detector_range; empty = the model in the mediapipe wheel.", None),
    "landmark_model_path": (_FE.landmark_model_path, "Face-landmark .tflite; empty = models/face_landmark_u8.tflite (the mediapipe wheel's model with a uint8 input; the wheel's file also works).", None),
    "iris_model_path": (_FE.iris_model_path, "Iris .tflite; empty = models/iris_landmark_u8.tflite (the mediapipe wheel's model, uint8 input, iris output only; the wheel's file also works).", None),
    "expression_min_size": (_Q.min_size_px, "Face.expression_ok needs a face at least this big (landmark extent, pixels).", (0.0, 10000.0)),
    "expression_max_yaw": (_Q.max_abs_yaw, "Face.expression_ok needs a face within this many degrees of frontal.", (0.0, 180.0)),
    "color_crop": (False, f"Also publish each face's {COLOR_CROP_SIZE}x{COLOR_CROP_SIZE} UTKFace-aligned colour crop (Face.crop_color, BGR, 12 KB a face; the biometrics node's input). Off: crop_color is empty.", None),
    "track_timeout": (1.0, "Seconds a face may be unseen before its ID is retired (a face found again before that keeps its ID).", (0.01, 3600.0)),
}


def pipeline_config(values: dict, runtime=None) -> FacePipelineConfig:
    """A FacePipelineConfig from parameter values (missing names take their defaults)."""
    v = {name: values.get(name, default) for name, (default, _, _) in PARAMETERS.items()}
    front_end = FrontEndConfig(
        detector_range=str(v["detector_range"]), detect_interval=int(v["detect_interval"]), tile_size=int(v["tile_size"]),
        tile_interval=int(v["tile_interval"]), min_detection_score=float(v["min_detection_score"]),
        min_presence=float(v["min_presence"]), min_new_presence=float(v["min_new_presence"]), max_faces=int(v["max_faces"]),
        iris=bool(v["iris"]), landmark_workers=int(v["landmark_workers"]), background_detection=bool(v["background_detection"]), detector_model_path=str(v["detector_model_path"]), landmark_model_path=str(v["landmark_model_path"]),
        iris_model_path=str(v["iris_model_path"]),
    )
    if runtime is not None:
        front_end.runtime = runtime
    quality = QualityThresholds(front_end.min_presence, float(v["expression_min_size"]), float(v["expression_max_yaw"]))
    return FacePipelineConfig(front_end=front_end, quality=quality, track_timeout_s=float(v["track_timeout"]), color_crop=bool(v["color_crop"]))
