"""Stress node: sentin_ros/FaceArray -> sentin_ros/Stress per face once a face has enough history.

Each face's last `window_seconds` (3.75 s) are summarised into the model's 15 steps of 0.25 s (the
ROS-free `StressTracker` / `horizon.StepHorizon`, on the frames' header stamps; small reorders are
filed in their slice, a real jump back restarts the face). Faces the quality gate rejects (low
quality, not a face) get no Stress, and their frames count as missing in the horizon, which lowers
the confidence of the estimates that follow.

The stress model reads the emotion CNN's 256-d embedding. With `embedding_source: emotion`
(default) it takes the embedding the emotion node has just computed (published with
publish_embedding, matched by image stamp and face_id), so the CNN runs once per face; when no
emotion node publishes on `emotion_topic`, or an embedding does not arrive within
`embedding_wait`, it runs its own copy of the CNN for that face and says so (log, diagnostics).
`own` always runs its own copy.
What the level means: models/affective_tcn_int8.md (a learned index of visible facial strain, not a
physiological or medical measure).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..inference.emotion import EmotionModel
from ..inference.stress import StressModel, StressTracker
from ..runtime import NonFiniteInput
from .convert.images import stamp_to_seconds
from .convert.outputs import stress_fields, stress_msg
from .embedding_inbox import EmbeddingInbox
from .model_node import ModelNode
from .qos import output_qos

EXPIRY_BACKSTOP_S = 0.2  # frames past their embedding deadline wait at most this long when no message comes


class StressNode(ModelNode):
    MODEL_PATH_PARAMETERS = {"model_path": "stress", "emotion_model_path": "emotion"}
    EXPRESSION = True

    def __init__(self, node_name: str = "stress_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("stress_topic", "stress", "Output Stress topic (one message per face and frame, once it has min_seconds of history).")
        self.declare("window_seconds", 3.75, "Time horizon of the estimate, seconds, summarised into the model's 15 steps (3.75: 0.25 s steps, as trained).", (0.5, 30.0))
        self.declare("min_seconds", 1.0, "Seconds of history before a level is published (confidence: share of the horizon with good frames).", (0.0, 30.0))
        self.declare("max_gap", 0.5, "Seconds without a face (seen at all, low quality included) after which its history restarts.", (0.01, 60.0))
        self.declare("elevated_threshold", 0.4, "Level at or above which the state is ELEVATED.", (0.0, 1.0))
        self.declare("high_threshold", 0.7, "Level at or above which the state is HIGH.", (0.0, 1.0))
        self.declare("embedding_source", "emotion", "emotion: use the emotion node's embeddings (its CNN runs once per face), own CNN when none arrive; own: always run the CNN here.")
        self.declare("emotion_topic", "emotion", "Emotion topic whose embeddings are used (embedding_source: emotion).")
        self.declare("embedding_wait", 0.2, "Seconds a frame waits at least for its embeddings from the emotion node before the CNN runs here.", (0.0, 5.0))
        self.declare("embedding_wait_max", 2.0, "Longest wait, seconds, while the emotion node's embeddings arrive later than embedding_wait (1.5x the latest of the last 5 s).", (0.0, 10.0))
        self.tracker: StressTracker | None = None
        self.inbox: EmbeddingInbox | None = None
        self._expiry_timer = None
        self._publishers_checked = -1e9
        self._has_emotion_publisher = False
        self.shared_embeddings = 0
        self.own_embeddings = 0

    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        options = self.model_options(params)
        emotion = EmotionModel(params["emotion_model_path"], options)
        try:
            stress = StressModel(params["model_path"], options)
        except Exception:
            emotion.close()  # never leave half of the pair built
            raise
        return {"emotion": emotion, "stress": stress}

    def models_swapped(self, old, new) -> None:
        if self.tracker is not None:  # a hot swap keeps the per-face windows
            self.tracker.model = new["stress"]

    def configure_core(self) -> None:
        from sentin_ros.msg import Stress

        elevated, high = float(self.param("elevated_threshold")), float(self.param("high_threshold"))
        if not elevated <= high:
            raise ValueError(f"elevated_threshold ({elevated}) must not exceed high_threshold ({high})")
        source = self.param("embedding_source")
        if source not in ("emotion", "own"):
            raise ValueError(f"embedding_source must be emotion or own, got {source!r}")
        self.configure_models()
        self.inbox = EmbeddingInbox(max_wait=float(self.param("embedding_wait_max"))) if source == "emotion" else None
        window, min_s = float(self.param("window_seconds")), float(self.param("min_seconds"))
        if not min_s <= window:
            raise ValueError(f"min_seconds ({min_s}) must not exceed window_seconds ({window})")
        self.tracker = StressTracker(
            self.models["stress"], window_seconds=window, min_seconds=min_s, elevated=elevated, high=high,
            max_gap_s=float(self.param("max_gap")),
        )
        self.open_output(Stress, self.param("stress_topic"))

    def release_state(self) -> None:
        self.tracker = None
        self.inbox = None

    def activate_io(self) -> None:
        super().activate_io()
        if self.inbox is not None:
            from sentin_ros.msg import Emotion

            self.open_input(Emotion, self.param("emotion_topic"), self._on_emotion, output_qos(depth=50))
            if self._expiry_timer is None:  # kept for the node's life, like every waitable (base_node)
                # Overdue frames are released by every FaceArray and Emotion that arrives; this timer
                # is only the backstop for a stream that stops. Every executor wake-up is GIL-held
                # Python (rclpy rebuilds the wait set; 0.13 ms a message for an active node alone,
                # and the 50 Hz timer cost 0.03 cores in the composition). Cancelling
                # the timer while idle is no way out: this rclpy then fails a call already taken.
                self._expiry_timer = self.create_timer(EXPIRY_BACKSTOP_S, self._release_expired)

    def enqueue(self, item) -> None:
        """A FaceArray waits in the inbox for its faces' embeddings while an emotion node publishes them."""
        inbox = self.inbox
        if inbox is None or not self._emotion_node_present():
            return super().enqueue(item)
        self._release_expired()  # older frames first
        ids = [int(f.face_id) for f in item.faces if self.passes_gate(f)]
        if not ids:
            return super().enqueue(item)
        for ready in inbox.hold(item, ids, float(self.param("embedding_wait"))):
            super().enqueue(ready)

    def idle(self) -> bool:
        """Also no frame waiting in the inbox for its embeddings."""
        inbox = self.inbox
        return super().idle() and (inbox is None or inbox.waiting() == 0)

    def _on_emotion(self, msg) -> None:
        self._release_expired()
        inbox = self.inbox
        for ready in inbox.put(msg) if inbox is not None else []:
            super().enqueue(ready)

    def _release_expired(self) -> None:
        inbox = self.inbox if self.is_active else None
        for ready in inbox.expired() if inbox is not None else []:
            super().enqueue(ready)

    def _emotion_node_present(self) -> bool:
        now = time.monotonic()
        # A graph query: once a second while an emotion node is there, on every frame until it is
        # (so the first frames after it appears already use its embeddings).
        if not self._has_emotion_publisher or now - self._publishers_checked > 1.0:
            self._has_emotion_publisher = self.count_publishers(self.param("emotion_topic")) > 0
            self._publishers_checked = now
        return self._has_emotion_publisher

    def _embeddings(self, msg, faces, cnn) -> list[tuple[np.ndarray, float]]:
        """(embedding, top-class probability) per face: the emotion node's, else our CNN's."""
        shared = self.inbox.take(msg.header) if self.inbox is not None else {}
        missing = sum(f.face_id not in shared for f in faces)
        if self.inbox is not None and missing:
            self.get_logger().warning(
                f"{missing} face(s) without an embedding from {self.param('emotion_topic')!r} within embedding_wait "
                "(no emotion node, or publish_embedding is off): running the emotion CNN here", throttle_duration_sec=10.0)
        out = []
        for face in faces:
            if face.face_id in shared:
                self.shared_embeddings += 1
                out.append(shared[face.face_id])
            else:
                self.own_embeddings += 1
                probs, embedding = cnn.infer(face.crop)
                out.append((embedding, float(probs.max())))
        return out

    def process(self, msg) -> None:
        with self.using_models() as models:
            tracker, pub = self.tracker, self._pub
            if models is None or tracker is None or pub is None:
                return
            stamp = stamp_to_seconds(msg.header.stamp)
            faces = list(self.faces_of(msg))
            used = {f.face_id for f in faces}
            for face in msg.faces:  # skipped by the quality gate: there, but its slice of the horizon stays empty
                if face.face_id not in used:
                    tracker.skip(face.face_id, stamp)
            for face, (embedding, confidence) in zip(faces, self._embeddings(msg, faces, models["emotion"])):
                try:
                    est = tracker.push(face.face_id, stamp, embedding, face.geometry, confidence)
                except NonFiniteInput as exc:
                    self.skip_face(str(exc))
                    continue
                if est is None:
                    continue
                pub.publish(stress_msg(msg.header, stress_fields(est)))
                self.published()
            # A face unseen for longer than max_gap is gone: its window is dropped (and would restart
            # anyway on its return). A one-frame miss the face tracker bridges keeps the window.
            tracker.forget_stale(stamp)

    def diagnostic_values(self) -> dict[str, str]:
        values = super().diagnostic_values()
        values["faces_tracked"] = str(len(self.tracker.face_ids) if self.tracker is not None else 0)
        values["embeddings_from_emotion_node"] = str(self.shared_embeddings)
        values["embeddings_computed_here"] = str(self.own_embeddings)
        if self.inbox is not None:
            values["frames_dropped_waiting_for_embeddings"] = str(self.inbox.dropped)
            values["embedding_wait_s"] = f"{self.inbox.current_wait(float(self.param('embedding_wait'))):.3f}"
        return values


def main(args=None) -> None:
    from .runner import run_single

    run_single(StressNode, args)
