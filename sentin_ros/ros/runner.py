"""Run one node in its own process (console entry points, `ros2 run`)."""
from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

from .transport import use_shipped_dds_profile


def run_single(node_cls, args=None) -> None:
    use_shipped_dds_profile()
    rclpy.init(args=args)
    node = node_cls()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
