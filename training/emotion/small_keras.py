"""Keras rebuild of small_model.SmallAffectiveCNN (same layers, same padding), weight copy
from a torch state dict, and the LiteRT serving function (single view, or optional mirror
averaging for the accuracy table only).

BatchNorm layers are kept in the Keras graph (inference mode); the TFLite converter folds
them into the convolutions.
"""
from __future__ import annotations

import numpy as np

from .small_model import CONFIGS, EMB_DIM, NUM_CLASSES

BN_EPS = 1e-5  # torch default


def build_keras(config: str):
    import keras
    from keras import layers

    stem, blocks, c_last = CONFIGS[config]
    stem = [stem] if isinstance(stem[0], int) else list(stem)
    names = []  # (keras layer name, torch prefix, kind)

    def conv_bn(x, cout, k, stride, tprefix, groups=1, relu=True):
        prefix = tprefix.replace(".", "_")
        if stride == 2 and k == 3:
            x = layers.ZeroPadding2D(1, name=f"{prefix}_pad")(x)
            pad = "valid"
        else:
            pad = "same"
        if groups == 1:
            x = layers.Conv2D(cout, k, stride, padding=pad, use_bias=False,
                              name=f"{prefix}_conv")(x)
            names.append((f"{prefix}_conv", f"{tprefix}.0", "conv"))
        else:
            x = layers.DepthwiseConv2D(k, stride, padding=pad, use_bias=False,
                                       name=f"{prefix}_conv")(x)
            names.append((f"{prefix}_conv", f"{tprefix}.0", "dw"))
        x = layers.BatchNormalization(epsilon=BN_EPS, name=f"{prefix}_bn")(x)
        names.append((f"{prefix}_bn", f"{tprefix}.1", "bn"))
        if relu:
            x = layers.ReLU(name=f"{prefix}_relu")(x)
        return x

    inp = keras.Input((48, 48, 1), name="image")
    x = inp
    for i, (c0, s0) in enumerate(stem):
        x = conv_bn(x, c0, 3, s0, "stem" if len(stem) == 1 else f"stem.{i}")
        cin = c0
    bi = 0
    for t, c, n, s in blocks:
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"blocks.{bi}"
            y = x
            if t != 1:
                y = conv_bn(y, cin * t, 1, 1, f"{p}.expand")
            y = conv_bn(y, cin * t, 3, stride, f"{p}.dw", groups=cin * t)
            y = conv_bn(y, c, 1, 1, f"{p}.project", relu=False)
            x = layers.Add(name=f"blocks_{bi}_add")([x, y]) if (stride == 1 and cin == c) else y
            cin = c
            bi += 1
    x = conv_bn(x, c_last, 1, 1, "head")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(EMB_DIM, use_bias=False, name="embed")(x)
    names.append(("embed", "embed", "dense_nobias"))
    x = layers.BatchNormalization(epsilon=BN_EPS, name="embed_bn")(x)
    names.append(("embed_bn", "embed_bn", "bn"))
    emb = layers.ReLU(name="embedding")(x)
    logits = layers.Dense(NUM_CLASSES, name="fc")(emb)
    names.append(("fc", "fc", "dense"))
    probs = layers.Softmax(name="probabilities")(logits)
    model = keras.Model(inp, [probs, emb, logits], name="affective_cnn_small")
    model._torch_names = names
    return model


def load_torch_weights(model, sd: dict) -> None:
    def a(k):
        v = sd[k]
        return v.detach().cpu().float().numpy() if hasattr(v, "detach") else np.asarray(v)

    for lname, tp, kind in model._torch_names:
        layer = model.get_layer(lname)
        if kind == "conv":
            layer.set_weights([a(f"{tp}.weight").transpose(2, 3, 1, 0)])
        elif kind == "dw":
            w = a(f"{tp}.weight")                       # (C,1,3,3) -> (3,3,C,1)
            layer.set_weights([w.transpose(2, 3, 0, 1)])
        elif kind == "bn":
            layer.set_weights([a(f"{tp}.weight"), a(f"{tp}.bias"), a(f"{tp}.running_mean"),
                               a(f"{tp}.running_var")])
        elif kind == "dense_nobias":
            layer.set_weights([a(f"{tp}.weight").T])
        elif kind == "dense":
            layer.set_weights([a(f"{tp}.weight").T, a(f"{tp}.bias")])


def serving_fn(trunk, mirror: bool = False):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 48, 48, 1], tf.float32, name="image")])
    def serve(image):
        if mirror:
            x = tf.concat([image, tf.reverse(image, axis=[2])], axis=0)
            p, e, _ = trunk(x, training=False)
            p = tf.reduce_mean(p, axis=0, keepdims=True)
            e = tf.reduce_mean(e, axis=0, keepdims=True)
        else:
            p, e, _ = trunk(image, training=False)
        return {"probabilities": p, "embedding": e}
    return serve
