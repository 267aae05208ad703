"""Run one node in its own process (console entry points, `ros2 run`, the launch file).

SIGINT/SIGTERM (launch sends SIGINT on exit; a terminal's Ctrl-C reaches the whole process
group, so a node often gets two) request the lifecycle shutdown transition: on_shutdown runs
and logs, the node's threads stop, and only then are the executor and rclpy shut down. A second
signal during that is harmless; the exit code is 0.

A SingleThreadedExecutor, as each node of the composition has (node_executors.py): rclpy's
MultiThreadedExecutor spends enough Python time per callback, holding the GIL the node's worker
needs, that a face node process fed 30 frames/s lost 54 of 150 before its callback (depth-1
best-effort reader), against 0 of 150 with this one (`make bench`, one process per node).
"""
from __future__ import annotations

import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from .stop_signals import StopSignals
from .transport import use_shipped_dds_profile


def _spin(executor, stop: StopSignals) -> None:
    try:
        executor.spin()
    except (ExternalShutdownException, KeyboardInterrupt):
        pass
    except Exception as exc:  # the executor died: stop the process rather than idle silently
        print(f"[sentin_ros] executor stopped: {exc!r}", flush=True)
    finally:
        stop.stop("executor ended")


def run_single(node_cls, args=None) -> int:
    stop = StopSignals()
    use_shipped_dds_profile()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = node_cls()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=_spin, args=(executor, stop), name="sentin_executor", daemon=True)
    spinner.start()
    while not stop.wait(0.2):
        pass
    try:
        node.get_logger().info(f"{stop.reason}: shutting down")
        node.shutdown_lifecycle()
    finally:
        executor.shutdown(timeout_sec=2.0)
        spinner.join(2.0)
        node.destroy_node()
        rclpy.try_shutdown()
        stop.ignore_from_now_on()
    return 0
