"""Source node: a video file, an image folder or a V4L2 webcam -> sensor_msgs/Image (+ CameraInfo).

So the pipeline can be demonstrated and benchmarked without a robot. Lifecycle: configure opens
the source (a bad path fails the transition with the reason), activate starts the reader
thread, deactivate stops it, cleanup closes the source. Stamps come from the node clock (so
`use_sim_time` is honoured). When a non-looping source ends (or `max_frames` is reached) the
node publishes `true` on `~/finished` (latched) and sets `finished`, so a composition can stop.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Bool, Header

from ..media.sources import FOLDER_RATE, FrameSource, SourceError, open_source
from .base_node import PerceptionNode
from .convert.images import array_to_compressed, array_to_image, camera_info_msg
from .qos import image_qos
from .topics import camera_info_topic

TRANSPORTS = ("raw", "compressed", "both")

#: In-process flow control (lockstep): called before each frame is published with the number
#: of frames published so far and the node's stop event; returns when the pipeline is ready.
Gate = Callable[[int, threading.Event], None]


class SourceNode(PerceptionNode):
    def __init__(self, node_name: str = "source_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("source", "", "Video file, image folder, /dev/videoN or a camera index (e.g. '0').")
        self.declare("rate", 0.0, "Publish rate (Hz); 0 = the source's own rate (video FPS, camera as delivered, image folder 10 Hz).", (0.0, 1000.0))
        self.declare("as_fast_as_possible", False, "Ignore `rate`: publish each frame as soon as it is read (benchmarks).")
        self.declare("loop", False, "Start again at the end of a video file or image folder (cameras never end).")
        self.declare("max_frames", 0, "Stop after this many frames; 0 = the whole source.", (0, 1_000_000_000))
        self.declare("frame_id", "camera_optical", "header.frame_id of the Image and CameraInfo messages.")
        self.declare("stamp_source", "clock", "clock: header.stamp = the node clock at publishing (honours use_sim_time); video: the node "
                     "clock at the first frame + frame index / rate, so a file played faster or slower than real time keeps its own "
                     "timeline (cameras always use clock).")
        self.declare("image_topic", "image", "Output Image topic; CompressedImage goes to <image_topic>/compressed.")
        self.declare("image_transport", "raw", "raw | compressed (JPEG CompressedImage only) | both.")
        self.declare("jpeg_quality", 90, "JPEG quality of the compressed output [1, 100].", (1, 100))
        self.declare("camera_info_topic", "", "Output CameraInfo topic (pinhole K with f = image width, no distortion). Empty: the sibling camera_info of image_topic (/camera/image_raw -> /camera/camera_info); 'none': no CameraInfo.")
        self.declare("reliability", "reliable", "Image publisher reliability: reliable (matches reliable and best-effort subscribers) | best_effort.")
        self.declare("camera_width", 0, "Requested webcam frame width (px); 0 = the driver's default.", (0, 8192))
        self.declare("camera_height", 0, "Requested webcam frame height (px); 0 = the driver's default.", (0, 8192))
        self.gate: Gate | None = None
        self.finished = threading.Event()
        self.frames_published = 0
        self.loops = 0
        self._source: FrameSource | None = None
        self._pubs: dict[str, object] = {}
        self._finished_pub = None
        self._camera_info: CameraInfo | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._t0_ns: int | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def configure_core(self) -> None:
        if self.param("stamp_source") not in ("clock", "video"):
            raise ValueError(f"stamp_source must be clock or video, got {self.param('stamp_source')!r}")
        transport = self.param("image_transport")
        if transport not in TRANSPORTS:
            raise ValueError(f"image_transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        qos = image_qos(self.param("reliability"), 1)
        try:
            self._source = open_source(self.param("source"), self.param("camera_width"), self.param("camera_height"))
        except SourceError as exc:
            raise ValueError(str(exc)) from exc
        info = self._source.info
        topic = self.param("image_topic")
        if transport in ("raw", "both"):
            self._pubs["raw"] = self.create_lifecycle_publisher(Image, topic, qos)
        if transport in ("compressed", "both"):
            self._pubs["compressed"] = self.create_lifecycle_publisher(CompressedImage, topic.rstrip("/") + "/compressed", qos)
        info_topic = camera_info_topic(topic, self.param("camera_info_topic"))
        if info_topic:
            self._pubs["info"] = self.create_lifecycle_publisher(CameraInfo, info_topic, qos)
            self._camera_info = self._make_camera_info(info.width, info.height)
        latched = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        if self._finished_pub is None:  # kept for the node's life (see base_node)
            self._finished_pub = self.create_publisher(Bool, "~/finished", latched)
        elif self.finished.is_set():
            self._finished_pub.publish(Bool(data=False))  # a new run: not finished (latched)
        self.finished.clear()
        self._t0_ns = None
        self.frames_published = 0
        self.loops = 0
        self.get_logger().info(f"source {info.kind} {info.spec!r}: {info.width}x{info.height}, "
                               f"{info.fps:.2f} fps, {info.frames or 'unknown'} frames; publishing at {self._rate_text()}")

    def release_core(self) -> None:
        self._stop_thread()
        if self._source is not None:
            self._source.close()
            self._source = None
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        self._camera_info = None

    def activate_io(self) -> None:
        # Called before the lifecycle publishers are switched on (super().on_activate): the
        # reader thread waits for that (see _wait_publishers_active).
        if not self._stop_thread():  # one reader, always
            raise RuntimeError("the previous reader thread has not ended yet (a read is blocking)")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.get_name()}_reader", daemon=True)
        self._thread.start()

    def deactivate_io(self) -> None:
        if not self._stop_thread():
            self.get_logger().warning("the reader thread did not stop within 5 s (a read is blocking); it stops after it")

    def _stop_thread(self, timeout: float = 5.0) -> bool:
        """Stop the reader; True once no reader runs (one still blocked in a read is kept, not forgotten)."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def image_subscribers(self) -> int:
        """Subscriptions matched to the image publisher(s) (the most of raw and compressed)."""
        pubs = [p for k, p in self._pubs.items() if k in ("raw", "compressed")]
        return max((p.get_subscription_count() for p in pubs), default=0)

    # -- reading and publishing ---------------------------------------------------------------
    def _rate_text(self) -> str:
        if self.param("as_fast_as_possible"):
            return "as fast as possible"
        period = self._period()
        return f"{1.0 / period:.2f} Hz" if period > 0 else "the camera's rate"

    def _period(self) -> float:
        if self.param("as_fast_as_possible"):
            return 0.0
        rate = float(self.param("rate")) or (self._source.info.fps if self._source is not None else 0.0)
        return 1.0 / rate if rate > 0 else 0.0

    def _make_camera_info(self, width: int, height: int) -> CameraInfo:
        return camera_info_msg(width, height, Header())

    def _wait_publishers_active(self) -> bool:
        while not self._stop.is_set():
            if self._active and all(p.is_activated for p in self._pubs.values()):
                return True
            self._stop.wait(0.005)
        return False

    def _run(self) -> None:
        if not self._wait_publishers_active():
            return
        source, period = self._source, self._period()
        max_frames = int(self.param("max_frames"))
        loop = bool(self.param("loop"))
        next_t = time.monotonic()
        while not self._stop.is_set():
            if max_frames and self.frames_published >= max_frames:
                self._finish(f"max_frames = {max_frames} reached")
                return
            t0 = time.perf_counter()
            frame = source.read()
            if frame is None and loop and source.rewind():
                self.loops += 1
                frame = source.read()
            if frame is None:
                self._finish("end of source")
                return
            read_s = time.perf_counter() - t0
            self.stats.received += 1
            self.stats.input.tick()
            if self.gate is not None:
                self.gate(self.frames_published, self._stop)
            if period > 0:
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -period:  # fell behind (slow disk/decoder): do not burst to catch up
                    next_t = time.monotonic()
            if self._stop.is_set():
                return
            t1 = time.perf_counter()
            try:
                self._publish(frame)
            except Exception as exc:  # e.g. the context went away under us: stop reading, quietly if asked to
                if not self._stop.is_set():
                    self.get_logger().error(f"publishing failed, reader stopped: {exc}")
                return
            self.stats.add_time(read_s + time.perf_counter() - t1)

    def _stamp(self):
        now = self.get_clock().now()
        info = self._source.info if self._source is not None else None
        if self.param("stamp_source") != "video" or info is None or info.kind == "camera":
            return now.to_msg()
        if self._t0_ns is None:
            self._t0_ns = now.nanoseconds
        rate = float(self.param("rate")) or info.fps or FOLDER_RATE
        ns = self._t0_ns + round(self.frames_published * 1e9 / rate)
        return Time(nanoseconds=ns, clock_type=now.clock_type).to_msg()

    def _publish(self, frame) -> None:
        header = Header(frame_id=self.param("frame_id"))
        header.stamp = self._stamp()
        if "info" in self._pubs:
            self._camera_info.header = header
            self._pubs["info"].publish(self._camera_info)
        if "raw" in self._pubs:
            self._pubs["raw"].publish(array_to_image(frame, "bgr8", header))
        if "compressed" in self._pubs:
            self._pubs["compressed"].publish(array_to_compressed(frame, header, quality=int(self.param("jpeg_quality"))))
        self.frames_published += 1
        self.published()

    def _finish(self, why: str) -> None:
        self.get_logger().info(f"{why}: {self.frames_published} frames published; source finished")
        if self._finished_pub is not None:
            self._finished_pub.publish(Bool(data=True))
        self.finished.set()

    def diagnostic_values(self) -> dict[str, str]:
        info = self._source.info if self._source is not None else None
        values = {"frames_published": str(self.frames_published), "finished": str(self.finished.is_set()).lower(), "loops": str(self.loops)}
        if info is not None:
            values.update({"source_kind": info.kind, "source": info.spec, "source_fps": f"{info.fps:.2f}",
                           "width": str(info.width), "height": str(info.height), "publish_rate": self._rate_text()})
        return values


def main(args=None) -> None:
    from .runner import run_single

    run_single(SourceNode, args)
