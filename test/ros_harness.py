"""Real rclpy in one process: an executor thread, lifecycle service calls, topic collection."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
    "cleanup": Transition.TRANSITION_CLEANUP,
    "shutdown": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
}


def _fresh_domain() -> int:
    """The next ROS domain (1..100) after the current one: each harness gets a graph of its own, so
    nodes of an earlier test, still in other participants' discovery caches, are not seen; set
    in the environment too, so the processes and compositions a test starts join it."""
    current = int(os.environ.get("ROS_DOMAIN_ID", "1") or 1)
    domain = current % 100 + 1
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    return domain


def _spin_until(executor, stop: threading.Event) -> None:
    # Not executor.spin(): its shutdown destroys the guard condition a spinning thread may be
    # waiting on. This loop is stopped first, then the executor is shut down.
    while not stop.is_set() and executor.context.ok():
        executor.spin_once(timeout_sec=0.05)


class RosHarness:
    def __init__(self):
        self.domain_id = _fresh_domain()
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.node = Node("test_harness", context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.node)
        # Clients are kept, not destroyed after each call: destroying one while the executor's
        # other threads build their wait sets can stop the executor (rclpy InvalidHandle).
        self._clients: dict = {}
        self._publishers: dict = {}  # likewise
        self._side: list = []  # (node, executor, thread, stop) of removable subscriptions
        self._closing = threading.Event()
        self._thread = threading.Thread(target=_spin_until, args=(self.executor, self._closing), daemon=True)
        self._thread.start()

    def add(self, node) -> None:
        self.executor.add_node(node)

    def call(self, srv_type, name: str, request, timeout: float = 30.0):
        client = self._clients.get((srv_type, name))
        if client is None:
            client = self._clients[(srv_type, name)] = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"service {name} not available")
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"service {name} did not answer")
            time.sleep(0.005)
        return future.result()

    def publisher(self, msg_type, topic: str, qos=10):
        """The harness's publisher on `topic`, kept for its life (see the clients above)."""
        key = (msg_type, topic)
        if key not in self._publishers:
            self._publishers[key] = self.node.create_publisher(msg_type, topic, qos)
        return self._publishers[key]

    def subscribe_removably(self, msg_type, topic: str, callback, qos=10) -> Callable[[], None]:
        """A subscription that can be taken away again; returns the function that does it. It
        lives on a node with its own executor, which is stopped before the node is destroyed:
        nothing is destroyed while an executor thread may be building a wait set from it."""
        node = Node(f"test_harness_side{len(self._side)}", context=self.context)
        node.create_subscription(msg_type, topic, callback, qos)
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)
        stop = threading.Event()
        thread = threading.Thread(target=_spin_until, args=(executor, stop), daemon=True)
        thread.start()
        entry = (node, executor, thread, stop)
        self._side.append(entry)

        def remove() -> None:
            if entry in self._side:
                self._side.remove(entry)
                _stop_side(entry)
        return remove

    def transition(self, node_name: str, transition: str) -> bool:
        req = ChangeState.Request()
        req.transition.id = TRANSITIONS[transition]
        return bool(self.call(ChangeState, f"/{node_name}/change_state", req).success)

    def state(self, node_name: str) -> str:
        return self.call(GetState, f"/{node_name}/get_state", GetState.Request()).current_state.label

    def collect(self, msg_type, topic: str, qos=10) -> list:
        got: list = []
        self.node.create_subscription(msg_type, topic, got.append, qos)
        return got

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def close(self) -> None:
        for entry in self._side:
            _stop_side(entry)
        self._closing.set()
        self._thread.join(10.0)
        self.executor.shutdown(timeout_sec=2.0)
        for n in list(self.executor.get_nodes()):
            n.destroy_node()
        rclpy.shutdown(context=self.context)


def _stop_side(entry) -> None:
    node, executor, thread, stop = entry
    stop.set()
    thread.join(2.0)
    executor.shutdown(timeout_sec=2.0)
    node.destroy_node()
