"""One single-threaded executor per node, each spinning on its own thread.

The composition used one MultiThreadedExecutor for every node. rclpy's executors rebuild their
wait set from every entity of every node they hold before each callback. A lifecycle node
brings about fifteen services and the QoS event handlers of each publisher and subscription,
so with five nodes that bookkeeping took more Python time per frame than the models: 4.5 s of
CPU in an 8 s replay at 30 fps, against 0.6 s of model invokes (yappi). It holds the GIL the
nodes' workers need. With an executor per node, a callback only walks its own node's entities,
and one node's slow transition (loading a model) does not hold up the others' callbacks.
(rclpy's EventsExecutor would cost less still, but in this rclpy it deadlocks when a node
creates a publisher from another thread, as every lifecycle configure does.)
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor


class NodeExecutors:
    """add_node / remove_node / start / alive / shutdown over one executor and thread per node."""

    def __init__(self, context, log: Callable[[str], None] = print):
        self.context = context
        self.log = log
        self._spinning: dict = {}  # node -> (executor, thread)
        self._started = False
        self._stopping: set = set()  # executors asked to stop: their teardown races are expected

    def add_node(self, node) -> None:
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)
        thread = threading.Thread(target=self._spin, args=(executor, node.get_name()), name=f"executor_{node.get_name()}", daemon=True)
        self._spinning[node] = (executor, thread)
        if self._started:
            thread.start()

    def remove_node(self, node) -> None:
        executor, thread = self._spinning.pop(node)
        self._stopping.add(executor)
        executor.remove_node(node)
        executor.shutdown(timeout_sec=2.0)
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(2.0)

    def get_nodes(self) -> list:
        return list(self._spinning)

    def start(self) -> None:
        self._started = True
        for _, thread in self._spinning.values():
            if not thread.is_alive():
                thread.start()

    def alive(self) -> bool:
        """Every node's executor thread is spinning."""
        return self._started and all(thread.is_alive() for _, thread in self._spinning.values())

    def shutdown(self, timeout_sec: float = 2.0) -> None:
        for executor, _ in self._spinning.values():
            self._stopping.add(executor)
            executor.shutdown(timeout_sec=timeout_sec)
        for _, thread in self._spinning.values():
            if thread.is_alive():
                thread.join(timeout_sec)

    def _spin(self, executor, name: str) -> None:
        try:
            executor.spin()
        except (ExternalShutdownException, KeyboardInterrupt):
            pass
        except Exception as exc:
            if executor in self._stopping:  # e.g. a handle destroyed while the last wait returned
                return
            # must not happen (base_node guards transitions and inputs): say it loudly
            self.log(f"executor of {name} stopped: {exc!r}")
            raise
