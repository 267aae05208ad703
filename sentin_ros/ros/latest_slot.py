"""Keep only the newest message; one worker thread processes it. Older unprocessed ones are dropped.

One worker per slot, always: `stop()` ends the worker's loop once the item in progress is done
(waiting for that up to a timeout), and a `start()` while that item is still being processed
lets the same thread carry on instead of starting a second one. The thread gives up its place
(`_thread = None`) under the lock in the same step in which it decides to exit, so `start()`
either finds it still looping or starts a new one, never both.
"""
from __future__ import annotations

import threading
import time
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

    @property
    def running(self) -> bool:
        with self._cond:
            return self._running

    def start(self) -> None:
        with self._cond:
            self._running = True
            if self._thread is not None:  # still looping (maybe finishing an item): it carries on
                self._cond.notify_all()
                return
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def put(self, item: Any) -> None:
        with self._cond:
            if not self._running:
                return
            if self._item is not None:
                self._on_drop()  # a newer frame replaces one that was never processed
            self._item = item
            self._cond.notify_all()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Take no more items, drop a queued one, and wait up to `timeout` s for the item in
        progress. True if the worker has exited; False if it is still busy (it exits when done,
        unless start() is called first, in which case it simply goes on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._running = False
            self._item = None
            self._cond.notify_all()
            if self._thread is threading.current_thread():
                return False  # called from the handler itself: cannot wait for ourselves
            while self._thread is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def idle(self) -> bool:
        with self._cond:
            return self._item is None and not self._busy

    def busy(self) -> bool:
        """An item is being processed right now."""
        with self._cond:
            return self._busy

    def _loop(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._cond:
                    while self._running and self._item is None:
                        self._cond.wait()
                    if not self._running:
                        self._thread = None  # decided to exit: in the same step, so start() starts a new one
                        return
                    item, self._item = self._item, None
                    self._busy = True
                try:
                    self._handler(item)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:  # on the way out (also if the handler raised): give up the place under the lock
            with self._cond:
                if self._thread is me:
                    self._thread = None
                self._cond.notify_all()
