"""The whole pipeline in one process, without `launch`: the same nodes, the same YAML.

Builds the lifecycle nodes (source -> face -> emotion -> stress -> gaze, + debug view), each
spinning in its own single-threaded executor (ros/node_executors.py), and drives them as
launch/sentin.launch.py does: configure all, then activate those that reached inactive, in
pipeline order (the source last, so no frame is published before its consumers are listening). The nodes and their parameters come from the
graph builder (ros/graph.py) that the launch file uses too. A node whose model file is missing
or whose configure fails is skipped with the reason logged (and kept in `skipped`); the face
node is required.

With `lockstep`, the source publishes a frame only once the face node and every node fed by
it have processed the previous one: all frames are processed, as fast as the pipeline goes
(demo, tests). Without it the source keeps its rate and slow nodes drop frames (diagnostics
count them), as on a robot.

shutdown() runs every node's lifecycle shutdown (the source first, so its reader thread stops
before anything else goes), then stops the executor and rclpy; `sentin-ros run` calls it on
SIGINT/SIGTERM (ros/stop_signals.py).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import rclpy
from rclpy.signals import SignalHandlerOptions

from . import param_file
from .graph import FACE_CONSUMERS, GraphConfig, NodeSpec, precheck, yaml_parameters
from .node_executors import NodeExecutors
from .transport import use_shipped_dds_profile


class CompositionError(RuntimeError):
    pass


@dataclass
class CompositionConfig(GraphConfig):
    lockstep: bool = False
    gate_timeout: float = 2.0  # lockstep: seconds to wait for one node before going on without waiting for it
    ros_args: list[str] = field(default_factory=list)  # e.g. ['--ros-args', '-r', 'image:=/camera/image_raw']

    @classmethod
    def from_args(cls, args, **extra) -> CompositionConfig:
        """From the pipeline arguments of `sentin-ros run` / `sentin-ros demo` (cli.add_pipeline_arguments)."""
        source = args.video if args.video is not None else args.camera
        return cls(
            params_file=args.params or None, namespace=args.namespace, models=tuple(args.models), source=source,
            image_topic=args.image_topic, camera_info_topic=getattr(args, "camera_info_topic", None), compressed=True if args.compressed else None, delegate=args.delegate,
            num_threads=args.threads, **extra,
        )


class Composition:
    def __init__(self, config: CompositionConfig | None = None, context: rclpy.Context | None = None,
                 log: Callable[[str], None] | None = None):
        self.config = config or CompositionConfig()
        try:
            self.config.validate()
        except ValueError as exc:
            raise CompositionError(str(exc)) from None
        self._owns_context = context is None
        use_shipped_dds_profile()
        self.context = context or rclpy.Context()
        if self._owns_context:
            rclpy.init(args=["sentin_ros", *self.config.ros_args], context=self.context,
                       signal_handler_options=SignalHandlerOptions.NO)
        self.log = log or (lambda text: print(f"[sentin_ros] {text}", flush=True))
        self.nodes: dict[str, Any] = {}  # key -> node, pipeline order
        self.skipped: dict[str, str] = {}  # key -> reason
        self.executor: NodeExecutors | None = None
        self._gated: list[str] = []
        self._dropped: list[Any] = []  # nodes left out after a failed transition: destroyed at shutdown
        self._sections = self.config.sections()

    # -- building -----------------------------------------------------------------------------
    def wanted(self) -> list[NodeSpec]:
        return self.config.wanted(self._sections)

    def node_parameters(self, spec: NodeSpec) -> dict[str, Any]:
        """YAML, then the command-line choices, then `overrides` (each wins over the one before)."""
        return self.config.parameters(self._sections, spec)

    def build(self) -> None:
        for spec in self.wanted():
            node, reason = self._make(spec)
            if node is None:
                self.skipped[spec.key] = reason
                self.log(f"skipping {spec.node_name}: {reason}")
            else:
                self.nodes[spec.key] = node
        if "face" not in self.nodes:
            raise CompositionError(f"the face node is required: {self.skipped.get('face')}")
        self.executor = NodeExecutors(self.context, self.log)
        for node in self.nodes.values():
            self.executor.add_node(node)

    def _make(self, spec: NodeSpec):
        values = self.node_parameters(spec)
        reason = precheck(spec, values)
        if reason is not None:
            return None, reason
        cls = spec.load()
        try:
            node = cls(spec.node_name, namespace=self.config.namespace, context=self.context,
                       parameter_overrides=param_file.to_parameters(values))
        except Exception as exc:  # e.g. InvalidParameterTypeException from a YAML value of the wrong type
            return None, f"cannot create {spec.node_name}: {exc}"
        for name in yaml_parameters(self._sections, spec, self.config.namespace, specific_only=True):
            if not node.has_parameter(name):
                self.log(f"warning: {spec.node_name} has no parameter {name!r} (in {self.config.params_file}); ignored")
        for param in getattr(cls, "MODEL_PATH_PARAMETERS", {}):
            path = node.get_parameter(param).value
            if not path or not os.path.isfile(path):
                node.destroy_node()
                return None, f"model file {path!r} ({param}) not found"
        return node, ""

    # -- lifecycle ----------------------------------------------------------------------------
    def _drop(self, key: str, reason: str) -> None:
        node = self.nodes.pop(key)
        self.skipped[key] = reason
        self.log(f"skipping {node.get_name()}: {reason}")
        if self.executor is not None:
            self.executor.remove_node(node)
        self._dropped.append(node)  # destroyed once the executor has stopped (see base_node)

    def configure(self) -> None:
        from rclpy.lifecycle import TransitionCallbackReturn

        for key in list(self.nodes):
            node = self.nodes[key]
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                self._drop(key, f"configure failed: {node.last_error or 'see the log'}")
        if "face" not in self.nodes:
            raise CompositionError(f"the face node is required: {self.skipped.get('face')}")

    def _activate(self, key: str) -> None:
        from rclpy.lifecycle import TransitionCallbackReturn

        node = self.nodes[key]
        if self.state(key) == "inactive" and node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            self._drop(key, f"activate failed: {node.last_error or 'see the log'}")

    def activate(self, hold_source: bool = False) -> None:
        """Activate in pipeline order, the source last (unless `hold_source`: then see activate_source)."""
        for key in [k for k in self.nodes if k != "source"]:
            self._activate(key)
        if not hold_source:
            self.activate_source()

    def activate_source(self, timeout: float = 3.0) -> None:
        """Activate the source once the face node's image subscription is matched (no frame lost to discovery)."""
        source = self.nodes.get("source")
        if source is None:
            return
        if self.config.lockstep:
            self._gated = [k for k in FACE_CONSUMERS if k in self.nodes]
            source.gate = self._gate
        deadline = time.monotonic() + timeout
        while source.image_subscribers() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        self._activate("source")

    def state(self, key: str) -> str:
        return self.nodes[key].lifecycle_state

    def states(self) -> dict[str, str]:
        return {key: self.state(key) for key in self.nodes}

    def start(self, hold_source: bool = False, extra_nodes: tuple = (), drive: bool = True) -> Composition:
        """Build, spin, configure, activate; returns self. `extra_nodes` (e.g. a demo's listener)
        spin too. `drive=False`: only build and spin (the lifecycles are someone else's to drive)."""
        self.build()
        for node in extra_nodes:
            self.executor.add_node(node)
        self.executor.start()
        if not drive:
            return self
        self.configure()
        self.activate(hold_source)
        active = [self.nodes[k].get_fully_qualified_name() for k, s in self.states().items() if s == "active"]
        self.log(f"active: {', '.join(active)}")
        return self

    def executor_alive(self) -> bool:
        """Every node's executor thread is spinning (they process the nodes' callbacks)."""
        return self.executor is not None and self.executor.alive()

    # -- running ------------------------------------------------------------------------------
    def _gate(self, published: int, stop: threading.Event) -> None:
        """Lockstep: return once the face node has handled `published` frames and its consumers caught up."""
        face = self.nodes.get("face")
        if face is None or published == 0:
            return
        deadline = time.monotonic() + self.config.gate_timeout
        while not stop.is_set() and time.monotonic() < deadline:
            if face.stats.processed + face.stats.dropped >= published and face.idle():
                break
            stop.wait(0.001)
        expected = face.stats.processed - face.stats.bad_input  # FaceArrays published
        for key in list(self._gated):
            node = self.nodes.get(key)
            if node is None or not node.is_active:
                continue
            while not stop.is_set():
                if node.stats.received >= expected and node.idle():
                    break
                if time.monotonic() > deadline:
                    self._gated.remove(key)
                    self.log(f"lockstep: {node.get_name()} did not keep up with the face node within "
                             f"{self.config.gate_timeout} s; no longer waiting for it")
                    break
                stop.wait(0.001)

    def finished(self) -> bool:
        source = self.nodes.get("source")
        return source is not None and source.finished.is_set()

    def wait_finished(self, timeout: float | None = None) -> bool:
        source = self.nodes.get("source")
        if source is None:
            return False
        if not source.finished.wait(timeout):
            return False
        self.drain()
        return True

    def drain(self, timeout: float = 5.0) -> None:
        """Let the last frames through the pipeline: every node idle and the consumers caught up."""
        stop = threading.Event()
        face = self.nodes.get("face")
        if face is not None and "source" in self.nodes:
            self._gate(self.nodes["source"].frames_published, stop)
        deadline = time.monotonic() + timeout
        for node in self.nodes.values():
            node.wait_idle(max(0.0, deadline - time.monotonic()))
        time.sleep(0.1)  # the last messages in flight to external subscribers

    def diagnostics(self) -> dict[str, dict[str, str]]:
        """Per node, what it publishes on /diagnostics: level, message and the key/values."""
        out = {}
        for key, node in self.nodes.items():
            status = node.diagnostic_status()
            values = {kv.key: kv.value for kv in status.values}
            values.update(level=str(int.from_bytes(status.level, "little") if isinstance(status.level, bytes) else int(status.level)),
                          message=status.message, name=status.name)
            out[key] = values
        return out

    # -- stopping -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """The lifecycle shutdown of every node (source first, so no frame is published into a
        half-stopped graph), then the executor, then rclpy."""
        order = (["source"] if "source" in self.nodes else []) + [k for k in self.nodes if k != "source"]
        for key in order:
            node = self.nodes[key]
            try:
                node.shutdown_lifecycle()
            except Exception as exc:  # keep shutting the others down
                self.log(f"{node.get_name()}: shutdown: {exc}")
        if self.executor is not None:
            self.executor.shutdown(timeout_sec=2.0)
        for node in [*self.nodes.values(), *self._dropped]:
            node.destroy_node()
        self._dropped = []
        if self._owns_context and self.context.ok():
            rclpy.shutdown(context=self.context)
