"""SIGINT/SIGTERM as a stop request, not an exception: the node executables and `sentin-ros run`
wait for one, then run every node's lifecycle shutdown and exit 0.

rclpy's own handler (SignalHandlerOptions.ALL) shuts the context down at the first signal, so a
lifecycle shutdown after it can no longer publish its transition event, and Python's default
SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be (a second Ctrl-C
in the middle of the teardown, as a terminal's Ctrl-C plus launch's own SIGINT give, printed a
traceback and exited -2). Here the first signal sets `event`; later ones are only noted.
"""
from __future__ import annotations

import signal
import sys
import threading


class StopSignals:
    def __init__(self, signals=(signal.SIGINT, signal.SIGTERM)):
        self.event = threading.Event()
        self.reason = ""
        self.count = 0
        self._previous = {}
        for sig in signals:
            try:
                self._previous[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: nothing to install (a caller sets stop())
                pass

    def _on_signal(self, signum, frame) -> None:
        self.count += 1
        if self.event.is_set():
            print(f"[sentin_ros] {signal.Signals(signum).name} again: already shutting down", file=sys.stderr, flush=True)
            return
        self.reason = signal.Signals(signum).name
        self.event.set()

    def stop(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def ignore_from_now_on(self) -> None:
        """Call once the teardown is done: a signal arriving while the interpreter exits is
        ignored. (Python resets handlers it installed to SIG_DFL at exit, and SIG_DFL for SIGINT
        kills with -2; SIG_IGN is left in place.)"""
        for sig in self._previous:
            try:
                signal.signal(sig, signal.SIG_IGN)
            except ValueError:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        return self.event.wait(timeout)

    def is_set(self) -> bool:
        return self.event.is_set()
