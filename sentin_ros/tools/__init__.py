"""Offline tools on top of the nodes: bags (make, eval, info), evaluation, benchmark, demo, parameter docs."""
