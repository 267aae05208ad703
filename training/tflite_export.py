"""One .tflite from a tf.function: weights frozen into constants (no resource variables; BatchNorm
folded into the convolutions), optionally full-integer INT8 calibrated on images (pixels / 255).
Shared by the training packages that export with TensorFlow (TF venv only)."""
from __future__ import annotations

import numpy as np


def to_tflite(concrete_function, calibration: np.ndarray | None = None, input_type=None, output_type=None) -> bytes:
    """calibration: uint8 images, one model input each; input_type / output_type: the INT8
    model's (tf.int8, tf.uint8; None keeps float)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    conv = tf.lite.TFLiteConverter.from_concrete_functions([convert_variables_to_constants_v2(concrete_function)])
    if calibration is not None:
        def rep():
            for img in calibration:
                yield [img[None].astype(np.float32) / 255.0]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if input_type is not None:
            conv.inference_input_type = input_type
        if output_type is not None:
            conv.inference_output_type = output_type
    return conv.convert()
