"""The LiteRT face front end (BlazeFace + landmarks + iris) on real faces and on non-faces."""
import cv2
import numpy as np
import pytest

from sentin_ros.core.face_detection import FAR, NEAR, box_iou, ssd_anchors, tile_windows, weighted_nms
from sentin_ros.core.face_front_end import FrontEndConfig
from sentin_ros.core.face_pipeline import FacePipelineConfig, QualityThresholds
from sentin_ros.core.face_roi import Roi
from sentin_ros.media.synthetic import astronaut_rgb, face_canvas, place_face

SIZES = (30, 45, 60, 80, 110, 150)


def test_anchor_grids_match_the_models():
    near, far = ssd_anchors(NEAR), ssd_anchors(FAR)
    assert near.shape == (896, 2) and far.shape == (2304, 2)
    assert (near > 0).all() and (near < 1).all() and (far > 0).all() and (far < 1).all()
    # short range: a 16×16 grid with 2 anchors a cell, then 8×8 with 6
    assert np.allclose(near[0], [1 / 32, 1 / 32]) and np.allclose(near[512], [1 / 16, 1 / 16])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    dets = weighted_nms(boxes, kps, np.array([0.9, 0.6, 0.8], np.float32))
    assert len(dets) == 2
    merged = dets[0]
    assert merged.score == pytest.approx(0.9)
    assert 0.0 < merged.box[0] < 1.0  # the score-weighted mean of the two overlapping boxes
    assert box_iou(dets[1].box, boxes[2:3])[0] == pytest.approx(1.0)


def test_tiles_cover_the_frame():
    for w, h in [(640, 480), (1920, 1080), (300, 200)]:
        tiles = tile_windows(w, h, 384)
        covered = np.zeros((h, w), bool)
        for x, y, s in tiles:
            assert s == min(384, max(w, h))
            covered[y:y + s, x:x + s] = True
        assert covered.all()


def test_roi_round_trip():
    roi = Roi(200.0, 150.0, 120.0, 0.3)
    pts = np.array([[10.0, 20.0], [96.0, 96.0], [180.0, 5.0]])
    m = roi.to_input(192)
    back = roi.from_input(pts, 192)
    np.testing.assert_allclose(back @ m[:, :2].T + m[:, 2], pts, atol=1e-3)


def test_landmarks_match_the_facemesh_solution_on_the_astronaut(face_pipeline_factory):
    """Same topology as mediapipe.solutions.face_mesh; the mesh within 0.5 px (mean) of the solution
    that runs the same model (refine_landmarks=False: the same region, so the same input), the iris
    within 2 px of the refined solution's (the attention model: another network)."""
    import mediapipe as mp

    rgb = astronaut_rgb()
    ref = {}
    for refine in (False, True):
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=refine) as mesh:
            ref[refine] = np.array([(p.x * 512, p.y * 512) for p in mesh.process(rgb).multi_face_landmarks[0].landmark])
    ours = face_pipeline_factory().process(rgb, 0.0, "rgb8").faces[0].landmarks[:, :2] * 512
    assert ours.shape == ref[True].shape == (478, 2)
    assert np.linalg.norm(ours[:468] - ref[False], axis=1).mean() < 0.5
    assert np.linalg.norm(ours[468:] - ref[True][468:], axis=1).mean() < 2.0  # the 10 iris points, in FaceMesh's order


@pytest.mark.parametrize("canvas", [(1280, 720), (960, 540)])
def test_many_faces_30_to_150_px_found_with_stable_distinct_ids(canvas, face_pipeline_factory):
    config = FacePipelineConfig(front_end=FrontEndConfig(tile_size=256, tile_interval=1))
    pipeline = face_pipeline_factory(config=config)
    ids_per_frame = []
    for i in range(20):
        img, centres = face_canvas(SIZES, canvas, shift=(2.0 * i, 1.5 * i))
        faces = pipeline.process(img, i / 30.0, "bgr8", still=(i == 0)).faces
        assert len(faces) == len(SIZES), f"frame {i}: {len(faces)} faces"
        # each face sits on its own copy
        for face in faces:
            x, y, w, h = face.roi
            d = [np.hypot(x + w / 2 - cx, y + h / 2 - cy) for cx, cy in centres]
            assert min(d) < max(w, h)
        ids_per_frame.append(sorted(f.face_id for f in faces))
    assert len(set(ids_per_frame[0])) == len(SIZES)
    assert all(ids == ids_per_frame[0] for ids in ids_per_frame)


def _textures(n: int, size=(640, 480)):
    from skimage import data

    sources = [data.brick(), data.grass(), data.gravel(), data.rocket(), data.coffee(), data.chelsea()]
    for i in range(n):
        img = sources[i % len(sources)]
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        yield cv2.resize(img, size)


def test_a_track_that_loses_its_face_dies_and_textures_start_none(face_pipeline_factory):
    pipeline = face_pipeline_factory()
    face_frame = place_face(astronaut_rgb(), (640, 480), (320, 240), 1.0, 0.0)
    assert len(pipeline.process(face_frame, 0.0, "bgr8").faces) == 1
    lifetimes: dict[int, int] = {}
    for i, texture in enumerate(_textures(30), start=1):
        # The face's region now holds a texture (a cat, bricks, a rocket...): the landmark
        # model's presence falls and the track ends on that frame.
        for face in pipeline.process(texture, i / 30.0, "bgr8").faces:
            lifetimes[face.face_id] = lifetimes.get(face.face_id, 0) + 1
    assert all(n <= 1 for n in lifetimes.values()), lifetimes


def test_quality_flags_and_iris_switch(face_pipeline_factory):
    small = place_face(astronaut_rgb(), (640, 480), (320, 240), 0.3, 0.0)  # a ~32 px face
    big = place_face(astronaut_rgb(), (640, 480), (320, 240), 1.0, 0.0)
    pipeline = face_pipeline_factory(config=FacePipelineConfig(quality=QualityThresholds(min_size_px=40.0)))
    f_small = pipeline.process(small, 0.0, "bgr8", still=True).faces[0]
    assert f_small.quality.size_px < 40 and not f_small.quality.expression_ok
    f_big = face_pipeline_factory().process(big, 0.0, "bgr8").faces[0]
    assert f_big.quality.size_px > 80 and f_big.quality.expression_ok and f_big.quality.presence > 0.99
    assert np.isfinite(f_big.landmarks).all() and np.isfinite(f_big.eye).all()

    no_iris = face_pipeline_factory(config=FacePipelineConfig(front_end=FrontEndConfig(iris=False)))
    face = no_iris.process(big, 0.0, "bgr8").faces[0]
    assert np.isnan(face.landmarks[468:]).all() and np.isfinite(face.landmarks[:468]).all()
    assert np.isnan(face.eye[:4]).all()


def test_near_and_far_ranges(face_pipeline_factory):
    """The short-range model finds a big face but not a small one; full range finds both."""
    img, _ = face_canvas([50, 200], (640, 480))
    found = {}
    for rng in ("near", "far", "auto"):
        faces = face_pipeline_factory(config=FacePipelineConfig(front_end=FrontEndConfig(detector_range=rng))).process(img, 0.0, "bgr8", still=True).faces
        found[rng] = sorted(round(f.quality.size_px, -1) for f in faces)
    assert len(found["near"]) == 1 and found["near"][0] > 150
    assert len(found["far"]) == 2 and len(found["auto"]) == 2


def test_bad_configuration_is_refused():
    from sentin_ros.core.face_front_end import FaceFrontEnd
    from sentin_ros.runtime import ModelError

    with pytest.raises(ValueError, match="detector_range"):
        FaceFrontEnd(FrontEndConfig(detector_range="medium"))
    with pytest.raises(ModelError, match="not found"):
        FaceFrontEnd(FrontEndConfig(landmark_model_path="/nonexistent/face_landmark.tflite"))


def test_a_face_filling_most_of_the_frame_is_found(face_pipeline_factory):
    """Someone leaning in to the robot: the short-range pass of `auto` covers what the
    full-range model misses at that size."""
    img = place_face(astronaut_rgb(), (640, 480), (320, 250), 3.0, 0.0)  # a ~320 px face in 480 px
    faces = face_pipeline_factory().process(img, 0.0, "bgr8").faces
    assert len(faces) == 1 and faces[0].quality.size_px > 250 and faces[0].quality.expression_ok


def test_two_landmark_workers_give_what_one_gives(face_pipeline_factory):
    """Faces split over two workers (each with its own interpreters) come back in the same
    order, with the same IDs and landmarks as one after the other."""
    pipelines = [face_pipeline_factory(config=FacePipelineConfig(front_end=FrontEndConfig(landmark_workers=n, tile_size=256))) for n in (1, 2)]
    assert {"landmarks_2", "iris_2"} <= set(pipelines[1].front_end.runtimes())
    assert "landmarks_2" not in pipelines[0].front_end.runtimes()
    for i in range(8):
        img, _ = face_canvas(SIZES, (960, 540), shift=(2.0 * i, 1.5 * i))
        one, two = (p.process(img, i / 30.0, "bgr8", still=(i == 0)).faces for p in pipelines)
        assert len(one) == len(SIZES) and [f.face_id for f in one] == [f.face_id for f in two]
        for a, b in zip(one, two):
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-5)


def test_bad_landmark_worker_count_is_refused():
    from sentin_ros.core.face_front_end import FaceFrontEnd

    with pytest.raises(ValueError, match="landmark_workers"):
        FaceFrontEnd(FrontEndConfig(landmark_workers=9))


def test_automatic_landmark_workers_follow_the_usable_cores():
    """0 (the default) takes one worker per core this process may use, at most two."""
    import os

    from sentin_ros.core.face_front_end import AUTO_WORKERS_MAX, FaceFrontEnd

    cores = os.sched_getaffinity(0)
    try:
        for allowed in ({min(cores)}, cores):
            os.sched_setaffinity(0, allowed)
            front_end = FaceFrontEnd(FrontEndConfig(iris=False, background_detection=False))
            assert len(front_end.landmarkers) == min(AUTO_WORKERS_MAX, len(allowed))
            front_end.close()
    finally:
        os.sched_setaffinity(0, cores)


def _first_frame_with_two_faces(background: bool) -> tuple[int | None, list[np.ndarray]]:
    """A face tracked from frame 0, a second one appearing on frame 3 (found by a scheduled pass)."""
    from sentin_ros.core.face_front_end import FaceFrontEnd

    fe = FaceFrontEnd(FrontEndConfig(background_detection=background))
    first, points = None, []
    try:
        for i in range(16):
            img, _ = face_canvas([110, 110], (640, 480))
            if i < 3:
                img[:, 320:] = 90
            found = fe.find(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), all_windows=i == 0)
            points.append(np.array(sorted((f.landmarks.points for f in found), key=lambda p: p[0, 0])))
            if first is None and len(found) == 2:
                first = i
    finally:
        fe.close()
    return first, points


def test_background_detection_adds_new_faces_one_frame_later_and_deterministically():
    on_frame, _ = _first_frame_with_two_faces(background=False)
    first, points = _first_frame_with_two_faces(background=True)
    again, points_again = _first_frame_with_two_faces(background=True)
    assert on_frame is not None and 3 <= on_frame <= 10
    assert first == again == on_frame + 1  # the pass ran beside the frame; its face joined the next one
    for a, b in zip(points, points_again):
        np.testing.assert_array_equal(a, b)
