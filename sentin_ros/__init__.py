"""sentin_ros: on-device affect and attention perception for ROS 2.

Layout (the pipeline, in order):
  core/       ROS-free: frames -> tracked faces -> crops, head pose, geometry and eye features
  inference/  ROS-free: LiteRT runtime (interpreters, delegates) and the emotion/stress/gaze models
  ros/        thin lifecycle nodes: parameters, QoS, message conversion, lifecycle mapping
  tools/      source clips, bags, evaluation, benchmark, demo

The generated interfaces (sentin_ros.msg / sentin_ros.srv) are installed into the same module
by ament/rosidl; extending __path__ lets a source checkout find them in the environment's
site-packages as well.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
