"""PyTorch → TensorFlow graph conversion for export to TFLite.

The model is traced with torch.fx (eval mode, Conv+BatchNorm fused), and
each node is re-emitted as raw TensorFlow ops on NHWC tensors inside a
``tf.function``. The TF function takes RAW RGB pixels (0..255, NHWC), applies
the model's normalisation, runs the network, and ends with softmax, so the
exported TFLite model outputs probabilities. After conversion the TF graph is
checked numerically against PyTorch, so a converter mistake fails loudly.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from .archs import SamePad


class ConversionError(RuntimeError):
    """A model uses something the converter does not support, or the TF
    graph does not reproduce PyTorch's output."""


class _Tracer(torch.fx.Tracer):
    """Keeps shape-dependent padding modules as leaves: the converter knows
    the static shapes and emits their padding itself."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, SamePad) or super().is_leaf_module(m, qualname)


def _fuse(model: nn.Module) -> torch.fx.GraphModule:
    """Trace the model and fold each BatchNorm into the convolution before it."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    gm = torch.fx.GraphModule(model, _Tracer().trace(model))
    mods = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(mods.get(node.target), nn.BatchNorm2d):
            continue
        prev = node.args[0]
        if not (isinstance(prev, torch.fx.Node) and prev.op == "call_module"
                and isinstance(mods.get(prev.target), nn.Conv2d) and len(prev.users) == 1):
            continue
        fused = fuse_conv_bn_eval(mods[prev.target], mods[node.target])
        parent, _, name = prev.target.rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, name, fused)
        mods[prev.target] = fused
        node.replace_all_uses_with(prev)
        gm.graph.erase_node(node)
    gm.recompile()
    return gm


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class _Emitter:
    """Turns fx nodes into TF values; 4-D values are NHWC."""

    def __init__(self, gm: torch.fx.GraphModule, tf: Any) -> None:
        self.gm, self.tf = gm, tf
        self.mods = dict(gm.named_modules())
        self.consts: dict[str, Any] = {}

    # -- helpers -------------------------------------------------------
    def const(self, key: str, value: np.ndarray) -> Any:
        if key not in self.consts:
            self.consts[key] = self.tf.constant(value.astype(np.float32))
        return self.consts[key]

    def nonneg(self, node: Any) -> bool:
        """Whether a node's output is known to be >= 0: a ReLU/ReLU6, or a
        max pool, concatenation, sum or product of such values. Zero padding
        then equals PyTorch's -inf padding for max pooling."""
        if not isinstance(node, torch.fx.Node):
            return isinstance(node, (int, float)) and node >= 0
        if node.op == "call_module":
            m = self.mods[node.target]
            if isinstance(m, (nn.ReLU, nn.ReLU6)):
                return True
            if isinstance(m, nn.Hardtanh):
                return m.min_val >= 0
            if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Identity, SamePad)):
                return self.nonneg(node.args[0])
            return False
        t = node.target
        if t in (F.relu, F.relu6, torch.relu, "relu", "relu_"):
            return True
        if t in (F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.dropout, torch.flatten, "flatten",
                 "contiguous", "view", "reshape"):
            return self.nonneg(node.args[0])
        if t in (torch.cat, torch.concat):
            return all(self.nonneg(a) for a in node.args[0])
        if t in (operator.add, operator.iadd, torch.add, "add", "add_", operator.mul, operator.imul, torch.mul):
            return all(self.nonneg(a) for a in node.args[:2])
        return False

    def conv(self, m: nn.Conv2d, x: Any, key: str) -> Any:
        tf = self.tf
        kh, kw = _pair(m.kernel_size)
        sh, sw = _pair(m.stride)
        ph, pw = _pair(m.padding) if not isinstance(m.padding, str) else (None, None)
        if _pair(m.dilation) != (1, 1):
            raise ConversionError(f"{key}: dilated convolution is not supported")
        if m.padding_mode != "zeros":
            raise ConversionError(f"{key}: padding mode {m.padding_mode} is not supported")
        w = m.weight.detach().cpu().numpy()
        pad = "VALID"
        if isinstance(m.padding, str):
            pad = m.padding.upper()
        elif (ph, pw) != (0, 0):
            if (sh, sw) == (1, 1) and (ph, pw) == ((kh - 1) // 2, (kw - 1) // 2) and kh % 2 and kw % 2:
                pad = "SAME"
            else:
                x = tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
        groups = m.groups
        cin = m.in_channels
        if groups == 1:
            y = tf.nn.conv2d(x, self.const(key + ".w", w.transpose(2, 3, 1, 0)), [1, sh, sw, 1], pad)
        elif groups == cin and m.out_channels % cin == 0:
            mult = m.out_channels // cin
            k = w.reshape(cin, mult, kh, kw).transpose(2, 3, 0, 1)
            y = tf.nn.depthwise_conv2d(x, self.const(key + ".w", k), [1, sh, sw, 1], pad)
        else:
            parts = tf.split(x, groups, axis=3)
            ws = np.split(w, groups, axis=0)
            y = tf.concat([tf.nn.conv2d(p, self.const(f"{key}.w{i}", wi.transpose(2, 3, 1, 0)), [1, sh, sw, 1], pad)
                           for i, (p, wi) in enumerate(zip(parts, ws))], axis=3)
        if m.bias is not None:
            y = y + self.const(key + ".b", m.bias.detach().cpu().numpy())
        return y

    def pool(self, kind: str, x: Any, kernel: Any, stride: Any, padding: Any, ceil: bool,
             node: torch.fx.Node, shape: Sequence[int], count_include_pad: bool = True) -> Any:
        tf = self.tf
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride if stride else kernel)
        ph, pw = _pair(padding)
        h, w = shape[2], shape[3]
        extra_h = extra_w = 0
        if ceil:
            oh = -(-(h + 2 * ph - kh) // sh) + 1
            ow = -(-(w + 2 * pw - kw) // sw) + 1
            # torch drops a last window that would start in the padding
            if (oh - 1) * sh >= h + ph:
                oh -= 1
            if (ow - 1) * sw >= w + pw:
                ow -= 1
            extra_h = max((oh - 1) * sh + kh - (h + 2 * ph), 0)
            extra_w = max((ow - 1) * sw + kw - (w + 2 * pw), 0)
        if ph or pw or extra_h or extra_w:
            if kind == "max" and not self.nonneg(node.args[0]):
                raise ConversionError(f"{node.name}: padded max pooling of a possibly negative input is not supported")
            if kind == "avg" and (not count_include_pad or extra_h or extra_w):
                raise ConversionError(f"{node.name}: this average pooling padding is not supported")
            x = tf.pad(x, [[0, 0], [ph, ph + extra_h], [pw, pw + extra_w], [0, 0]])
        f = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
        return f(x, [kh, kw], [sh, sw], "VALID")

    def adaptive_avg(self, x: Any, out: Any, shape: Sequence[int]) -> Any:
        tf = self.tf
        oh, ow = _pair(out) if out is not None else (1, 1)
        h, w = shape[2], shape[3]
        if (oh, ow) == (1, 1):
            return tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        if (oh, ow) == (h, w):
            return x
        if h % oh == 0 and w % ow == 0:
            return tf.nn.avg_pool2d(x, [h // oh, w // ow], [h // oh, w // ow], "VALID")
        rows = []
        for i in range(oh):
            hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
            cols = []
            for j in range(ow):
                ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
                cols.append(tf.reduce_mean(x[:, hs:he, ws:we, :], axis=[1, 2], keepdims=True))
            rows.append(tf.concat(cols, axis=2))
        return tf.concat(rows, axis=1)

    def flatten(self, x: Any, start: int, shape: Sequence[int]) -> Any:
        tf = self.tf
        if len(shape) == 4:
            if start != 1:
                raise ConversionError(f"flatten from dimension {start} of a 4-D tensor is not supported")
            if shape[2] * shape[3] != 1:
                x = tf.transpose(x, [0, 3, 1, 2])  # back to PyTorch's order before flattening
            return tf.reshape(x, [-1, int(np.prod(shape[1:]))])
        return tf.reshape(x, [-1, int(np.prod(shape[start:]))]) if start == 1 else x

    @staticmethod
    def axis(dim: int, rank: int) -> int:
        dim = dim % rank
        return [0, 3, 1, 2][dim] if rank == 4 else dim

    # -- the walk ------------------------------------------------------
    def run(self, x: Any) -> Any:
        tf = self.tf
        env: dict[str, Any] = {}
        out = None

        def val(a: Any) -> Any:
            if isinstance(a, torch.fx.Node):
                return env[a.name]
            if isinstance(a, (list, tuple)):
                return type(a)(val(v) for v in a)
            return a

        for node in self.gm.graph.nodes:
            meta = node.meta.get("tensor_meta")
            shape = tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None
            in_shape = None
            if node.args and isinstance(node.args[0], torch.fx.Node):
                m0 = node.args[0].meta.get("tensor_meta")
                in_shape = tuple(m0.shape) if m0 is not None and hasattr(m0, "shape") else None
            if node.op == "placeholder":
                env[node.name] = x
            elif node.op == "output":
                out = val(node.args[0])
            elif node.op == "get_attr":
                raise ConversionError(f"{node.name}: parameters used outside modules are not supported")
            elif node.op == "call_module":
                env[node.name] = self.module(node, self.mods[node.target], val(node.args[0]), in_shape, shape)
            elif node.op in ("call_function", "call_method"):
                env[node.name] = self.function(node, val, in_shape, shape)
            else:
                raise ConversionError(f"{node.name}: unsupported node {node.op}")
        return out

    def module(self, node: torch.fx.Node, m: nn.Module, x: Any, in_shape: Any, shape: Any) -> Any:
        tf = self.tf
        key = str(node.target)
        if isinstance(m, nn.Conv2d):
            return self.conv(m, x, key)
        if isinstance(m, SamePad):
            h, w = in_shape[2], in_shape[3]
            ph = max((-(-h // m.stride) - 1) * m.stride + m.kernel - h, 0)
            pw = max((-(-w // m.stride) - 1) * m.stride + m.kernel - w, 0)
            return tf.pad(x, [[0, 0], [ph // 2, ph - ph // 2], [pw // 2, pw - pw // 2], [0, 0]])
        if isinstance(m, nn.Linear):
            y = tf.matmul(x, self.const(key + ".w", m.weight.detach().cpu().numpy().T))
            return y + self.const(key + ".b", m.bias.detach().cpu().numpy()) if m.bias is not None else y
        if isinstance(m, nn.BatchNorm2d):  # not fused (no preceding conv): an affine op
            inv = (m.weight / torch.sqrt(m.running_var + m.eps)).detach().cpu().numpy()
            shift = (m.bias - m.running_mean * m.weight / torch.sqrt(m.running_var + m.eps)).detach().cpu().numpy()
            return x * self.const(key + ".s", inv) + self.const(key + ".t", shift)
        if isinstance(m, nn.ReLU):
            return tf.nn.relu(x)
        if isinstance(m, nn.ReLU6):
            return tf.nn.relu6(x)
        if isinstance(m, nn.Hardtanh) and (m.min_val, m.max_val) == (0.0, 6.0):
            return tf.nn.relu6(x)
        if isinstance(m, (nn.Dropout, nn.Identity)):
            return x
        if isinstance(m, nn.MaxPool2d):
            if _pair(m.dilation) != (1, 1):
                raise ConversionError(f"{key}: dilated pooling is not supported")
            return self.pool("max", x, m.kernel_size, m.stride, m.padding, m.ceil_mode, node, in_shape)
        if isinstance(m, nn.AvgPool2d):
            return self.pool("avg", x, m.kernel_size, m.stride, m.padding, m.ceil_mode, node, in_shape,
                             m.count_include_pad)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return self.adaptive_avg(x, m.output_size, in_shape)
        if isinstance(m, nn.Flatten):
            return self.flatten(x, m.start_dim, in_shape)
        if isinstance(m, nn.Softmax):
            return tf.nn.softmax(x, axis=-1)
        raise ConversionError(f"{key}: module {type(m).__name__} is not supported")

    def function(self, node: torch.fx.Node, val: Callable[[Any], Any], in_shape: Any, shape: Any) -> Any:
        tf = self.tf
        t = node.target
        args = [val(a) for a in node.args]
        kw = {k: val(v) for k, v in node.kwargs.items()}
        rank = len(in_shape) if in_shape is not None else 0
        if t in (operator.add, operator.iadd, torch.add, "add", "add_"):
            return args[0] + args[1]
        if t in (operator.sub, operator.isub, torch.sub, "sub", "sub_"):
            return args[0] - args[1]
        if t in (operator.neg, torch.neg, "neg"):
            return -args[0]
        if t in (operator.mul, operator.imul, torch.mul, "mul", "mul_"):
            return args[0] * args[1]
        if t in (F.relu, torch.relu, "relu", "relu_"):
            return tf.nn.relu(args[0])
        if t in (F.relu6,):
            return tf.nn.relu6(args[0])
        if t in (F.hardtanh,) and (args[1:3] or [kw.get("min_val"), kw.get("max_val")]) == [0.0, 6.0]:
            return tf.nn.relu6(args[0])
        if t in (F.dropout, "contiguous"):
            return args[0]
        if t in (F.adaptive_avg_pool2d,):
            return self.adaptive_avg(args[0], args[1] if len(args) > 1 else kw.get("output_size"), in_shape)
        if t in (F.avg_pool2d, F.max_pool2d):
            kind = "max" if t is F.max_pool2d else "avg"
            k = args[1] if len(args) > 1 else kw["kernel_size"]
            s = args[2] if len(args) > 2 else kw.get("stride")
            p = args[3] if len(args) > 3 else kw.get("padding", 0)
            return self.pool(kind, args[0], k, s, p, bool(kw.get("ceil_mode", False)), node, in_shape)
        if t in (torch.flatten, "flatten"):
            start = args[1] if len(args) > 1 else kw.get("start_dim", 0)
            return self.flatten(args[0], start, in_shape)
        if t in (torch.cat, torch.concat):
            dim = args[1] if len(args) > 1 else kw.get("dim", 0)
            first = node.args[0][0].meta["tensor_meta"].shape
            return tf.concat(list(args[0]), axis=self.axis(dim, len(first)))
        if t in ("mean",) and rank == 4:
            dims = args[1] if len(args) > 1 else kw.get("dim")
            keep = kw.get("keepdim", False)
            dims = [dims] if isinstance(dims, int) else list(dims)
            if sorted(d % 4 for d in dims) != [2, 3]:
                raise ConversionError(f"{node.name}: mean over {dims} is not supported")
            return tf.reduce_mean(args[0], axis=[1, 2], keepdims=keep)
        if t in ("view", "reshape", torch.reshape):
            if rank == 4 and len(shape) == 2:
                return self.flatten(args[0], 1, in_shape)
            if rank == len(shape) and rank != 4:
                return tf.reshape(args[0], [-1, *shape[1:]])
        if t in (F.pad,):
            pads = args[1]
            if rank != 4 or len(pads) != 4:
                raise ConversionError(f"{node.name}: only spatial padding of 4-D tensors is supported")
            l, r, top, bottom = pads
            return tf.pad(args[0], [[0, 0], [top, bottom], [l, r], [0, 0]])
        if t in (F.softmax, torch.softmax, "softmax"):
            return tf.nn.softmax(args[0], axis=-1)
        if t == "size" or t is getattr:
            raise ConversionError(f"{node.name}: dynamic shapes are not supported; use torch.flatten")
        raise ConversionError(f"{node.name}: {t} is not supported")


def to_tf_function(model: nn.Module, size: int, mean: Sequence[float], std: Sequence[float],
                   softmax: bool = True, check: bool = True):
    """Return a TF function mapping raw RGB pixels [1,size,size,3] in 0..255 to
    softmax(model((x-mean)/std)), or to the model's raw output when `softmax`
    is False (4-D outputs come back NHWC). With `check`, the function is
    compared with PyTorch on random images and ConversionError raised when
    they differ."""
    import tensorflow as tf

    gm = _fuse(model)
    example = torch.zeros(1, 3, size, size)
    ShapeProp(gm).propagate(example)
    em = _Emitter(gm, tf)
    mean_c = tf.constant(np.asarray(mean, np.float32))
    inv_std = tf.constant(1.0 / np.asarray(std, np.float32))

    # autograph off: the emitter is plain Python over static shapes, and its
    # ConversionError must reach the caller unwrapped.
    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")], autograph=False)
    def serve(x):
        y = em.run((x - mean_c) * inv_std)
        return tf.nn.softmax(y, axis=-1) if softmax else y

    serve.get_concrete_function()  # trace now: unsupported ops fail here
    if check:
        check_numerics(model, serve, size, mean, std, softmax=softmax)
    return serve


def torch_reference(model: nn.Module, pixels: np.ndarray, mean: Sequence[float], std: Sequence[float],
                    softmax: bool = True) -> np.ndarray:
    """PyTorch's output for NHWC raw pixels, laid out as the TF function's
    (softmax applied when asked; 4-D outputs transposed to NHWC)."""
    x = torch.from_numpy(np.ascontiguousarray(pixels, np.float32)).permute(0, 3, 1, 2)
    x = (x - torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)) / torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    with torch.no_grad():
        y = model.eval()(x)
        if softmax:
            y = torch.softmax(y, -1)
    y = y.numpy()
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


def check_numerics(model: nn.Module, fn: Any, size: int, mean: Sequence[float], std: Sequence[float],
                   tolerance: float = 2e-3, softmax: bool = True) -> float:
    """Compare the TF function with PyTorch on random pixel images; raise
    ConversionError when outputs differ by more than `tolerance` (absolute
    for probabilities, relative to the output's scale otherwise)."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(2):
        pix = rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32)
        ref = torch_reference(model, pix, mean, std, softmax)
        got = fn(pix).numpy()
        if got.shape != ref.shape:
            raise ConversionError(f"TF graph output shape {got.shape} differs from PyTorch's {ref.shape}")
        err = float(np.abs(ref - got).max())
        if not softmax:
            err /= max(float(np.abs(ref).max()), 1e-6)
        worst = max(worst, err)
    if not worst <= tolerance:
        raise ConversionError(f"TF graph differs from PyTorch by {worst:.2e} (tolerance {tolerance:.0e})")
    return worst
