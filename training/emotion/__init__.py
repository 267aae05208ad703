"""Training, export and evaluation of the sentin_ros emotion model (affective_cnn).

Modules:
  data      -- FER2013 (+FER+ votes) loading, splits, FER+ majority mapping, compact packing
  models    -- PyTorch networks: the compact student (AffectiveCNN) and the teachers
  augment   -- batched GPU/CPU data augmentation (affine, flip, erasing, mixup/cutmix)
  train     -- one resumable command: teachers -> ensemble distillation -> student weights
  export    -- rebuild the student in Keras, verify vs torch, convert to INT8/FP32 .tflite,
               measure everything and write the metrics JSON
  evaluate  -- numpy + ai_edge_litert only: accuracy of a .tflite on a FER2013 split
"""
