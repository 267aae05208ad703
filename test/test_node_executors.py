"""ros/node_executors.py: one executor and thread per node, through real rclpy."""
import threading
import time

import rclpy
from rclpy.node import Node

from sentin_ros.ros.node_executors import NodeExecutors
from test.ros_harness import _fresh_domain


def test_a_slow_callback_in_one_node_does_not_hold_up_another():
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=_fresh_domain())
    slow, fast = Node("slow_node", context=ctx), Node("fast_node", context=ctx)
    release = threading.Event()
    ticks = []
    slow.create_timer(0.01, lambda: release.wait(5.0))  # blocks its own node's executor
    fast.create_timer(0.01, lambda: ticks.append(time.monotonic()))
    ex = NodeExecutors(ctx, log=lambda _m: None)
    try:
        ex.add_node(slow)
        ex.add_node(fast)
        assert not ex.alive()  # nothing spins before start()
        ex.start()
        deadline = time.monotonic() + 3.0
        while len(ticks) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(ticks) >= 20 and ex.alive()
        ex.remove_node(fast)  # its thread stops; the others keep spinning
        assert ex.get_nodes() == [slow] and ex.alive()
    finally:
        release.set()
        ex.shutdown(timeout_sec=2.0)
        assert not ex.alive()
        for n in (slow, fast):
            n.destroy_node()
        rclpy.shutdown(context=ctx)
