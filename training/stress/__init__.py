"""Stress model: data generator, training, conversion and checks (see models/affective_tcn_int8.md)."""
