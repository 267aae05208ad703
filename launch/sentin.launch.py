"""sentin_ros pipeline: face -> emotion, stress, gaze as lifecycle nodes (+ optional source, debug view, and the opt-in biometrics node).

    ros2 launch sentin_ros sentin.launch.py image_topic:=/camera/image_raw
    ros2 launch sentin_ros sentin.launch.py namespace:=cam1 image_topic:=/cam1/image_raw models:=face,emotion
    ros2 launch sentin_ros sentin.launch.py video:=/path/clip.mp4 debug_image:=true
    ros2 launch sentin_ros sentin.launch.py models:=face,emotion,stress,gaze,biometrics   # opt-in soft biometrics

Every node reads the one parameter file (`params_file`, default share/sentin_ros/config/sentin.yaml);
the launch arguments override a few of its values. Lifecycle (sentin_ros/ros/startup.py, fed by
launch_ros transition events): each node's start-up is driven once: every perception node is
configured, then activated once it reports inactive; the source node, if any, is configured only
once every started perception node is active (so no frame goes unheard), then activated. After
that the nodes' transitions are the user's (`ros2 lifecycle set` is never answered by
re-driving a node). On exit every node is asked for the lifecycle `shutdown` transition (and
each executable runs it on the SIGINT launch sends anyway). A node whose model file is missing
is left out with the reason logged, as in the one-process composition (`sentin-ros run`), which
takes the same YAML.
"""
from __future__ import annotations

import os

from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler, SetEnvironmentVariable
from launch.event_handlers import OnShutdown
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
    ("camera_info_topic", "", "CameraInfo topic of the face, gaze and source nodes. Empty: the sibling camera_info of image_topic "
     "(/camera/image_raw -> /camera/camera_info), as image_transport does; 'none': no CameraInfo (default pinhole)."),
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


TRANSITIONS = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE}


def _change_state(node: LifecycleNode, transition: int) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))


def _on_transition(context, plan, nodes, names, key):
    """A node's transition event -> the start-up requests it leads to (none once its start-up is over)."""
    event = context.locals.event
    before = len(plan.log)
    requests = plan.on_transition(key, event.start_state, event.goal_state)
    actions = [LogInfo(msg=f"[sentin_ros] {line}") for line in plan.log[before:]]
    for target, transition in requests:
        actions.append(LogInfo(msg=f"[sentin_ros] {names[target]}: {transition}"))
        actions.append(_change_state(nodes[target], TRANSITIONS[transition]))
    return actions


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
        image_topic=arg["image_topic"], camera_info_topic=arg["camera_info_topic"] or None, compressed=_truthy(arg["compressed"]), delegate=arg["delegate"] or None,
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

    from sentin_ros.ros.startup import StartupPlan

    names = {key: f"/{namespace}/{BY_KEY[key].node_name}" if namespace else f"/{BY_KEY[key].node_name}" for key in nodes}
    plan = StartupPlan(tuple(nodes))
    for key, node in nodes.items():
        actions.append(node)
        actions.append(RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node,
            entities=[OpaqueFunction(function=_on_transition, args=[plan, nodes, names, key])])))
    # On exit: the lifecycle shutdown of every node (any of the three shutdown ids is accepted
    # from any state by the nodes; launch's SIGINT makes each executable run it too).
    actions.append(RegisterEventHandler(OnShutdown(on_shutdown=[
        _change_state(node, Transition.TRANSITION_ACTIVE_SHUTDOWN) for node in nodes.values()])))
    for key, transition in plan.begin():
        actions.append(_change_state(nodes[key], TRANSITIONS[transition]))
    return actions


def _dds_profile() -> list:
    """The shipped Fast DDS profile (shared memory large enough for camera frames: without it most
    best-effort frames between the node processes are lost), unless the user set one or another RMW."""
    if not os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps"):
        return []
    if any(os.environ.get(v) for v in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")):
        return []
    profile = PathJoinSubstitution([FindPackageShare("sentin_ros"), "config", "fastdds.xml"])
    return [SetEnvironmentVariable(v, profile) for v in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")]


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=description) for name, default, description in ARGUMENTS]
    return LaunchDescription([*declared, *_dds_profile(), OpaqueFunction(function=_setup)])
