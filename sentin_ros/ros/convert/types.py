"""Message factories: the same builders make rclpy messages (nodes) or rosbags dataclasses (recorders)."""
from __future__ import annotations

import array
import importlib
from functools import cache

import numpy as np


@cache
def message_class(name: str):
    """'pkg/msg/Type' -> the rclpy message class."""
    package, kind, cls = name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), cls)


class RclpyTypes:
    """'pkg/msg/Type' -> rclpy message; sequences as rclpy stores them (array.array / numpy)."""

    def __call__(self, name: str, **fields):
        return message_class(name)(**fields)

    @staticmethod
    def floats(values) -> array.array:
        """float32[] (unbounded): array.array; assigning numpy costs a per-element check."""
        return array.array("f", np.ascontiguousarray(values, dtype=np.float32).ravel().tobytes())

    @staticmethod
    def fixed_floats(values) -> np.ndarray:
        """float32[N]."""
        return np.ascontiguousarray(values, dtype=np.float32).ravel()

    @staticmethod
    def doubles(values) -> array.array:
        """float64[] (unbounded)."""
        return array.array("d", np.ascontiguousarray(values, dtype=np.float64).ravel().tobytes())

    @staticmethod
    def octets(values) -> array.array:
        """uint8[] (unbounded)."""
        return array.array("B", np.ascontiguousarray(values, dtype=np.uint8).tobytes())


class RosbagsTypes:
    """'pkg/msg/Type' -> the rosbags typestore's dataclass; every sequence a numpy array."""

    def __init__(self, store):
        self.store = store

    def __call__(self, name: str, **fields):
        return self.store.types[name](**fields)

    @staticmethod
    def floats(values) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=np.float32).ravel()

    fixed_floats = floats

    @staticmethod
    def doubles(values) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=np.float64).ravel()

    @staticmethod
    def octets(values) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=np.uint8).ravel()


RCLPY = RclpyTypes()
