"""The "camera computer" side of test_two_hosts.py, run inside its network namespace: drives the
face node (here) and the emotion node (on the other host) to active through their lifecycle
services, publishes the astronaut at 10 Hz, and checks the Emotion messages that come back.
Prints one JSON line.

    python test/two_host_driver.py NAMESPACE FRAMES
"""
from __future__ import annotations

import json
import sys
import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from sentin_ros.media.synthetic import astronaut_rgb, place_face
from sentin_ros.msg import Emotion
from sentin_ros.ros.convert.images import array_to_image
from sentin_ros.ros.qos import output_qos


def main() -> int:
    ns, frames = sys.argv[1], int(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node("two_host_driver", namespace=ns)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin_until(pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        return pred()

    result = {"transitions": {}}
    for name in ("emotion_node", "face_node"):
        client = node.create_client(ChangeState, f"/{ns}/{name}/change_state")
        if not client.wait_for_service(timeout_sec=60.0):
            result["error"] = f"no /{ns}/{name}/change_state"
            print(json.dumps(result), flush=True)
            return 1
        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            req = ChangeState.Request()
            req.transition.id = tid
            future = client.call_async(req)
            spin_until(future.done, 60.0)
            result["transitions"].setdefault(name, []).append(bool(future.done() and future.result().success))
    got: list = []
    node.create_subscription(Emotion, f"/{ns}/emotion", got.append, output_qos(100))
    pub = node.create_publisher(Image, f"/{ns}/image", 10)
    spin_until(lambda: pub.get_subscription_count() > 0, 30.0)
    frame = place_face(astronaut_rgb())
    sent = set()
    for _ in range(frames):
        header = Header(frame_id="camera_optical")
        header.stamp = node.get_clock().now().to_msg()
        sent.add((header.stamp.sec, header.stamp.nanosec))
        pub.publish(array_to_image(frame, "bgr8", header))
        spin_until(lambda: False, 0.1)
    spin_until(lambda: len(got) >= frames // 2, 20.0)
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in got]
    result.update(sent=len(sent), emotions=len(got), with_image_stamp=sum(s in sent for s in stamps),
                  frame_ids=sorted({m.header.frame_id for m in got}), labels=sorted({m.label for m in got}))
    print(json.dumps(result), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
