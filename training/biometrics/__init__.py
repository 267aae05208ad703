"""Soft-biometrics model (apparent age + annotated gender) trained on UTKFace (utkface64.npz).

train.py (one command: train -> select on validation -> INT8 export -> metrics JSON),
export.py (Keras rebuild + LiteRT conversion + measurements), evaluate.py (a .tflite on any
file in the utkface64.npz format, with the run-time preprocessing), data.py (decoding, split).
"""
