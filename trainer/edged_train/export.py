"""Export a PyTorch classifier to a fully-integer int8 TFLite model.

Route: PyTorch → our torch.fx converter (convert.py) → a TF function on raw
pixels → TensorFlow's TFLiteConverter with a representative dataset,
``TFLITE_BUILTINS_INT8`` only, uint8 input and uint8 output. The input
tensor's quantization is checked to be scale 1, zero point 0: edged feeds
raw pixels straight in. Labels are embedded as TFLite metadata.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from torch import nn

from . import metadata
from .convert import to_tf_function


class ExportError(RuntimeError):
    """The export failed its own checks."""


@dataclass
class Exported:
    """An exported model and facts about it."""

    data: bytes
    sha256: str
    input_scale: float
    input_zero_point: int


def export_int8(model: nn.Module, size: int, mean: Sequence[float], std: Sequence[float],
                calibration: Callable[[], Iterable[np.ndarray]], labels: Sequence[str],
                name: str, description: str) -> Exported:
    """Convert `model` to an int8 TFLite with uint8 input/output and labels.

    `calibration` yields float32 HxWx3 RGB images with pixel values 0..255;
    pure black and white frames are added so the input range is exactly 0..255.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    fn = to_tf_function(model, size, mean, std)

    def representative():
        yield [np.zeros((1, size, size, 3), np.float32)]
        yield [np.full((1, size, size, 3), 255.0, np.float32)]
        for img in calibration():
            yield [np.asarray(img, np.float32).reshape(1, size, size, 3)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    # TF >= 2.16 quantizes FULLY_CONNECTED weights per output channel by
    # default; TFLite runtimes before that (edged's bundled 2.9 among them)
    # read only the first scale and compute garbage. Per-tensor dense
    # weights run correctly everywhere.
    conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    data = conv.convert()

    md = metadata.model_metadata(name, description, "1", "edged-train", "see model card")
    data = metadata.attach(data, md, labels)

    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data)
    inp = it.get_input_details()[0]
    out = it.get_output_details()[0]
    scale, zp = inp["quantization"]
    if inp["dtype"] != np.uint8 or abs(scale - 1.0) > 1e-6 or zp != 0:
        raise ExportError(f"input tensor is {inp['dtype']} with scale {scale} zero point {zp}; want uint8, 1.0, 0")
    if out["dtype"] != np.uint8 or int(np.prod(out["shape"])) != len(labels):
        raise ExportError(f"output tensor {out['dtype']} {out['shape']} does not fit {len(labels)} labels")
    return Exported(data, hashlib.sha256(data).hexdigest(), float(scale), int(zp))


class TFLiteClassifier:
    """Runs an exported model with the ai-edge-litert interpreter."""

    def __init__(self, data: bytes, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_content=data, num_threads=threads)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]
        self.out = self.it.get_output_details()[0]

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """Class probabilities for one HxWx3 uint8 RGB image of the input size."""
        self.it.set_tensor(self.inp["index"], rgb.astype(np.uint8)[None])
        self.it.invoke()
        q = self.it.get_tensor(self.out["index"])[0].astype(np.float32)
        scale, zp = self.out["quantization"]
        return scale * (q - zp)
