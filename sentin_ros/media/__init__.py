"""Frames in and out, ROS-free: one source loader (video file, image folder, camera), the default
pinhole camera, overlay drawing, and the synthetic astronaut clip."""
