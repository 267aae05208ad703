"""Lifecycle plumbing shared by the sentin_ros nodes.

Build in configure, connect in activate, disconnect in deactivate, release in cleanup/shutdown.
A failed configure releases whatever was built and leaves the node unconfigured, with the
reason in the log and in `last_error`. Messages are handed to a worker thread that only ever
processes the newest one; replaced messages are counted as dropped.

Transitions hold at any moment:
- Every transition request (the `change_state` service, `trigger_*`, `request_transition`) goes
  through one lock and is checked against the transitions available from the current state. An
  invalid one is answered with failure and logged; rclpy would raise `RCLError` ("Transition is
  not registered") inside the service callback, which kills a single-node process and, in a
  one-process composition, the executor thread (every node stops processing). `shutdown` is
  accepted from any primary state (the right one of the three shutdown transitions is used)
  and is a no-op success on a node already finalized.
- One worker thread per node for its whole life (latest_slot.py); `frame_lock` is held for the
  whole frame, so deactivate waits for the frame in progress (up to `FRAME_WAIT_S`, then the
  frame finishes with its output going nowhere) and cleanup/shutdown wait for it before
  anything it uses is released.
- Nothing the executor waits on is destroyed while it runs: subscriptions, timers, services and
  publishers (whose QoS event handlers are waitables) are created the first time they are needed
  and kept, reused while their type, topic and QoS stay the same, and destroyed with the node.
  Destroying one while other threads of a MultiThreadedExecutor build their wait sets raises
  `InvalidHandle` inside rclpy's executor and stops it. Inputs are switched on and off: a
  subscription's callback runs only while the node is active (messages that arrive while it is
  inactive are not counted anywhere); cleanup switches a lifecycle publisher off and keeps it.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from ..core.stats import NodeStats, SequenceGaps
from .latest_slot import LatestSlot
from .lifecycle_guard import GuardedTransitions


class InputError(ValueError):
    """Bad input: logged (throttled), the frame is skipped, the node keeps running."""


def _qos_key(qos) -> tuple:
    if isinstance(qos, int):
        return ("depth", qos)
    return (int(qos.history), int(qos.depth), int(qos.reliability), int(qos.durability))


class _Input:
    """A kept subscription and the gate in front of its callback; with `on_lost`, it also counts
    the messages the publisher sent that never reached it (DDS publication sequence numbers)."""

    def __init__(self):
        self.subscription = None
        self.callback = None
        self.on_lost = None
        self.open = False
        self._gaps = SequenceGaps()

    def reopen(self, callback, on_lost) -> None:
        self.callback, self.on_lost = callback, on_lost
        self._gaps = SequenceGaps()  # what was published while closed is not lost
        self.open = True

    def deliver(self, msg, info) -> None:
        callback = self.callback if self.open else None
        if callback is None:
            return
        if self.on_lost is not None:
            lost = self._gaps.update(info.get("publication_sequence_number"))
            if lost:
                self.on_lost(lost)
        callback(msg)


class PerceptionNode(GuardedTransitions, LifecycleNode):
    #: seconds deactivate waits for the frame in progress before it goes on without it
    FRAME_WAIT_S = 10.0

    def __init__(self, node_name: str, **kwargs):
        super().__init__(node_name, **kwargs)
        self.install_transition_guard()
        #: held by the worker for the whole frame; cleanup/shutdown/hot swaps take it too
        self.frame_lock = threading.RLock()
        self._inputs: dict[tuple, _Input] = {}
        self._kept_publishers: dict[tuple, Any] = {}
        self._configured = False
        #: name -> descriptor of every parameter this node declares (docs, checks), in declaration order
        self.parameter_descriptions: dict[str, ParameterDescriptor] = {}
        self.declare("diagnostics_period", 1.0, "Seconds between /diagnostics messages.", (0.05, 60.0))
        self.declare("warn_processing_ms", 50.0, "Median processing time above which diagnostics say WARN (ms).", (0.0, 1e5))
        self.declare("error_processing_ms", 200.0, "Median processing time above which diagnostics say ERROR (ms).", (0.0, 1e5))
        self.declare("warn_drop_ratio", 0.5, "Dropped/received frame ratio above which diagnostics say WARN.", (0.0, 1.0))
        self.declare("min_input_rate", 0.0, "Input rate (Hz) below which an active node says WARN; 0 disables.", (0.0, 1000.0))
        self.stats = NodeStats()
        self.last_error = ""
        self._slot = LatestSlot(self._handle, self._count_drop, name=f"{node_name}_worker")
        self._diag_pub = None
        self._diag_timer = None
        self._active = False

    # -- parameters -------------------------------------------------------------------------
    def declare(self, name: str, default: Any, description: str, value_range: tuple | None = None, read_only: bool = False):
        desc = ParameterDescriptor(description=description, read_only=read_only)
        if value_range is not None and not isinstance(default, bool):
            if isinstance(default, int):
                desc.integer_range = [IntegerRange(from_value=int(value_range[0]), to_value=int(value_range[1]), step=1)]
            elif isinstance(default, float):
                desc.floating_point_range = [FloatingPointRange(from_value=float(value_range[0]), to_value=float(value_range[1]), step=0.0)]
        self.parameter_descriptions[name] = desc
        return self.declare_parameter(name, default, desc)

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    # -- public state -------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        """True between a successful activate and the next deactivate/shutdown/error."""
        return self._active

    @property
    def lifecycle_state(self) -> str:
        """The current lifecycle state's label: unconfigured, inactive, active, finalized, ..."""
        return self._state_machine.current_state[1]

    def idle(self) -> bool:
        """No input queued or being processed by the worker."""
        return self._slot.idle()

    # -- inputs (kept subscriptions, gated) -------------------------------------------------------
    def open_input(self, msg_type, topic: str, callback, qos, raw: bool = False, count_lost: bool = False) -> None:
        """Let `callback` receive `topic` while the node is active (call in activate_io).

        The subscription is created the first time and kept for the node's life (see the module
        docstring); closing an input only closes its gate. count_lost: the node's main input
        (one publisher): messages that never reached the callback count as lost."""
        key = (msg_type, topic, _qos_key(qos), raw)
        entry = self._inputs.get(key)
        if entry is None:
            entry = _Input()
            entry.subscription = self.create_subscription(msg_type, topic, entry.deliver, qos, raw=raw)
            self._inputs[key] = entry
        entry.reopen(callback, self._count_lost if count_lost else None)

    # -- publishers (kept) ---------------------------------------------------------------------------
    def create_lifecycle_publisher(self, msg_type, topic, qos_profile, **kwargs):
        """rclpy's, but kept for the node's life and reused (see the module docstring)."""
        key = (msg_type, topic, _qos_key(qos_profile))
        pub = self._kept_publishers.get(key)
        if pub is None:
            pub = self._kept_publishers[key] = super().create_lifecycle_publisher(msg_type, topic, qos_profile, **kwargs)
        else:
            self._managed_entities.add(pub)
        return pub

    def destroy_lifecycle_publisher(self, publisher) -> bool:
        """Switch the publisher off and keep it (it is destroyed with the node)."""
        publisher.on_deactivate(None)
        self._managed_entities.discard(publisher)
        return True

    def close_inputs(self) -> None:
        for entry in self._inputs.values():
            entry.open = False

    # -- to be provided by the nodes ------------------------------------------------------------
    def configure_core(self) -> None:
        """Build models and publishers; raise with a clear message on failure."""

    def release_core(self) -> None:
        """Release everything configure_core built; must be safe on a half-built node."""

    def activate_io(self) -> None:
        """Open the inputs (open_input); start what runs only while active."""

    def deactivate_io(self) -> None:
        """Stop what activate_io started besides the inputs (the base node closes those)."""

    def process(self, item: Any) -> None:
        """Handle one input (called on the worker thread)."""

    def diagnostic_values(self) -> dict[str, str]:
        return {}

    # -- lifecycle ----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.configure_core()
        except Exception as exc:  # any failure must leave the node unconfigured, not half-built
            self.last_error = str(exc) or exc.__class__.__name__
            self.get_logger().error(f"configure failed: {self.last_error}")
            self.get_logger().debug(traceback.format_exc())
            self._safe_release()
            return TransitionCallbackReturn.FAILURE
        self.last_error = ""
        self.stats = NodeStats()
        if self._diag_pub is None:  # kept for the node's life, like the timer
            self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._configured = True
        period = float(self.param("diagnostics_period"))
        if self._diag_timer is None:  # kept for the node's life (see the module docstring)
            self._diag_timer = self.create_timer(period, self._publish_diagnostics)
        else:
            self._diag_timer.timer_period_ns = int(period * 1e9)
            self._diag_timer.reset()
        self.get_logger().info("configured")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._slot.start()
            self.activate_io()
        except Exception as exc:
            self.last_error = str(exc)
            self.get_logger().error(f"activate failed: {exc}")
            self._stop_input()
            return TransitionCallbackReturn.FAILURE
        self._active = True
        self.get_logger().info("activated")
        return super().on_activate(state)

    def _stop_input(self) -> None:
        """Close the inputs, stop what activate_io started, and let the frame in progress end."""
        self._active = False
        self.close_inputs()
        try:
            self.deactivate_io()
        except Exception as exc:
            self.get_logger().error(f"deactivate_io failed: {exc}")
        if not self._slot.stop(self.FRAME_WAIT_S):
            self.get_logger().warning(f"a frame is still being processed after {self.FRAME_WAIT_S:.1f} s; "
                                      "it finishes without output")

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_input()
        self.get_logger().info("deactivated")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.get_logger().info("cleaned up")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_input()
        self._teardown()
        self.get_logger().info(f"shut down (from {state.label})")
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error processing: releasing resources (last error: {self.last_error})")
        self._stop_input()
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _teardown(self) -> None:
        with self.frame_lock:  # waits for a frame still in progress: nothing is released under it
            self._safe_release()
        self._configured = False

    def _safe_release(self) -> None:
        try:
            self.release_core()
        except Exception as exc:  # releasing must never take the node down
            self.get_logger().error(f"release failed: {exc}")

    def destroy_node(self) -> None:
        """Also ends the worker thread (a node destroyed without a lifecycle shutdown)."""
        self._active = False
        self.close_inputs()
        self._slot.stop(1.0)
        super().destroy_node()

    def shutdown_lifecycle(self) -> bool:
        """Run the lifecycle shutdown transition from whatever state the node is in (signals,
        composition exit). True once the node is finalized."""
        self.request_transition("shutdown")
        return self.lifecycle_state == "finalized"

    # -- input path ---------------------------------------------------------------------------
    def enqueue(self, item: Any) -> None:
        """Subscription callbacks call this; the worker thread gets only the newest item."""
        if not self._active:
            return
        self.stats.received += 1
        self.stats.input.tick()
        self._slot.put(item)

    def _count_lost(self, n: int) -> None:
        self.stats.lost += n

    def _count_drop(self) -> None:
        self.stats.dropped += 1

    def _handle(self, item: Any) -> None:
        start = time.perf_counter()
        try:
            with self.frame_lock:
                self.process(item)
        except InputError as exc:
            self.stats.bad_input += 1
            self.get_logger().error(f"skipping input: {exc}", throttle_duration_sec=2.0)
        except Exception as exc:  # a bug on one frame must not kill the worker
            self.stats.bad_input += 1
            self.get_logger().error(f"processing failed: {exc!r}\n{traceback.format_exc()}", throttle_duration_sec=5.0)
        finally:
            self.stats.add_time(time.perf_counter() - start)

    def published(self, count: int = 1) -> None:
        for _ in range(count):
            self.stats.output.tick()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once no input is queued or being processed (tests, bag tools)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.005)
        return False

    # -- diagnostics --------------------------------------------------------------------------
    def diagnostic_status(self) -> DiagnosticStatus:
        med, mx = self.stats.processing_ms()
        in_rate, out_rate = self.stats.input.rate(), self.stats.output.rate()
        level, message = DiagnosticStatus.OK, "ok"
        if not self._active:
            message = "inactive"
        elif med == med and med > self.param("error_processing_ms"):
            level, message = DiagnosticStatus.ERROR, f"processing {med:.1f} ms (median) is above error_processing_ms"
        elif med == med and med > self.param("warn_processing_ms"):
            level, message = DiagnosticStatus.WARN, f"processing {med:.1f} ms (median) is above warn_processing_ms"
        elif self.stats.drop_ratio() > self.param("warn_drop_ratio"):
            level, message = DiagnosticStatus.WARN, (
                f"dropping {100 * self.stats.drop_ratio():.0f}% of input frames "
                f"({self.stats.dropped} replaced by newer ones, {self.stats.lost} lost before the callback)")
        elif self.param("min_input_rate") > 0 and in_rate < self.param("min_input_rate"):
            level, message = DiagnosticStatus.WARN, f"input rate {in_rate:.1f} Hz is below min_input_rate"
        values = {
            "input_rate_hz": f"{in_rate:.2f}",
            "output_rate_hz": f"{out_rate:.2f}",
            "processing_ms_median": f"{med:.2f}",
            "processing_ms_max": f"{mx:.2f}",
            "received": str(self.stats.received),
            "processed": str(self.stats.processed),
            "dropped": str(self.stats.dropped),
            "lost_before_callback": str(self.stats.lost),
            "bad_input": str(self.stats.bad_input),
        }
        values.update(self.diagnostic_values())
        status = DiagnosticStatus(level=level, name=f"sentin_ros: {self.get_fully_qualified_name()}", message=message)
        status.hardware_id = "sentin_ros"
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        return status

    def _publish_diagnostics(self) -> None:
        if self._diag_pub is None or not self._configured:
            return
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [self.diagnostic_status()]
        self._diag_pub.publish(msg)
