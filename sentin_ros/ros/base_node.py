"""Lifecycle plumbing shared by the sentin_ros nodes.

Build in configure, connect in activate, disconnect in deactivate, release in cleanup/shutdown.
A failed configure releases whatever was built and leaves the node unconfigured, with the
reason in the log and in `last_error`. Messages are handed to a worker thread that only ever
processes the newest one; replaced messages are counted as dropped.
"""
from __future__ import annotations

import time
import traceback
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from ..core.stats import NodeStats, SequenceGaps
from .latest_slot import LatestSlot


class InputError(ValueError):
    """Bad input: logged (throttled), the frame is skipped, the node keeps running."""


class PerceptionNode(LifecycleNode):
    def __init__(self, node_name: str, **kwargs):
        super().__init__(node_name, **kwargs)
        #: name -> descriptor of every parameter this node declares (docs, checks), in declaration order
        self.parameter_descriptions: dict[str, ParameterDescriptor] = {}
        self.declare("diagnostics_period", 1.0, "Seconds between /diagnostics messages.", (0.05, 60.0))
        self.declare("warn_processing_ms", 50.0, "Median processing time above which diagnostics say WARN (ms).", (0.0, 1e5))
        self.declare("error_processing_ms", 200.0, "Median processing time above which diagnostics say ERROR (ms).", (0.0, 1e5))
        self.declare("warn_drop_ratio", 0.5, "Dropped/received frame ratio above which diagnostics say WARN.", (0.0, 1.0))
        self.declare("min_input_rate", 0.0, "Input rate (Hz) below which an active node says WARN; 0 disables.", (0.0, 1000.0))
        self.stats = NodeStats()
        self._gaps = SequenceGaps()
        self.last_error = ""
        self._slot: LatestSlot | None = None
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
        slot = self._slot
        return slot is None or slot.idle()

    # -- to be provided by the nodes ------------------------------------------------------------
    def configure_core(self) -> None:
        """Build models and publishers; raise with a clear message on failure."""

    def release_core(self) -> None:
        """Release everything configure_core built; must be safe on a half-built node."""

    def activate_io(self) -> None:
        """Create subscriptions."""

    def deactivate_io(self) -> None:
        """Destroy subscriptions."""

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
        self._gaps = SequenceGaps()
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(float(self.param("diagnostics_period")), self._publish_diagnostics)
        self._slot = LatestSlot(self._handle, self._count_drop, name=f"{self.get_name()}_worker")
        self.get_logger().info("configured")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._gaps = SequenceGaps()  # what was published while inactive is not lost
        try:
            self._slot.start()
            self.activate_io()
        except Exception as exc:
            self.last_error = str(exc)
            self.get_logger().error(f"activate failed: {exc}")
            self._slot.stop()
            self.deactivate_io()
            return TransitionCallbackReturn.FAILURE
        self._active = True
        self.get_logger().info("activated")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self.deactivate_io()
        if self._slot is not None:
            self._slot.stop()
        self.get_logger().info("deactivated")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.get_logger().info("cleaned up")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self.deactivate_io()
        if self._slot is not None:
            self._slot.stop()
        self._teardown()
        self.get_logger().info("shut down")
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error processing: releasing resources (last error: {self.last_error})")
        self._active = False
        self.deactivate_io()
        if self._slot is not None:
            self._slot.stop()
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _teardown(self) -> None:
        self._safe_release()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None
        self._slot = None

    def _safe_release(self) -> None:
        try:
            self.release_core()
        except Exception as exc:  # releasing must never take the node down
            self.get_logger().error(f"release failed: {exc}")

    # -- input path ---------------------------------------------------------------------------
    def enqueue_with_info(self, msg: Any, info: dict) -> None:
        """Subscription callback with rmw message info: also counts what never arrived."""
        self.stats.lost += self._gaps.update(info.get("publication_sequence_number"))
        self.enqueue(msg)

    def enqueue(self, item: Any) -> None:
        """Subscription callbacks call this; the worker thread gets only the newest item."""
        self.stats.received += 1
        self.stats.input.tick()
        slot = self._slot
        if slot is not None and self._active:
            slot.put(item)

    def _count_drop(self) -> None:
        self.stats.dropped += 1

    def _handle(self, item: Any) -> None:
        start = time.perf_counter()
        try:
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
        if self._diag_pub is None:
            return
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [self.diagnostic_status()]
        self._diag_pub.publish(msg)
