"""sentin_ros pipeline: face -> emotion, stress, gaze as lifecycle nodes (+ optional source, debug view, and the opt-in biometrics node).

    ros2 launch sentin_ros sentin.launch.py image_topic:=/camera/image_raw
    ros2 launch sentin_ros sentin.launch.py namespace:=cam1 image_topic:=/cam1/image_raw models:=face,emotion
    ros2 launch sentin_ros sentin.launch.py video:=/path/clip.mp4 debug_image:=true
    ros2 launch sentin_ros sentin.launch.py models:=face,emotion,stress,gaze,biometrics   # opt-in soft biometrics

Every node reads the one parameter file (`params_file`, default share/sentin_ros/config/sentin.yaml);
the launch arguments override a few of its values. Lifecycle: every node is configured at
start and activated as soon as it reaches inactive (launch_ros lifecycle events); the source
node, if any, is configured only once the face node is active, so no frame goes unheard. A node
whose model file is missing is left out with the reason logged, as in the
one-process composition (`sentin-ros run`), which takes the same YAML.
"""
from __future__ import annotations

from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

EXECUTABLES = {"source": "source_node", "face": "face_node", "emotion": "emotion_node", "stress": "stress_node",
               "gaze": "gaze_node", "biometrics": "biometrics_node", "debug_view": "debug_view_node"}

ARGUMENTS = (
    ("image_topic", "image", "Input image topic of the face node (output of the source node when `video` is set)."),
    ("compressed", "false", "true: subscribe to sensor_msgs/CompressedImage on <image_topic>/compressed instead of raw images."),
    ("namespace", "", "Namespace of every node and relative topic (one pipeline per camera, e.g. cam1)."),
    ("models", "face,emotion,stress,gaze", "Comma-separated perception nodes to start (face is always started); add biometrics to opt in to apparent age / gender presentation (off by default)."),
    ("delegate", "", "LiteRT delegate of every model: xnnpack | gpu | edgetpu | external:<lib.so>[;key=value]. Empty: from params_file."),
    ("num_threads", "", "XNNPACK threads per model. Empty: from params_file."),
    ("params_file", PathJoinSubstitution([FindPackageShare("sentin_ros"), "config", "sentin.yaml"]),
     "ROS 2 parameter file for all nodes (every parameter documented there)."),
    ("video", "", "Optional: video file, image folder, /dev/videoN or camera index published by a source node. Empty: no source node."),
    ("debug_image", "false", "true: start the debug view node (annotated `debug_image`, drawn only while someone subscribes)."),
    ("log_level", "info", "Log level of every node (debug, info, warn, error)."),
)


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _change_state(node: LifecycleNode, transition: int) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))


def _setup(context, *args, **kwargs):
    from sentin_ros.ros.graph import BY_KEY, MODELS, GraphConfig, precheck

    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    namespace = arg["namespace"].strip("/")
    params_file = arg["params_file"]
    wanted = ["face", *[m.strip() for m in arg["models"].split(",") if m.strip() and m.strip() != "face"]]
    unknown = [m for m in wanted if m not in MODELS]
    if unknown:
        raise RuntimeError(f"models: unknown {unknown}; choose from {', '.join(MODELS)}")
    # The graph builder the one-process composition uses: YAML, then these arguments.
    graph = GraphConfig(
        params_file=params_file, namespace=namespace, models=tuple(wanted), source=arg["video"] or None,
        image_topic=arg["image_topic"], compressed=_truthy(arg["compressed"]), delegate=arg["delegate"] or None,
        num_threads=int(arg["num_threads"]) if arg["num_threads"] else None, debug_image=_truthy(arg["debug_image"]),
    )
    sections = graph.sections()
    keys = (["source"] if arg["video"] else []) + [k for k in MODELS if k in wanted]
    if graph.debug_image:
        keys.append("debug_view")

    actions, nodes = [], {}
    for key in keys:
        spec = BY_KEY[key]
        overrides = graph.overrides_for(spec)
        reason = precheck(spec, graph.parameters(sections, spec))
        if reason is not None:
            actions.append(LogInfo(msg=f"[sentin_ros] not starting {spec.node_name}: {reason}"))
            if key == "face":
                raise RuntimeError(f"the face node is required: {reason}")
            continue
        nodes[key] = LifecycleNode(
            package="sentin_ros", executable=EXECUTABLES[key], name=spec.node_name, namespace=namespace,
            parameters=[params_file, overrides], output="screen", emulate_tty=True,
            arguments=["--ros-args", "--log-level", arg["log_level"]],
        )

    for key, node in nodes.items():
        name = f"/{namespace}/{BY_KEY[key].node_name}" if namespace else f"/{BY_KEY[key].node_name}"
        actions.append(node)
        # Activate once inactive (configure succeeded); a failed configure leaves the node unconfigured, logged.
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
            entities=[LogInfo(msg=f"[sentin_ros] {name} configured; activating"),
                      _change_state(node, Transition.TRANSITION_ACTIVATE)])))
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state="activating", goal_state="active",
            entities=[LogInfo(msg=f"[sentin_ros] {name} active")])))
    # The source waits for the face node to be active; the others are configured in pipeline order.
    if "source" in nodes:
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=nodes["face"], goal_state="active",
            entities=[_change_state(nodes["source"], Transition.TRANSITION_CONFIGURE)])))
    for key, node in nodes.items():
        if key != "source":
            actions.append(_change_state(node, Transition.TRANSITION_CONFIGURE))
    return actions


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=description) for name, default, description in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_setup)])
