"""Realtime evaluation (--realtime): the bag published on a ROS graph at its recorded rate through the
real lifecycle nodes; measures image-stamp -> output latency, dropped frames, output rates, CPU and RSS.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable

from ...ros.convert.images import stamp_to_ns
from ..bags import BagReader
from ..bags.recorder import OutputRecorder
from .common import STAGES, EvalError, ResourceMonitor, canonical_json, percentiles
from .metrics import analyse
from .records import record_from_messages, stage_states
from .tap import OutputTap

_OUTPUT_TYPES = {"faces": "sentin_ros/msg/FaceArray", "emotion": "sentin_ros/msg/Emotion", "stress": "sentin_ros/msg/Stress", "gaze": "sentin_ros/msg/Gaze"}


def _topic_of(player, node, msgtype: str, timeout: float = 3.0, publishers: bool = True) -> str | None:
    """The topic `node` publishes (or subscribes to) with `msgtype`, from the ROS graph."""
    want = msgtype
    deadline = time.monotonic() + timeout
    while True:
        get = player.get_publisher_names_and_types_by_node if publishers else player.get_subscriber_names_and_types_by_node
        try:
            for topic, types in get(node.get_name(), node.get_namespace()):
                if want in types:
                    return topic
        except Exception:  # node not yet in the graph cache
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _private_domain() -> int:
    """ROS_DOMAIN_ID when set explicitly, else a random domain in 120..229 (valid on Linux)."""
    env = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if env.isdigit():
        return int(env)
    import random

    return random.SystemRandom().randint(120, 229)


class _Graph:
    """The perception nodes in one executor on `ctx`: the composition of `sentin-ros run` (the same
    nodes, graph builder and YAML), with `node_parameters` as per-stage overrides."""

    def __init__(self, ctx, stages, node_parameters: dict[str, dict] | None, extra_nodes: tuple, log=None):
        from ...ros.composition import Composition, CompositionConfig

        self.log_lines: list[str] = []
        config = CompositionConfig(
            models=("face", *[s for s in STAGES if s in stages]),
            overrides={("face" if k == "faces" else k): v for k, v in (node_parameters or {}).items()},
        )
        self._composition = comp = Composition(config, context=ctx, log=self.log_lines.append)
        comp.start(extra_nodes=extra_nodes)
        self.nodes = {("faces" if k == "face" else k): n for k, n in comp.nodes.items() if k in ("face", *STAGES)}
        self.skipped = {k: v for k, v in comp.skipped.items() if k in STAGES}
        for s in STAGES:
            if s not in stages:
                self.skipped[s] = "not requested"
        self.via = "sentin_ros.ros.composition"

    def deactivate(self) -> None:
        for node in self.nodes.values():
            try:
                node.trigger_deactivate()
            except Exception:  # already inactive
                pass

    def close(self) -> None:
        self._composition.shutdown()


def evaluate_realtime(
    bag: str, image_topic: str | None = None, stages=STAGES, rate: float = 1.0, max_frames: int = 0,
    warmup_frames: int = 0, settle_s: float = 3.0, record_outputs: str | None = None,
    progress: Callable[[int], None] | None = None, node_parameters: dict[str, dict] | None = None,
    domain_id: int | None = None, inactive_probe_s: float = 0.0,
) -> dict:
    """Publish the bag's images at `rate` × the recorded rate through the face node and the
    emotion/stress/gaze nodes (those that exist and configure), all in one composition (an executor per node)
    in this process, and measure what comes out. Latency: output receipt time minus the image's
    publish time, matched by header stamp (the bag's stamps are kept, so labels still align).
    node_parameters: {"faces"|"emotion"|"stress"|"gaze": {param: value}}.
    inactive_probe_s > 0: first measure this process's CPU/RSS for that long with the nodes
    configured but inactive while the frames are published (-> result["inactive_resources"])."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CompressedImage, Image

    if rate <= 0:
        raise EvalError(f"rate must be > 0, got {rate}")
    reader = BagReader(bag, image_topic)
    info = reader.info
    ctx = rclpy.Context()
    # A domain of its own (unless ROS_DOMAIN_ID says otherwise): another graph on this machine
    # (a demo, a robot) must neither feed this replay nor receive its frames.
    domain = domain_id if domain_id is not None else _private_domain()
    rclpy.init(context=ctx, args=[], domain_id=domain)
    graph = tap = None
    inactive = None
    try:
        player = rclpy.create_node("sentin_bag_player", context=ctx)
        graph = _Graph(ctx, stages, node_parameters, (player,))
        nodes, skipped = graph.nodes, graph.skipped
        if "faces" not in nodes:
            raise EvalError(f"the face node could not be started: {graph.skipped}")
        topics = {"image": _topic_of(player, nodes["faces"], "sensor_msgs/msg/Image", publishers=False) or "/image"}
        for stage, node in nodes.items():
            topics[stage] = _topic_of(player, node, _OUTPUT_TYPES[stage])
            if topics[stage] is None:
                skipped[stage] = f"could not find the topic {node.get_name()} publishes {_OUTPUT_TYPES[stage]} on"
        compressed = info.image_type.endswith("CompressedImage")
        if compressed:
            sub = _topic_of(player, nodes["faces"], "sensor_msgs/msg/CompressedImage", publishers=False)
            if sub is None:
                raise EvalError("the bag holds CompressedImage: evaluate with node parameters "
                                "{'faces': {'image_transport': 'compressed'}} so the face node subscribes to it")
            topics["image"] = sub
        image_pub = player.create_publisher(CompressedImage if compressed else Image, topics["image"],
                                            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        clock_pub = player.create_publisher(Clock, "/clock", 10)

        # The outputs are listened to from another process, as a robot's consumers are: in this
        # one the listener's callbacks would hold the GIL the nodes need (tools/eval/tap.py).
        tap = OutputTap({stage: (topics[stage], _OUTPUT_TYPES[stage]) for stage in nodes if topics.get(stage)}, domain)
        deadline = time.monotonic() + 5.0  # the face node's subscription must match before playing
        while image_pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)

        total = min(info.frames, max_frames) if max_frames else info.frames
        if inactive_probe_s > 0:
            graph.deactivate()
            inactive = _probe_inactive(reader, image_pub, inactive_probe_s, info.rate_hz * rate)
            for node in nodes.values():
                node.trigger_activate()
            time.sleep(0.2)

        published: dict[int, float] = {}
        order: list[int] = []
        late = 0
        # what the nodes had dropped when the first frame after the warm-up went out: the
        # start (the first detections, the first messages of each type) is left out as for outputs
        dropped_in_warmup = {s: n.stats.dropped for s, n in nodes.items()}
        with ResourceMonitor() as mon:
            t_base = bag0 = None
            for n, (ns, _, raw, stamp) in enumerate(reader.raw_images()):
                if n >= total:
                    break
                if n == warmup_frames:
                    dropped_in_warmup = {s: node.stats.dropped for s, node in nodes.items()}
                if t_base is None:
                    t_base, bag0 = time.perf_counter() + 0.2, ns
                wait = t_base + (ns - bag0) * 1e-9 / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.005:
                    late += 1
                clock = Clock()
                clock.clock.sec, clock.clock.nanosec = (int(v) for v in divmod(stamp, 1_000_000_000))
                clock_pub.publish(clock)
                published[stamp] = time.perf_counter()
                order.append(stamp)
                image_pub.publish(raw)
                if progress is not None:
                    progress(n + 1)
            play_s = time.perf_counter() - (t_base or time.perf_counter())
            deadline = time.perf_counter() + settle_s  # every node idle, and no new input, for 0.3 s
            last = -1
            while time.perf_counter() < deadline:
                count = sum(n.stats.received + n.stats.processed for n in nodes.values())
                if all(n.idle() for n in nodes.values()) and count == last:
                    break
                last = count
                time.sleep(0.3)
            time.sleep(0.2)  # the last outputs on their way to the listener
        received = tap.stop()
        tap = None
        node_stats = {
            s: {"received": n.stats.received, "processed": getattr(n.stats, "processed", None), "dropped": n.stats.dropped,
                "dropped_after_warmup": n.stats.dropped - dropped_in_warmup[s],
                "bad_input": n.stats.bad_input, "processing_ms_median": n.stats.processing_ms()[0]}
            for s, n in nodes.items()
        }
        graph.deactivate()
        recorded = _record_realtime(record_outputs, received, set(published)) if record_outputs else None
        via = graph.via
    finally:
        reader.close()
        if tap is not None:
            tap.close()
        if graph is not None:
            graph.close()
        rclpy.shutdown(context=ctx)

    result = _realtime_result(info, reader.labels, skipped, published, order, received, node_stats, mon.result,
                              late, play_s, rate, warmup_frames, topics, recorded)
    result["nodes_via"] = via
    if inactive is not None:
        result["inactive_resources"] = inactive
    return result


def _probe_inactive(reader: BagReader, pub, seconds: float, rate_hz: float) -> dict:
    """CPU/RSS of this process while frames are published and the nodes are inactive."""
    frames = []
    for _, _, raw, _ in reader.raw_images():
        frames.append(raw)
        if len(frames) >= 30:
            break
    period = 1.0 / max(rate_hz, 1.0)
    with ResourceMonitor() as mon:
        t_end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < t_end:
            pub.publish(frames[n % len(frames)])
            n += 1
            time.sleep(period)
    r = mon.result
    return {k: r[k] for k in ("wall_s", "cpu_s", "cpu_cores_mean", "rss_mb_max", "rss_mb_end")} | {"frames_published": n}


def _record_realtime(path: str, received: dict[str, list], stamps: set[int]) -> dict:
    from rclpy.serialization import serialize_message

    rec = OutputRecorder(path)
    try:
        for stage, items in received.items():
            for _, msg in items:
                ns = stamp_to_ns(msg.header.stamp)
                if ns in stamps:
                    rec.write_raw(stage, serialize_message(msg), ns)
    finally:
        rec.close()
    return rec.summary()


def _realtime_result(info, labels, skipped, published, order, received, node_stats, resources, late, play_s, rate,
                     warmup_frames, topics, recorded) -> dict:
    warm = set(order[:warmup_frames])
    latency: dict[str, list[float]] = {}
    per_stamp: dict[str, dict] = {}
    first_seen: dict[tuple, float] = {}
    for stage, items in received.items():
        lat = latency.setdefault(stage, [])
        for t, msg in items:
            st = stamp_to_ns(msg.header.stamp)
            if st not in published:
                continue
            if stage == "faces":
                per_stamp.setdefault(stage, {})[st] = msg
            else:
                per_stamp.setdefault(stage, {})[(st, msg.face_id)] = msg
            key = (stage, st, getattr(msg, "face_id", None))
            if key in first_seen:
                continue
            first_seen[key] = t
            if st not in warm:
                lat.append((t - published[st]) * 1e3)
    faces_by_stamp = per_stamp.get("faces", {})
    frames = []
    by_frame: dict[int, dict[str, dict]] = {}  # stamp -> kind -> face_id -> message
    for kind in ("emotion", "stress", "gaze"):
        for (st, fid), m in per_stamp.get(kind, {}).items():
            by_frame.setdefault(st, {}).setdefault(kind, {})[int(fid)] = m
    for st in order:
        fa = faces_by_stamp.get(st)
        if fa is None:
            continue
        rec = record_from_messages(fa, by_frame.get(st, {}))
        if st in labels:
            rec["label"] = labels[st]
        frames.append(rec)

    expected_faces = sum(len(fa.faces) for st, fa in faces_by_stamp.items())
    drops = {"images_published": len(order), "frames_without_output": len(order) - len(faces_by_stamp),
             "player_late_frames": late}
    after = [st for st in order if st not in warm]
    drops["frames_without_output_after_warmup"] = sum(1 for st in after if st not in faces_by_stamp)
    for stage in ("emotion", "stress", "gaze"):
        if stage in received:
            got = per_stamp.get(stage, {})
            drops[f"{stage}_missing_faces"] = max(expected_faces - len(got), 0)
            drops[f"{stage}_missing_faces_after_warmup"] = sum(
                1 for st in after if st in faces_by_stamp for f in faces_by_stamp[st].faces if (st, f.face_id) not in got
            )
    rates = {}
    for stage, items in received.items():
        if len(items) > 1:
            rates[stage] = (len(items) - 1) / max(items[-1][0] - items[0][0], 1e-9)
    frame_rate = None
    fa_items = received.get("faces", [])
    if len(fa_items) > 1:
        frame_rate = (len(fa_items) - 1) / max(fa_items[-1][0] - fa_items[0][0], 1e-9)
    result = {
        "mode": "realtime", "bag": info.__dict__, "stages": stage_states(skipped), "skipped": skipped,
        "rate_factor": rate, "play_rate_hz": info.rate_hz * rate, "play_s": play_s, "warmup_frames": warmup_frames,
        "frames_in_bag": info.frames, "frames_processed": len(faces_by_stamp), "dropped": drops["frames_without_output"],
        "drops": drops, "node_stats": node_stats, "topics": topics,
        "latency_ms": {k: percentiles(v) for k, v in latency.items()}, "latency_ms_raw": latency,
        "output_rate_hz": rates, "frame_output_rate_hz": frame_rate, "resources": resources,
        "recorded_outputs": recorded,
    }
    result.update(analyse(frames))
    result["frames"] = frames
    result["outputs_json"] = canonical_json(frames)
    return result
