"""Gaze node: sentin_ros/FaceArray -> one sentin_ros/Gaze per face, with per-user calibration."""
from __future__ import annotations

import os
import threading
from collections import deque
from typing import Any

import numpy as np
from sensor_msgs.msg import CameraInfo

from ..inference.gaze import GazeModel, GazeTracker
from ..inference.gaze_calibration import CalibrationError, GazeCalibration
from ..inference.gaze_screen import ScreenGeometry
from ..runtime import NonFiniteInput
from .convert.images import camera_from_info, stamp_to_seconds
from .convert.outputs import gaze_fields, gaze_msg
from .model_node import ModelNode
from .qos import image_qos
from .topics import camera_info_topic


class GazeNode(ModelNode):
    MODEL_PATH_PARAMETERS = {"model_path": "gaze"}

    def __init__(self, node_name: str = "gaze_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("gaze_topic", "gaze", "Output Gaze topic (one message per face and frame).")
        self.declare("image_topic", "image", "The camera's image topic (as the face node's): only used to find its camera_info.")
        self.declare("camera_info_topic", "", "CameraInfo topic for the eye position. Empty: the sibling camera_info of image_topic (/camera/image_raw -> /camera/camera_info); 'none': a default pinhole (f = width).")
        self.declare("min_frames", 5, "Frames of history a face needs before gaze is published (the model sees up to 15).", (1, 15))
        self.declare("max_gap", 0.5, "Seconds without a face after which its history restarts.", (0.01, 60.0))
        self.declare("screen_width_mm", 530.0, "Width of the screen looked at, mm.", (1.0, 10000.0))
        self.declare("screen_height_mm", 300.0, "Height of the screen, mm.", (1.0, 10000.0))
        self.declare("camera_offset_x_mm", 0.0, "Camera centre relative to the top-edge middle of the screen, mm, > 0 = user's right.", (-5000.0, 5000.0))
        self.declare("camera_offset_y_mm", 10.0, "Camera centre height above the screen's top edge, mm.", (-5000.0, 5000.0))
        self.declare("calibration_window", 1.0, "ADD_SAMPLE averages the face's uncalibrated output over this many seconds of fixation.", (0.0, 10.0))
        self.declare("calibration_file", "", "JSON file of the per-user calibration: loaded at configure if it exists, default path of SAVE/LOAD.")
        self._srv = None
        self.tracker: GazeTracker | None = None
        self.calibration = GazeCalibration()
        self._camera_matrix: np.ndarray | None = None
        self._raw_history: dict[int, deque] = {}  # face_id -> (stamp, (raw_x, raw_y), calibration features), newest last
        self._last_face: int | None = None
        self._cal_lock = threading.Lock()

    def screen(self) -> ScreenGeometry:
        return ScreenGeometry(
            float(self.param("screen_width_mm")), float(self.param("screen_height_mm")),
            float(self.param("camera_offset_x_mm")), float(self.param("camera_offset_y_mm")),
        )

    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"gaze": GazeModel(params["model_path"], self.model_options(params), screen=self.screen())}

    def models_swapped(self, old, new) -> None:
        if self.tracker is not None:  # a hot swap keeps the histories
            self.tracker.model = new["gaze"]

    def configure_core(self) -> None:
        from sentin_ros.msg import Gaze
        from sentin_ros.srv import CalibrateGaze

        self.configure_models()
        path = self.param("calibration_file")
        self.calibration = GazeCalibration.load(path) if path and os.path.exists(path) else GazeCalibration()
        if self.calibration.calibrated:
            self.get_logger().info(f"loaded gaze calibration from {path} (residual {self.calibration.residual:.3f})")
        self.tracker = GazeTracker(self.models["gaze"], int(self.param("min_frames")), float(self.param("max_gap")), self.calibration)
        self.open_output(Gaze, self.param("gaze_topic"))
        if self._srv is None:  # kept for the node's life: destroying services under a running executor can stop it
            self._srv = self.create_service(CalibrateGaze, "~/calibrate", self._on_calibrate)

    def release_state(self) -> None:
        self.tracker = None
        self._raw_history.clear()

    def activate_io(self) -> None:
        super().activate_io()
        info_topic = self.camera_info_topic()
        if info_topic:
            self.open_input(CameraInfo, info_topic, self._on_info, image_qos())

    def camera_info_topic(self) -> str:
        """The CameraInfo topic subscribed to ('' = none): the parameter, or derived from image_topic."""
        return camera_info_topic(self.param("image_topic"), self.param("camera_info_topic"))

    def _on_info(self, msg: CameraInfo) -> None:
        camera = camera_from_info(msg)
        if camera is not None:
            self._camera_matrix = camera[0]

    def process(self, msg) -> None:
        with self.using_models():
            self._process(msg)

    def _process(self, msg) -> None:
        tracker, pub = self.tracker, self._pub
        if tracker is None or pub is None:
            return
        stamp = stamp_to_seconds(msg.header.stamp)
        size = (int(msg.image_width) or 640, int(msg.image_height) or 480)
        for face in self.faces_of(msg, with_crop=False):
            pos = face.head_position
            try:
                with self._cal_lock:
                    est = tracker.push(face.face_id, stamp, face.eye, face.yaw, face.pitch, face.roll,
                                       image_size=size, head_position_m=pos if pos[2] > 0 else None, camera_matrix=self._camera_matrix)
            except NonFiniteInput as exc:  # e.g. the face node runs without iris: eye features are NaN
                self.skip_face(str(exc))
                continue
            if est is None:
                continue
            self._raw_history.setdefault(face.face_id, deque(maxlen=300)).append((stamp, (est.raw_x, est.raw_y), est.features))
            self._last_face = face.face_id
            pub.publish(gaze_msg(msg.header, gaze_fields(est)))
            self.published()
        for fid in tracker.forget_stale(stamp):  # unseen for longer than max_gap: gone
            self._raw_history.pop(fid, None)

    def _on_calibrate(self, request, response):
        from sentin_ros.srv import CalibrateGaze as Srv

        with self._cal_lock:
            cal = self.calibration
            try:
                if self.tracker is None:
                    raise CalibrationError(f"the gaze node is {self.lifecycle_state}: configure it first")
                if request.command == Srv.Request.ADD_SAMPLE:
                    fid = request.face_id or self._last_face
                    history = self._raw_history.get(fid) if fid is not None else None
                    if not history:
                        raise CalibrationError(f"no gaze estimate for face {request.face_id or '(latest)'} yet")
                    newest = history[-1][0]
                    window = [(xy, f) for t, xy, f in history if newest - t <= float(self.param("calibration_window"))]
                    cal.add_sample(np.mean([xy for xy, _ in window], axis=0), (request.target_x, request.target_y),
                                   np.mean([f for _, f in window], axis=0))
                    response.message = f"sample {cal.num_samples} added (face {fid}, mean of {len(window)} frames)"
                elif request.command == Srv.Request.FIT:
                    cal.fit()  # response.residual: the leave-one-out RMS residual (in-sample one in the message)
                    response.message = "fitted a " + cal.describe()
                elif request.command == Srv.Request.RESET:
                    cal.reset()
                    response.message = "calibration reset: output is uncalibrated"
                elif request.command == Srv.Request.SAVE:
                    path = request.path or self.param("calibration_file")
                    if not path:
                        raise CalibrationError("no path given and calibration_file is empty")
                    cal.save(path)
                    response.message = f"saved to {path}"
                elif request.command == Srv.Request.LOAD:
                    path = request.path or self.param("calibration_file")
                    if not path:
                        raise CalibrationError("no path given and calibration_file is empty")
                    loaded = GazeCalibration.load(path)
                    self.calibration = cal = loaded
                    if self.tracker is not None:
                        self.tracker.calibration = loaded
                    response.message = f"loaded from {path}"
                else:
                    raise CalibrationError(f"unknown command {request.command}")
                response.success = True
            except (CalibrationError, OSError, ValueError) as exc:
                response.success = False
                response.message = str(exc)
            response.num_samples = cal.num_samples
            response.residual = float(cal.residual) if np.isfinite(cal.residual) else 0.0
            response.calibrated = bool(cal.calibrated)
        return response

    def diagnostic_values(self) -> dict[str, str]:
        values = super().diagnostic_values()
        values["faces_tracked"] = str(len(self.tracker.face_ids) if self.tracker else 0)
        values["calibrated"] = str(self.calibration.calibrated).lower()
        return values


def main(args=None) -> None:
    from .runner import run_single

    run_single(GazeNode, args)
