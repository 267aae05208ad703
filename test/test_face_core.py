"""Face core on a real face (skimage astronaut) and on a clip generated from it."""
import cv2
import numpy as np
import pytest

from sentin_ros.core.alignment import CROP_SIZE, FER_CROP, crop_transform
from sentin_ros.core.face_pipeline import FacePipelineConfig
from sentin_ros.core.features import EYE_NAMES, GEOMETRY_NAMES
from sentin_ros.core.head_pose import (
    MODEL_LANDMARKS,
    MODEL_POINTS_MM,
    HeadPose,
    HeadPoseEstimator,
    default_camera_matrix,
    rotation_from_angles,
)
from sentin_ros.core.tracking import FaceTracker
from sentin_ros.media.synthetic import astronaut_rgb, place_face, synthetic_clip


def test_astronaut_478_landmarks_crop_and_features(astronaut_bgr, face_pipeline_factory):
    frame = face_pipeline_factory().process(astronaut_bgr, 0.0, "bgr8")
    assert len(frame.faces) == 1
    face = frame.faces[0]
    assert face.landmarks.shape == (478, 3)
    x, y, w, h = face.roi
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # her face is in the upper middle
    assert face.crop.shape == (CROP_SIZE, CROP_SIZE) and face.crop.dtype == np.uint8
    assert face.geometry.shape == (len(GEOMETRY_NAMES),) and face.eye.shape == (len(EYE_NAMES),)
    assert 0.2 < face.geometry[0] < 0.45 and 0.2 < face.geometry[1] < 0.45  # open eyes
    assert face.geometry[2] == 0.0  # no blink
    assert face.geometry[5] > 0  # she smiles: lip corners above the lip centre
    assert 0.0 < face.score <= 1.0


def test_crop_is_aligned_on_the_eyes(astronaut_bgr, face_pipeline_factory):
    """The eyes land at the FER2013 positions in the crop, also for a rotated face."""
    for angle in (0.0, 25.0):
        img = place_face(astronaut_rgb(), (640, 480), (320, 240), 1.0, angle)
        face = face_pipeline_factory().process(img, 0.0, "bgr8").faces[0]
        pts = face.landmarks[:, :2] * (640, 480)
        m = crop_transform(pts)
        right = m[:, :2] @ ((pts[33] + pts[133]) / 2) + m[:, 2]
        left = m[:, :2] @ ((pts[263] + pts[362]) / 2) + m[:, 2]
        assert abs(right[1] - left[1]) < 0.5  # levelled
        np.testing.assert_allclose((right + left) / 2, FER_CROP.eye_mid, atol=0.5)
        assert right[0] < left[0]


@pytest.mark.parametrize("angle", [-20.0, 20.0])
def test_head_roll_follows_in_plane_rotation(angle, face_pipeline_factory):
    base = face_pipeline_factory().process(place_face(astronaut_rgb(), (640, 480), (320, 240), 1.0, 0.0), 0.0, "bgr8").faces[0]
    rot = face_pipeline_factory().process(place_face(astronaut_rgb(), (640, 480), (320, 240), 1.0, angle), 0.0, "bgr8").faces[0]
    # cv2 angles are counter-clockwise; roll > 0 is clockwise in the image
    assert rot.roll - base.roll == pytest.approx(-angle, abs=4.0)
    assert abs(rot.yaw - base.yaw) < 6.0


@pytest.mark.parametrize("pose", [(20, 0, 0), (0, 15, 0), (0, 0, 25), (-30, 10, -5)])
def test_head_pose_recovers_known_rotation(pose):
    k = default_camera_matrix(640, 480)
    pts = (rotation_from_angles(*pose) @ MODEL_POINTS_MM.T).T + [0, 0, 600.0]
    px = (k @ pts.T).T
    full = np.zeros((478, 2))
    full[list(MODEL_LANDMARKS)] = px[:, :2] / px[:, 2:]
    est = HeadPoseEstimator().estimate(full, 640, 480)
    np.testing.assert_allclose([est.yaw, est.pitch, est.roll], pose, atol=0.5)
    assert est.translation_m[2] == pytest.approx(0.6, abs=0.01)
    # Started from a pose 10° and 10 cm off (last frame's, say), the solve finds the same one.
    prior_r = rotation_from_angles(pose[0] + 10, pose[1] - 5, pose[2] + 5)
    prior = HeadPose(0.0, 0.0, 0.0, (0.05, -0.05, 0.5), prior_r)
    tracked = HeadPoseEstimator().estimate(full, 640, 480, previous=prior)
    np.testing.assert_allclose([tracked.yaw, tracked.pitch, tracked.roll], [est.yaw, est.pitch, est.roll], atol=0.01)
    np.testing.assert_allclose(tracked.translation_m, est.translation_m, atol=1e-4)


def test_ids_stable_through_motion_and_new_after_loss(face_pipeline_factory):
    pipeline = face_pipeline_factory(config=FacePipelineConfig(track_timeout_s=0.5))
    seen = []
    for f in synthetic_clip(120, (640, 480), leave=True):
        faces = pipeline.process(f.bgr, f.index / 15.0, "bgr8").faces
        if f.face_visible:
            assert len(faces) == 1, f"face lost at frame {f.index}"
        else:
            assert faces == []
        seen.append([x.face_id for x in faces])
    before = {i for ids in seen[:70] for i in ids}
    after = {i for ids in seen[100:] for i in ids}
    assert len(before) == 1 and len(after) == 1
    assert after != before and min(after) > max(before)  # new ID, never reused


def test_tracker_keeps_id_through_brief_miss():
    tr = FaceTracker(timeout_s=1.0)
    (a,), _ = tr.update([(100, 100, 200, 200)], 0.0)
    tr.update([], 0.3)  # missed for a moment
    (b,), retired = tr.update([(110, 105, 210, 205)], 0.6)
    assert a.face_id == b.face_id and retired == []
    _, retired = tr.update([], 2.0)
    assert retired == [a.face_id]
    (c,), _ = tr.update([(110, 105, 210, 205)], 2.1)
    assert c.face_id != a.face_id


def test_no_face_in_blank_frame(face_pipeline_factory):
    assert face_pipeline_factory().process(np.full((240, 320, 3), 127, np.uint8), 0.0, "bgr8").faces == []


def test_mono_input(astronaut_bgr, face_pipeline_factory):
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    assert len(face_pipeline_factory().process(gray, 0.0, "mono8").faces) == 1
