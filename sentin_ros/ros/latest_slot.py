"""Keep only the newest message; a worker thread processes it. Older unprocessed ones are dropped."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LatestSlot:
    def __init__(self, handler: Callable[[Any], None], on_drop: Callable[[], None], name: str = "worker"):
        self._handler = handler
        self._on_drop = on_drop
        self._cond = threading.Condition()
        self._item: Any = None
        self._running = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self._name = name

    def start(self) -> None:
        with self._cond:
            if self._running:
                return
            self._running = True
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self._on_drop()  # a newer frame replaces one that was never processed
            self._item = item
            self._cond.notify()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._running = False
            self._item = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def idle(self) -> bool:
        with self._cond:
            return self._item is None and not self._busy

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._running and self._item is None:
                    self._cond.wait()
                if not self._running:
                    return
                item, self._item = self._item, None
                self._busy = True
            try:
                self._handler(item)
            finally:
                with self._cond:
                    self._busy = False
