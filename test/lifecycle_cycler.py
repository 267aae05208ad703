"""Cycle lifecycle nodes N times from a process of its own (as `ros2 lifecycle set` would, only
faster): every cycle sends each transition of TRANSITIONS (default deactivate,activate) to all
of them at once and waits for the answers before the next. Prints one JSON line: cycles done,
refused or unanswered requests.

    python test/lifecycle_cycler.py CYCLES [--transitions deactivate,cleanup,configure,activate] /ns/face_node ...
"""
from __future__ import annotations

import json
import sys
import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.executors import SingleThreadedExecutor


def main() -> int:
    cycles, names = int(sys.argv[1]), sys.argv[2:]
    labels = ["deactivate", "activate"]
    if names[:1] == ["--transitions"]:
        labels, names = names[1].split(","), names[2:]
    ids = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
           "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP}
    rclpy.init()
    node = rclpy.create_node("lifecycle_cycler")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    clients = [node.create_client(ChangeState, f"{n}/change_state") for n in names]
    for c in clients:
        if not c.wait_for_service(timeout_sec=30.0):
            print(json.dumps({"error": f"no service {c.srv_name}"}), flush=True)
            return 1
    deadline = time.monotonic() + 1.0  # let the clients match the servers they just discovered
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    refused, unanswered, done = 0, 0, 0
    for _ in range(cycles):
        for transition in (ids[label] for label in labels):
            futures = []
            for c in clients:
                req = ChangeState.Request()
                req.transition.id = transition
                futures.append(c.call_async(req))
            deadline = time.monotonic() + 60.0
            while not all(f.done() for f in futures) and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.05)
            for f in futures:
                if not f.done():
                    unanswered += 1
                elif not f.result().success:
                    refused += 1
        done += 1
        if unanswered:
            break
    print(json.dumps({"cycles": done, "refused": refused, "unanswered": unanswered}), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
