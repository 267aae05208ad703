"""Frame -> tracked faces: the ROS-free face core used by the face node, the demo and the tools."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .alignment import aligned_crop, face_roi
from .face_mesh import FaceMesh, FaceMeshConfig
from .features import eye_features, geometry_metrics
from .head_pose import HeadPose, HeadPoseEstimator
from .tracking import FaceTracker, iou


@dataclass
class FaceObservation:
    face_id: int
    roi: tuple[int, int, int, int]  # x, y, w, h in pixels
    score: float  # detector confidence [0, 1]; NaN when no detector score is available
    landmarks: np.ndarray  # 478×3 float32, normalized x, y and relative z
    yaw: float
    pitch: float
    roll: float
    head_position: tuple[float, float, float]  # metres, optical frame
    crop: np.ndarray  # 48×48 uint8
    geometry: np.ndarray  # 12 float32 (features.GEOMETRY_NAMES)
    eye: np.ndarray  # 10 float32 (features.EYE_NAMES)


@dataclass
class FrameFaces:
    stamp: float
    width: int
    height: int
    faces: list[FaceObservation] = field(default_factory=list)
    retired_ids: list[int] = field(default_factory=list)  # tracks that ended at this frame


@dataclass
class FacePipelineConfig:
    mesh: FaceMeshConfig = field(default_factory=FaceMeshConfig)
    track_timeout_s: float = 1.0
    camera_matrix: np.ndarray | None = None  # 3×3; None = default_camera_matrix


class FacePipeline:
    def __init__(self, config: FacePipelineConfig | None = None):
        self.config = config or FacePipelineConfig()
        self.mesh = FaceMesh(self.config.mesh)
        self.tracker = FaceTracker(timeout_s=self.config.track_timeout_s)
        self.pose = HeadPoseEstimator(self.config.camera_matrix)
        self._frames = 0

    def set_camera_matrix(self, k: np.ndarray | None, dist: np.ndarray | None = None) -> None:
        self.pose.camera_matrix = k
        if dist is not None:
            self.pose.dist_coeffs = dist

    def process(self, image: np.ndarray, stamp: float, encoding: str = "rgb8") -> FrameFaces:
        """image: H×W×3 RGB (encoding 'rgb8') or BGR ('bgr8'), or H×W mono8; stamp in seconds."""
        rgb, gray = _rgb_and_gray(image, encoding)
        h, w = gray.shape
        meshes = self.mesh.landmarks(rgb)
        pixel_points = [m[:, :2] * (w, h) for m in meshes]
        boxes = [tuple(map(float, (*pp.min(0), *pp.max(0)))) for pp in pixel_points]
        tracks, retired = self.tracker.update(boxes, stamp)

        need_scores = self.config.mesh.score_interval > 0 and (
            self._frames % self.config.mesh.score_interval == 0 or any(t.hits == 1 for t in tracks)
        )
        if need_scores:
            dets = self.mesh.detections(rgb)
            det_boxes = [(d.box[0] * w, d.box[1] * h, d.box[2] * w, d.box[3] * h) for d in dets]
            for tr, box in zip(tracks, boxes):
                best_iou, best_score = max(((iou(box, db), d.score) for db, d in zip(det_boxes, dets)), default=(0.0, 0.0))
                tr.state["score"] = best_score if best_iou > 0.1 else 0.0
        self._frames += 1

        out = FrameFaces(stamp, w, h, retired_ids=retired)
        for tr, mesh, pp in zip(tracks, meshes, pixel_points):
            pose = self.pose.estimate(pp, w, h)
            if pose is None:
                pose = tr.state.get("pose") or HeadPose(0.0, 0.0, 0.0, (0.0, 0.0, 0.0), np.eye(3))
            motion = _rotation_speed(tr.state.get("pose"), tr.state.get("t"), pose, stamp)
            tr.state["pose"], tr.state["t"] = pose, stamp
            out.faces.append(
                FaceObservation(
                    face_id=tr.face_id,
                    roi=face_roi(pp, w, h),
                    score=float(tr.state.get("score", float("nan"))),
                    landmarks=mesh,
                    yaw=pose.yaw,
                    pitch=pose.pitch,
                    roll=pose.roll,
                    head_position=pose.translation_m,
                    crop=aligned_crop(gray, pp),
                    geometry=geometry_metrics(pp, pose.yaw, pose.pitch, motion),
                    eye=eye_features(pp, w, h),
                )
            )
        return out

    def close(self) -> None:
        self.mesh.close()


def _rotation_speed(prev: HeadPose | None, prev_t: float | None, pose: HeadPose, t: float) -> float:
    """Angle of the relative rotation between two poses / elapsed time, degrees per second."""
    if prev is None or prev_t is None or t <= prev_t:
        return 0.0
    rel = pose.rotation @ prev.rotation.T
    angle = np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1.0, 1.0)))
    return float(angle / (t - prev_t))


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
