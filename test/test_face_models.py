"""The front end's derived landmark and iris models (models/*_u8.tflite) against the ones the
mediapipe wheel ships, and the warp that cuts their input regions."""
import os

import cv2
import numpy as np
import pytest

from sentin_ros.core import face_roi
from sentin_ros.core.face_front_end import FaceFrontEnd, FrontEndConfig
from sentin_ros.core.face_landmarks import FACE_INPUT, IRIS_INPUT, FaceLandmarker
from sentin_ros.core.face_models import DERIVED, front_end_model, mediapipe_model
from sentin_ros.core.face_roi import Roi, crop
from sentin_ros.media.synthetic import astronaut_rgb
from sentin_ros.runtime import LiteModel, ModelError, ModelOptions


@pytest.fixture(scope="module")
def astronaut_face():
    rgb = astronaut_rgb()
    front_end = FaceFrontEnd(FrontEndConfig(background_detection=False))
    try:
        (face,) = front_end.find(rgb, all_windows=True)
    finally:
        front_end.close()
    return rgb, face.landmarks


def test_the_derived_models_are_committed_and_take_bytes():
    for kind, name in DERIVED.items():
        path = front_end_model(kind)
        assert os.path.basename(path) == name and os.path.isfile(path), f"{name} is missing from models/"
        model = LiteModel(path, ModelOptions())
        (info,) = model.inputs
        assert info.dtype == np.uint8 and info.scale == pytest.approx(1 / 255) and info.zero_point == 0
        model.close()
    iris = LiteModel(front_end_model("iris"), ModelOptions())
    assert [t.shape for t in iris.outputs] == [(1, 15)]  # the eye-contour head is gone


@pytest.mark.parametrize("kind,side", [("landmarks", FACE_INPUT), ("iris", IRIS_INPUT)])
def test_derived_models_give_the_shipped_models_outputs_on_a_real_face(astronaut_face, kind, side):
    rgb, face = astronaut_face
    roi = face.roi if kind == "landmarks" else Roi(*face.points[468, :2].tolist(), face.roi.size / 5, face.roi.angle)
    pixels = crop(rgb, roi, side)
    shipped, derived = LiteModel(mediapipe_model(kind), ModelOptions()), LiteModel(front_end_model(kind), ModelOptions())
    a = shipped.run_pixels({shipped.inputs[0].index: pixels}, 1 / 255)
    b = derived.run_pixels({derived.inputs[0].index: pixels}, 1 / 255)
    for t in derived.outputs:
        np.testing.assert_allclose(b[t.index], a[shipped.output_by_shape(t.shape).index], rtol=0, atol=1e-4)
    assert np.ptp(b[derived.outputs[0].index]) > 1.0  # real points, not a constant


def test_the_wheels_float_models_still_work_and_agree(astronaut_face):
    rgb, face = astronaut_face
    points = {}
    for name, paths in {"derived": ("", ""), "wheel": (mediapipe_model("landmarks"), mediapipe_model("iris"))}.items():
        landmarker = FaceLandmarker(paths[0] or front_end_model("landmarks"), paths[1] or front_end_model("iris"), ModelOptions())
        found = landmarker.mesh(rgb, face.roi)
        landmarker.add_iris(rgb, found)
        points[name] = found.points
        landmarker.close()
    assert np.isfinite(points["derived"]).all()
    np.testing.assert_allclose(points["derived"], points["wheel"], atol=1e-3)


def test_a_model_without_the_iris_output_is_refused(tmp_path):
    from training.face_models import derive

    contour_only = derive.read(mediapipe_model("iris"))  # the right input, the other head
    derive.keep_outputs(contour_only, [[1, 213]])
    path = tmp_path / "eye_contour.tflite"
    path.write_bytes(derive.write(contour_only))
    with pytest.raises(ModelError, match="not the iris model"):
        FaceLandmarker(front_end_model("landmarks"), str(path), ModelOptions())


@pytest.mark.parametrize("roi", [Roi(256.0, 200.0, 180.0, 0.3), Roi(20.0, 490.0, 150.0, -0.5), Roi(256.0, 256.0, 700.0, 0.1)])
def test_the_region_cut_from_copied_rows_is_the_region_cut_from_the_frame(roi):
    """Inside the frame, across its corner (the border repeats the frame's own edge), and larger
    than the frame (no copy): within a grey level or two of one warp of the whole frame (the
    warp's fixed-point sample positions round differently from another origin)."""
    rgb = astronaut_rgb()
    whole = cv2.warpAffine(rgb, roi.to_input(FACE_INPUT), (FACE_INPUT, FACE_INPUT), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    rows, origin = face_roi._rows_around(rgb, roi)
    assert (rows.size < rgb.size) == (roi.size < 400)
    diff = np.abs(crop(rgb, roi, FACE_INPUT).astype(int) - whole)
    assert diff.max() <= 3 and diff.mean() < 0.2
    mirrored = crop(rgb, roi, FACE_INPUT, mirror=True)
    assert np.abs(mirrored[:, ::-1].astype(int) - whole).mean() < 0.2
