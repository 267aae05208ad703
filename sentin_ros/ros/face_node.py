"""Face node: images -> sentin_ros/FaceArray (landmarks, pose, crop, features per tracked face)."""
from __future__ import annotations

from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from ..core.face_mesh import FaceMeshConfig
from ..core.face_pipeline import FacePipeline, FacePipelineConfig
from .base_node import InputError, PerceptionNode
from .convert.faces import frame_to_msg
from .convert.images import ImageError, camera_from_info, compressed_to_array, image_to_array, stamp_to_seconds
from .qos import image_qos, output_qos


class FaceNode(PerceptionNode):
    def __init__(self, node_name: str = "face_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("image_topic", "image", "Input image topic (sensor_msgs/Image, or CompressedImage when image_transport is compressed; then '/compressed' is appended).")
        self.declare("image_transport", "raw", "raw | compressed.")
        self.declare("reliability", "best_effort", "Image subscription reliability: best_effort (sensor data) | reliable.")
        self.declare("qos_depth", 1, "Image subscription queue depth.", (1, 100))
        self.declare("camera_info_topic", "camera_info", "CameraInfo topic; its K matrix is used for head pose. Empty: a default pinhole (f = image width).")
        self.declare("faces_topic", "faces", "Output FaceArray topic.")
        self.declare("max_faces", 4, "Maximum faces per frame.", (1, 32))
        self.declare("min_detection_confidence", 0.5, "FaceMesh detection confidence [0, 1].", (0.0, 1.0))
        self.declare("min_tracking_confidence", 0.5, "FaceMesh landmark tracking confidence [0, 1].", (0.0, 1.0))
        self.declare("track_timeout", 1.0, "Seconds a face may be unseen before its ID is retired.", (0.01, 3600.0))
        self.declare("score_interval", 10, "Run the BlazeFace detector every N frames for per-face scores; 0 = off.", (0, 1000))
        self.declare("detector_model", 0, "BlazeFace model: 0 short range (< 2 m), 1 full range (< 5 m).", (0, 1))
        self.pipeline: FacePipeline | None = None
        self._pub = None
        self._image_sub = None
        self._info_sub = None
        self._last_stamp: float | None = None

    def configure_core(self) -> None:
        transport = self.param("image_transport")
        if transport not in ("raw", "compressed"):
            raise ValueError(f"image_transport must be raw or compressed, got {transport!r}")
        image_qos(self.param("reliability"))  # validates the value now rather than in activate
        config = FacePipelineConfig(
            mesh=FaceMeshConfig(
                max_faces=self.param("max_faces"),
                min_detection_confidence=self.param("min_detection_confidence"),
                min_tracking_confidence=self.param("min_tracking_confidence"),
                score_interval=self.param("score_interval"),
                detector_model=self.param("detector_model"),
            ),
            track_timeout_s=self.param("track_timeout"),
        )
        self.pipeline = FacePipeline(config)
        self._pub = self.create_lifecycle_publisher(self._face_array_type(), self.param("faces_topic"), output_qos())

    @staticmethod
    def _face_array_type():
        from sentin_ros.msg import FaceArray

        return FaceArray

    def release_core(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline = None
        if self._pub is not None:
            self.destroy_lifecycle_publisher(self._pub)
            self._pub = None
        self._last_stamp = None

    def activate_io(self) -> None:
        qos = image_qos(self.param("reliability"), self.param("qos_depth"))
        topic = self.param("image_topic")
        if self.param("image_transport") == "compressed":
            self._image_sub = self.create_subscription(CompressedImage, topic.rstrip("/") + "/compressed", self.enqueue, qos)
        else:
            self._image_sub = self.create_subscription(Image, topic, self.enqueue, qos)
        if self.param("camera_info_topic"):
            self._info_sub = self.create_subscription(CameraInfo, self.param("camera_info_topic"), self._on_camera_info, qos)

    def deactivate_io(self) -> None:
        for sub in (self._image_sub, self._info_sub):
            if sub is not None:
                self.destroy_subscription(sub)
        self._image_sub = self._info_sub = None

    def _on_camera_info(self, msg: CameraInfo) -> None:
        camera = camera_from_info(msg)
        if self.pipeline is not None and camera is not None:
            self.pipeline.set_camera_matrix(*camera)

    def process(self, msg) -> None:
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
            pipeline.tracker.reset()
        self._last_stamp = stamp
        frame = pipeline.process(img, stamp, encoding)
        self._pub.publish(frame_to_msg(frame, msg.header))
        self.published()

    def diagnostic_values(self) -> dict[str, str]:
        tracks = len(self.pipeline.tracker.tracks) if self.pipeline is not None else 0
        return {"faces_tracked": str(tracks)}


def main(args=None) -> None:
    from .runner import run_single

    run_single(FaceNode, args)
