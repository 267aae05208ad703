"""pip metadata for the embedded set-up (`pip install -e .` gives the `sentin-ros` command).

In a ROS 2 workspace the package is built by ament_cmake (CMakeLists.txt), which generates the
interfaces and installs this Python code into the same `sentin_ros` module.
"""
from setuptools import find_packages, setup

setup(
    name="sentin_ros",
    version="0.1.0",
    packages=find_packages(include=["sentin_ros", "sentin_ros.*"]),
    python_requires=">=3.10",
    install_requires=["numpy<2", "opencv-python", "mediapipe==0.10.21", "ai-edge-litert", "pyyaml", "rosbags"],
    entry_points={"console_scripts": [
        "sentin-ros = sentin_ros.cli:main",
        # one lifecycle node per process (the embedded counterpart of `ros2 run sentin_ros <node>`)
        "sentin-source-node = sentin_ros.ros.source_node:main",
        "sentin-face-node = sentin_ros.ros.face_node:main",
        "sentin-emotion-node = sentin_ros.ros.emotion_node:main",
        "sentin-stress-node = sentin_ros.ros.stress_node:main",
        "sentin-gaze-node = sentin_ros.ros.gaze_node:main",
        "sentin-biometrics-node = sentin_ros.ros.biometrics_node:main",
        "sentin-debug-view-node = sentin_ros.ros.debug_view_node:main",
    ]},
)
