"""sentin_ros: on-device affect and attention perception for ROS 2.

Layout (the pipeline, in order; imports only point down, test/test_layout.py checks it):
  runtime/    ROS-free LiteRT runtime: LiteModel, ModelOptions, delegates, (de)quantization
  media/      ROS-free frames: source loader (video, folder, camera), camera, overlay, synthetic clip
  core/       ROS-free face core: frames -> tracked faces -> crops, head pose, geometry and eye features
  inference/  ROS-free emotion / stress / gaze models and their per-face trackers
  pipeline.py the whole pipeline in one process without ROS
  ros/        lifecycle nodes, message converters (convert/), QoS, graph builder, composition
  tools/      bags/, eval/, bench/, demo, faces, params_doc
  cli.py      `sentin-ros`

The generated interfaces (sentin_ros.msg / sentin_ros.srv) are installed into the same module
by ament/rosidl; extending __path__ lets a source checkout find them in the environment's
site-packages as well.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
