"""The node graph: which nodes exist, which ones to start, and each one's parameters.

One builder for the three ways of starting the pipeline: the one-process composition
(ros/composition.py, `sentin-ros run`, the demo), the bag evaluation on the ROS graph, and
launch/sentin.launch.py. Each node's parameters are the YAML file's, then the choices made on
the command line or as launch arguments (`GraphConfig`), then explicit per-node overrides.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

from ..runtime.paths import share_path
from . import param_file


@dataclass(frozen=True)
class NodeSpec:
    key: str
    module: str
    class_name: str
    node_name: str

    def load(self) -> type:
        """The node class (an ImportError says what is missing)."""
        return getattr(importlib.import_module(self.module), self.class_name)


SOURCE = NodeSpec("source", "sentin_ros.ros.source_node", "SourceNode", "source_node")
FACE = NodeSpec("face", "sentin_ros.ros.face_node", "FaceNode", "face_node")
EMOTION = NodeSpec("emotion", "sentin_ros.ros.emotion_node", "EmotionNode", "emotion_node")
STRESS = NodeSpec("stress", "sentin_ros.ros.stress_node", "StressNode", "stress_node")
GAZE = NodeSpec("gaze", "sentin_ros.ros.gaze_node", "GazeNode", "gaze_node")
BIOMETRICS = NodeSpec("biometrics", "sentin_ros.ros.biometrics_node", "BiometricsNode", "biometrics_node")
DEBUG_VIEW = NodeSpec("debug_view", "sentin_ros.ros.debug_view_node", "DebugViewNode", "debug_view_node")
#: Pipeline order; MODELS are the perception nodes `--models` chooses from.
SPECS = (SOURCE, FACE, EMOTION, STRESS, GAZE, BIOMETRICS, DEBUG_VIEW)
BY_KEY = {s.key: s for s in SPECS}
MODELS = ("face", "emotion", "stress", "gaze", "biometrics")
#: What runs unless `--models` / `models:=` says otherwise: soft biometrics are opt-in.
DEFAULT_MODELS = ("face", "emotion", "stress", "gaze")
#: Nodes fed by the face node's FaceArray (one message per processed frame); they run LiteRT models.
FACE_CONSUMERS = ("emotion", "stress", "gaze", "biometrics")
#: Nodes that read the camera images.
IMAGE_NODES = ("source", "face", "debug_view")
#: Nodes that use the camera's CameraInfo (derived from image_topic unless camera_info_topic is set).
CAMERA_INFO_NODES = ("source", "face", "gaze")


def default_params_file() -> str:
    return str(share_path("config", "sentin.yaml"))


@dataclass
class GraphConfig:
    params_file: str | None = field(default_factory=default_params_file)
    namespace: str = ""
    models: tuple[str, ...] = DEFAULT_MODELS
    source: str | None = None  # video file, image folder, /dev/videoN or camera index: adds the source node
    image_topic: str | None = None  # image_topic of the face, source and debug view nodes; None = the YAML's
    camera_info_topic: str | None = None  # of the source, face and gaze nodes; None = the YAML's ("" there: derived from image_topic)
    compressed: bool | None = None  # True/False: image_transport compressed/raw of those nodes; None = the YAML's
    delegate: str | None = None  # of every node in MODELS (they all run LiteRT); None = the YAML's
    num_threads: int | None = None
    debug_image: bool = False  # adds the debug view node with debug_image on
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # node key ('*' = all) -> parameters (win over the rest)

    def validate(self) -> None:
        unknown = set(self.models) - set(MODELS)
        if unknown:
            raise ValueError(f"unknown model(s) {sorted(unknown)}: choose from {', '.join(MODELS)}")

    def sections(self) -> list[tuple[str, dict[str, Any]]]:
        return param_file.load(self.params_file) if self.params_file else []

    def wanted(self, sections) -> list[NodeSpec]:
        """The nodes to start, in pipeline order."""
        keys = {"face", *self.models}
        if self.source is not None:
            keys.add("source")
        if self.debug_image or yaml_parameters(sections, DEBUG_VIEW, self.namespace).get("debug_image") is True:
            keys.add("debug_view")
        return [s for s in SPECS if s.key in keys]

    def overrides_for(self, spec: NodeSpec) -> dict[str, Any]:
        """What this configuration sets on top of the YAML for `spec`."""
        values: dict[str, Any] = {}
        if spec.key == "emotion" and "stress" in self.models:
            values["publish_embedding"] = True  # the stress node uses it: the CNN runs once per face
        if spec.key in MODELS:  # every node that runs LiteRT models
            if self.delegate:
                values["delegate"] = self.delegate
            if self.num_threads is not None:
                values["num_threads"] = int(self.num_threads)
        if spec.key in CAMERA_INFO_NODES:
            if self.image_topic is not None:
                values["image_topic"] = self.image_topic  # (the gaze node only derives camera_info from it)
            if self.camera_info_topic is not None:
                values["camera_info_topic"] = self.camera_info_topic
        if spec.key in IMAGE_NODES:
            if self.image_topic is not None:
                values["image_topic"] = self.image_topic
            if self.compressed is not None:
                values["image_transport"] = "compressed" if self.compressed else "raw"
        if spec.key == "face" and "biometrics" in self.models:
            values["color_crop"] = True  # the biometrics node's input; otherwise FaceArray stays small
        if spec.key == "source" and self.source is not None:
            values["source"] = str(self.source)
        if spec.key == "debug_view" and self.debug_image:
            values["debug_image"] = True
        values.update(self.overrides.get("*", {}))
        values.update(self.overrides.get(spec.key, {}))
        return values

    def parameters(self, sections, spec: NodeSpec) -> dict[str, Any]:
        """YAML, then this configuration's choices (each wins over the one before)."""
        return {**yaml_parameters(sections, spec, self.namespace), **self.overrides_for(spec)}


def yaml_parameters(sections, spec: NodeSpec, namespace: str = "", specific_only: bool = False) -> dict[str, Any]:
    """The YAML's parameters for `spec`; `specific_only`: only sections that name the node (not /**)."""
    if specific_only:
        sections = [(p, v) for p, v in sections if p.rstrip("/").split("/")[-1] not in ("**", "*")]
    return param_file.params_for(sections, spec.node_name, namespace)


def precheck(spec: NodeSpec, values: dict[str, Any]) -> str | None:
    """Why `spec` cannot run with these parameter values (a model file is missing), or None.

    The launch file uses this to leave a node out with the reason, as the composition does."""
    from ..inference.model_paths import default_model_path

    for param, kind in getattr(spec.load(), "MODEL_PATH_PARAMETERS", {}).items():
        path = values.get(param) or default_model_path(kind)
        if not os.path.isfile(path):
            return f"model file {path!r} ({param}) not found"
    return None
