"""`sentin-ros bench` (cli.py): in-process and ROS-graph frame rates, per-stage and per-model times,
accuracy on FER2013, the `fer` peer; common.py (machine, frames, timing), inprocess.py, graph.py
(the ROS graph at a rate), models.py (per-model times, the peer)."""
