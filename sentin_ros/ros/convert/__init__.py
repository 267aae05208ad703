"""Messages <-> numpy and the core's dataclasses, one module per message family, both directions:

  images.py   sensor_msgs Image / CompressedImage / CameraInfo, header stamps
  faces.py    sentin_ros FaceArray / Face  <-> core.face_pipeline FrameFaces / FaceObservation
  outputs.py  sentin_ros Emotion / Stress / Gaze <-> the models' results, through field dicts

Builders take a message factory (`types.RCLPY` by default; `types.RosbagsTypes` for bag
recorders), so the nodes and the output recorder build the same messages with the same code.
"""
