"""Lifecycle transitions that are safe to request at any moment (mixin of the base node).

rclpy's LifecycleNode runs a change_state request straight into rcl: a transition that is not
available from the current state raises `RCLError` ("Transition is not registered") inside the
service callback, which kills a single-node process and, in a one-process composition, the
executor thread (every node stops processing while the process lives on). Here every request
(the change_state service, `trigger_*`, `request_transition`) goes through one lock and is
checked against the transitions available now: an invalid one is refused (logged, answered
with failure). `shutdown` is accepted from any primary state (the one of the three shutdown
transitions that starts there is used) and is a no-op success on a node already finalized, so
launch, a signal handler and a user can all ask for it.
"""
from __future__ import annotations

import threading

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.lifecycle import TransitionCallbackReturn

SHUTDOWN_TRANSITIONS = (Transition.TRANSITION_UNCONFIGURED_SHUTDOWN, Transition.TRANSITION_INACTIVE_SHUTDOWN,
                        Transition.TRANSITION_ACTIVE_SHUTDOWN)
TRANSITION_LABELS = {"configure": Transition.TRANSITION_CONFIGURE, "cleanup": Transition.TRANSITION_CLEANUP,
                     "activate": Transition.TRANSITION_ACTIVATE, "deactivate": Transition.TRANSITION_DEACTIVATE,
                     "shutdown": Transition.TRANSITION_ACTIVE_SHUTDOWN}



class GuardedTransitions:
    """Mixin for a rclpy LifecycleNode; call `install_transition_guard()` right after its __init__."""

    def install_transition_guard(self) -> None:
        self._transition_lock = threading.RLock()
        # rclpy looks the service's callback up on every request, so replacing it guards them all.
        self._rclpy_change_state = self._service_change_state.callback
        self._service_change_state.callback = self._on_change_state_request

    def _resolve_transition(self, transition_id: int, label: str = "") -> int | None:
        """The transition to run for a request, or None when it is not available now."""
        available = {t[0]: t[1] for t in self._state_machine.available_transitions}
        if label:
            ids = [tid for tid, lab in available.items() if lab == label]
            return ids[0] if ids else None
        if transition_id in available:
            return transition_id
        if transition_id in SHUTDOWN_TRANSITIONS:  # shutdown from whatever primary state we are in
            ids = [tid for tid in available if tid in SHUTDOWN_TRANSITIONS]
            return ids[0] if ids else None
        return None

    def request_transition(self, transition: int | str) -> bool:
        """Run a lifecycle transition (id, or a label: configure, activate, deactivate, cleanup,
        shutdown) if it is available from the current state. Never raises: an invalid request or
        a failure inside rclpy is logged and answered False."""
        label = transition if isinstance(transition, str) else ""
        tid = TRANSITION_LABELS.get(label, 0) if label else int(transition)
        request = ChangeState.Request()
        request.transition.id = tid
        request.transition.label = "" if label in TRANSITION_LABELS else label
        return bool(self._on_change_state_request(request, ChangeState.Response()).success)

    def _on_change_state_request(self, request, response):
        with self._transition_lock:
            state = self._state_machine.current_state[1]
            wanted = request.transition.label or str(request.transition.id)
            is_shutdown = request.transition.id in SHUTDOWN_TRANSITIONS or request.transition.label == "shutdown"
            if state == "finalized" and is_shutdown:
                response.success = True  # shutdown is idempotent (launch and a signal may both ask)
                return response
            try:
                tid = self._resolve_transition(request.transition.id, request.transition.label)
            except Exception as exc:  # the state machine itself failed: answer, do not die
                tid = None
                self.get_logger().error(f"transition {wanted}: {exc}")
            if tid is None:
                self.get_logger().warning(f"transition {wanted!r} is not available from state {state!r}: refused")
                response.success = False
                return response
            inner = ChangeState.Request()
            inner.transition.id = tid
            try:
                return self._rclpy_change_state(inner, response)
            except Exception as exc:  # rclpy raises RCLError on a transition rcl refuses
                self.get_logger().error(f"transition {wanted!r} from {state!r} failed: {exc}")
                response.success = False
                return response

    def _trigger(self, label: str) -> TransitionCallbackReturn:
        ok = self.request_transition(label)
        return TransitionCallbackReturn.SUCCESS if ok else TransitionCallbackReturn.FAILURE

    # rclpy's trigger_* raise on an unavailable transition; these answer FAILURE instead.
    def trigger_configure(self):
        return self._trigger("configure")

    def trigger_cleanup(self):
        return self._trigger("cleanup")

    def trigger_activate(self):
        return self._trigger("activate")

    def trigger_deactivate(self):
        return self._trigger("deactivate")

    def trigger_shutdown(self):
        return self._trigger("shutdown")
