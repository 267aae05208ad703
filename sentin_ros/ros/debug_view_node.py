"""Debug view node: image + faces + emotion + stress + gaze -> annotated `debug_image`.

Off by default (`debug_image: false`). Even when on, nothing is subscribed, converted or drawn
while nobody subscribes to `debug_image`: a timer checks the subscriber count and creates the
input subscriptions only while there is one. Outputs are matched to their image by header
stamp and face_id (result_cache); a frame is drawn once its faces and, for every face, the
emotion and gaze outputs (where those topics have publishers) have arrived, or after
`max_wait` seconds with what is there. Only the newest ready frame is drawn.
"""
from __future__ import annotations

import time

import cv2
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ..media.overlay import draw_overlay
from .base_node import InputError, PerceptionNode
from .convert.images import ImageError, array_to_image, compressed_to_array, image_to_array
from .qos import image_qos, output_qos
from .result_cache import ResultCache, StampKey


class DebugViewNode(PerceptionNode):
    def __init__(self, node_name: str = "debug_view_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("debug_image", False, "Publish the annotated image (computed only while `debug_image_topic` has a subscriber).")
        self.declare("debug_image_topic", "debug_image", "Output annotated Image topic.")
        self.declare("image_topic", "image", "Input image topic (as the face node's).")
        self.declare("image_transport", "raw", "raw | compressed (then '/compressed' is appended to image_topic).")
        self.declare("reliability", "best_effort", "Image subscription reliability: best_effort | reliable.")
        self.declare("faces_topic", "faces", "Input FaceArray topic.")
        self.declare("emotion_topic", "emotion", "Input Emotion topic.")
        self.declare("stress_topic", "stress", "Input Stress topic.")
        self.declare("gaze_topic", "gaze", "Input Gaze topic.")
        self.declare("max_wait", 0.2, "Seconds to wait for a frame's outputs before drawing it with what has arrived (s).", (0.0, 10.0))
        self.declare("draw_landmarks", True, "Draw the 478 face landmarks.")
        self.declare("cache_size", 30, "Frames kept while waiting for their outputs.", (2, 1000))
        self.cache: ResultCache | None = None
        self.rendered = 0
        self._pub = None
        self._drawing = False
        self._timer = None
        self._expect: set[str] = set()
        self._last_queued: StampKey = (-1, -1)
        self._ticks = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def configure_core(self) -> None:
        if self.param("image_transport") not in ("raw", "compressed"):
            raise ValueError(f"image_transport must be raw or compressed, got {self.param('image_transport')!r}")
        image_qos(self.param("reliability"))
        self.cache = ResultCache(int(self.param("cache_size")))
        self.rendered = 0
        self._last_queued = (-1, -1)
        if self.param("debug_image"):
            self._pub = self.create_lifecycle_publisher(Image, self.param("debug_image_topic"), image_qos("reliable", 1))
        else:
            self.get_logger().info("debug_image is false: nothing will be published")

    def release_core(self) -> None:
        if self._pub is not None:
            self.destroy_lifecycle_publisher(self._pub)
            self._pub = None
        self.cache = None

    def activate_io(self) -> None:
        # Created once and kept (it runs only while active): destroying timers or subscriptions
        # under a running MultiThreadedExecutor can stop it (see base_node).
        if self._pub is not None and self._timer is None:
            self._timer = self.create_timer(0.05, self._on_timer)

    def deactivate_io(self) -> None:
        self._unsubscribe()

    def _subscribe(self) -> None:
        from sentin_ros.msg import Emotion, FaceArray, Gaze, Stress

        qos = image_qos(self.param("reliability"), 1)
        topic = self.param("image_topic")
        if self.param("image_transport") == "compressed":
            self.open_input(CompressedImage, topic.rstrip("/") + "/compressed", self._on_image, qos)
        else:
            self.open_input(Image, topic, self._on_image, qos)
        self.open_input(FaceArray, self.param("faces_topic"), self._on_faces, output_qos())
        for kind, msg_type in (("emotion", Emotion), ("stress", Stress), ("gaze", Gaze)):
            self.open_input(msg_type, self.param(f"{kind}_topic"), lambda m, k=kind: self._on_result(k, m), output_qos())
        self._drawing = True
        self.get_logger().info("debug_image has a subscriber: drawing")

    def _unsubscribe(self) -> None:
        if self._drawing:
            self.get_logger().info("debug_image has no subscriber: stopped drawing")
        self.close_inputs()
        self._drawing = False

    @property
    def drawing(self) -> bool:
        """True while the inputs are open (someone subscribes to debug_image)."""
        return self._drawing

    def _wanted(self) -> bool:
        pub = self._pub
        return self._active and pub is not None and pub.get_subscription_count() > 0

    # -- inputs -------------------------------------------------------------------------------
    def _on_timer(self) -> None:
        if not self._active:
            return
        self._ticks += 1
        if self._ticks % 10 == 1:  # every 0.5 s: follow the subscriber count and the graph
            wanted = self._wanted()
            if wanted and not self._drawing:
                self._subscribe()
            elif not wanted and self._drawing:
                self._unsubscribe()
            self._expect = {k for k in ("emotion", "gaze") if self.count_publishers(self.param(f"{k}_topic")) > 0}
        self._check_ready()

    def _on_image(self, msg) -> None:
        cache = self.cache
        if cache is None or not self._wanted():
            return
        try:
            img, enc = compressed_to_array(msg) if isinstance(msg, CompressedImage) else image_to_array(msg)
        except ImageError as exc:
            self.get_logger().error(f"skipping image: {exc}", throttle_duration_sec=2.0)
            return
        if enc == "rgb8":
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        elif enc == "mono8":
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        key = cache.add_image(msg.header, img)
        if key < self._last_queued:  # stamps jumped back (a bag looped, sim time restarted)
            self._last_queued = (-1, -1)
        self._check_ready(key)

    def _on_faces(self, msg) -> None:
        if self.cache is not None:
            self._check_ready(self.cache.add_faces(msg))

    def _on_result(self, kind: str, msg) -> None:
        if self.cache is not None:
            self._check_ready(self.cache.add(kind, msg))

    def _check_ready(self, key: StampKey | None = None) -> None:
        cache = self.cache
        if cache is None:
            return
        keys = [key] if key is not None else cache.keys()
        now = time.monotonic()
        for k in reversed(keys):  # newest first: only the newest ready frame is drawn
            if k <= self._last_queued:
                break
            entry = cache.get(k)
            if entry is None or entry.image is None or entry.faces is None:
                continue
            if entry.has_all(self._expect) or now - entry.created > float(self.param("max_wait")):
                self._last_queued = k
                self.enqueue(k)
                break

    # -- drawing (worker thread) --------------------------------------------------------------
    def process(self, key: StampKey) -> None:
        cache, pub = self.cache, self._pub
        if cache is None or pub is None or pub.get_subscription_count() == 0:
            return  # nobody is looking: draw nothing
        entry, _older = cache.take(key)
        if entry is None or entry.image is None:
            return
        cache.forget_faces(entry.face_ids())
        faces = cache.overlays(entry)
        caption = f"{len(faces)} face(s)"
        drawn = draw_overlay(entry.image, faces, caption, bool(self.param("draw_landmarks")))
        header = Header(frame_id=entry.faces.header.frame_id)
        header.stamp.sec, header.stamp.nanosec = key
        try:
            pub.publish(array_to_image(drawn, "bgr8", header))
        except ImageError as exc:
            raise InputError(str(exc)) from exc
        self.rendered += 1
        self.published()

    def diagnostic_values(self) -> dict[str, str]:
        return {"rendered": str(self.rendered), "subscribed": str(self.drawing).lower(),
                "debug_image": str(bool(self.param("debug_image"))).lower()}


def main(args=None) -> None:
    from .runner import run_single

    run_single(DebugViewNode, args)
