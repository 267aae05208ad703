"""Face node: images -> sentin_ros/FaceArray (landmarks, pose, crop, features per tracked face)."""
from __future__ import annotations

from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..core.face_front_end import FaceFrontEnd
from ..core.face_pipeline import PARAMETERS, FacePipeline, pipeline_config
from .base_node import InputError, PerceptionNode
from .convert.faces import frame_to_msg
from .convert.images import MAX_PIXELS, ImageError, camera_from_info, cdr_image_size, compressed_to_array, image_to_array, stamp_to_seconds
from .model_owner import ModelOwner
from .qos import image_qos, output_qos
from .topics import camera_info_topic

#: Pipeline parameters whose change needs new interpreters (the others are read at configure).
_FRONT_END_MODEL_PARAMETERS = ("detector_range", "iris", "landmark_workers", "background_detection", "detector_model_path", "landmark_model_path", "iris_model_path")


class FaceNode(ModelOwner, PerceptionNode):
    """The face front end's interpreters (detector, landmarks, iris) are this node's models."""

    REBUILD_PARAMETERS = _FRONT_END_MODEL_PARAMETERS

    def __init__(self, node_name: str = "face_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("image_topic", "image", "Input image topic (sensor_msgs/Image, or CompressedImage when image_transport is compressed; then '/compressed' is appended).")
        self.declare("image_transport", "raw", "raw | compressed.")
        self.declare("reliability", "best_effort", "Image subscription reliability: best_effort (sensor data) | reliable.")
        self.declare("qos_depth", 1, "Image subscription queue depth.", (1, 100))
        self.declare("camera_info_topic", "", "CameraInfo topic; its K matrix is used for head pose. Empty: the sibling camera_info of image_topic (/camera/image_raw -> /camera/camera_info); 'none': a default pinhole (f = image width).")
        self.declare("faces_topic", "faces", "Output FaceArray topic.")
        for name, (default, description, value_range) in PARAMETERS.items():
            self.declare(name, default, description, value_range)
        self.declare_model_parameters()
        self.pipeline: FacePipeline | None = None
        self._pub = None
        self._last_stamp: float | None = None

    def _config(self, params: dict | None = None):
        values = {name: self.param(name) for name in PARAMETERS}
        values.update(params or {})
        return pipeline_config(values, self.model_options(self.model_params(params)))

    def build_models(self, params: dict) -> dict:
        return {"face": FaceFrontEnd(self._config(params).front_end)}

    def runtimes(self) -> dict:
        front_end = (self.models or {}).get("face")
        return front_end.runtimes() if front_end is not None else {}

    def models_swapped(self, old, new) -> None:
        if self.pipeline is not None:
            self.pipeline.replace_front_end(new["face"])

    def configure_core(self) -> None:
        from sentin_ros.msg import FaceArray

        transport = self.param("image_transport")
        if transport not in ("raw", "compressed"):
            raise ValueError(f"image_transport must be raw or compressed, got {transport!r}")
        image_qos(self.param("reliability"))  # validates the value now rather than in activate
        config = self._config()
        config.front_end.validate()
        self.configure_models()
        self.pipeline = FacePipeline(config, front_end=self.models["face"])
        self._pub = self.create_lifecycle_publisher(FaceArray, self.param("faces_topic"), output_qos())

    def release_core(self) -> None:
        self.release_models()
        self.pipeline = None
        if self._pub is not None:
            self.destroy_lifecycle_publisher(self._pub)
            self._pub = None
        self._last_stamp = None

    def activate_io(self) -> None:
        qos = image_qos(self.param("reliability"), self.param("qos_depth"))
        topic = self.param("image_topic")
        if self.param("image_transport") == "compressed":
            self.open_input(CompressedImage, topic.rstrip("/") + "/compressed", self.enqueue, qos, count_lost=True)
        else:
            self.open_input(Image, topic, self._on_serialized_image, qos, raw=True, count_lost=True)
        info_topic = self.camera_info_topic()
        if info_topic:
            self.open_input(CameraInfo, info_topic, self._on_camera_info, qos)

    def camera_info_topic(self) -> str:
        """The CameraInfo topic subscribed to ('' = none): the parameter, or derived from image_topic."""
        return camera_info_topic(self.param("image_topic"), self.param("camera_info_topic"))

    def _on_serialized_image(self, data: bytes) -> None:
        """Raw images arrive serialized: an oversize one is refused from its first bytes, before it
        is deserialized into a Python message (an 8000×8000 frame is 192 MB per copy)."""
        try:
            w, h = cdr_image_size(data)
            if w * h > MAX_PIXELS:
                raise ImageError(f"image {w}x{h} exceeds the {MAX_PIXELS}-pixel limit; not deserialized")
        except ImageError as exc:
            self.stats.received += 1
            self.stats.bad_input += 1
            self.get_logger().error(f"skipping input: {exc}", throttle_duration_sec=2.0)
            return
        self.enqueue(deserialize_message(data, Image))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        camera = camera_from_info(msg)
        if self.pipeline is not None and camera is not None:
            self.pipeline.set_camera_matrix(*camera)

    def process(self, msg) -> None:
        with self.using_models():
            self._process(msg)

    def _process(self, msg) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            img, encoding = compressed_to_array(msg) if isinstance(msg, CompressedImage) else image_to_array(msg)
        except ImageError as exc:
            raise InputError(str(exc)) from exc
        stamp = stamp_to_seconds(msg.header.stamp)
        if self._last_stamp is not None and stamp < self._last_stamp - 1.0:
            self.get_logger().warning("image stamps jumped back (bag loop?): resetting face tracks")
            pipeline.reset()
        self._last_stamp = stamp
        frame = pipeline.process(img, stamp, encoding)
        self._pub.publish(frame_to_msg(frame, msg.header))
        self.published()

    def diagnostic_values(self) -> dict[str, str]:
        tracks = len(self.pipeline.tracker.tracks) if self.pipeline is not None else 0
        return {"faces_tracked": str(tracks), **self.model_diagnostics()}


def main(args=None) -> None:
    from .runner import run_single

    run_single(FaceNode, args)
