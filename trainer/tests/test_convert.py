"""The PyTorch → TensorFlow converter reproduces PyTorch, op by op.

Each case is a tiny module using one op the supported architectures need;
the TF function's raw output (no softmax) must match PyTorch's closely on
random pixels. A converter bug in one op fails exactly one case."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from edged_train.archs import SamePad
from edged_train.convert import ConversionError, to_tf_function, torch_reference

MEAN, STD = (120.0, 110.0, 100.0), (60.0, 55.0, 50.0)


class Seq(nn.Module):
    """Runs layers then flattens, so outputs compare in PyTorch's order."""

    def __init__(self, *layers: nn.Module, flatten: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return torch.flatten(y, 1) if self.flatten else y


class Fn(nn.Module):
    """Wraps a function of the input (after a conv that mixes channels)."""

    def __init__(self, f, channels: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(self, self.conv(x))


def _bn(c: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c)
    with torch.no_grad():  # non-trivial statistics so folding matters
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn


CASES = {
    "conv": lambda: Seq(nn.Conv2d(3, 8, 3)),
    "conv_same_pad": lambda: Seq(nn.Conv2d(3, 8, 3, padding=1)),
    "conv_stride2_pad": lambda: Seq(nn.Conv2d(3, 8, 3, stride=2, padding=1)),
    "conv_rect_kernel": lambda: Seq(nn.Conv2d(3, 4, (1, 5), padding=(0, 2))),
    "conv_groups": lambda: Seq(nn.Conv2d(3, 6, 1), nn.Conv2d(6, 6, 3, padding=1, groups=2)),
    "conv_depthwise": lambda: Seq(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)),
    "conv_depthwise_multiplier": lambda: Seq(nn.Conv2d(3, 6, 3, groups=3)),
    "conv_bn_folded": lambda: Seq(nn.Conv2d(3, 8, 3, bias=False), _bn(8)),
    "bn_alone": lambda: Seq(_bn(3)),
    "tf_same_pad_asymmetric": lambda: Seq(SamePad(3, 2), nn.Conv2d(3, 4, 3, stride=2)),
    "f_pad": lambda: Fn(lambda m, x: torch.flatten(F.pad(x, [1, 2, 0, 1]), 1)),
    "linear": lambda: Seq(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 5)),
    "relu": lambda: Fn(lambda m, x: torch.flatten(F.relu(x), 1)),
    "relu6": lambda: Seq(nn.Conv2d(3, 4, 1), nn.ReLU6()),
    "hardtanh_0_6": lambda: Seq(nn.Conv2d(3, 4, 1), nn.Hardtanh(0.0, 6.0)),
    "maxpool": lambda: Seq(nn.MaxPool2d(2)),
    "maxpool_padded_after_relu": lambda: Seq(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)),
    "maxpool_ceil": lambda: Seq(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True)),
    "maxpool_stride1_same_on_cat": lambda: Fn(lambda m, x: torch.flatten(
        F.max_pool2d(torch.cat([F.relu(x), F.relu(-x)], 1), 3, 1, 1, ceil_mode=True), 1)),
    "avgpool": lambda: Seq(nn.AvgPool2d(2, 2)),
    "adaptive_avgpool_global": lambda: Seq(nn.AdaptiveAvgPool2d(1)),
    "adaptive_avgpool_uneven": lambda: Seq(nn.AdaptiveAvgPool2d((3, 5))),
    "adaptive_avgpool_bigger_than_input": lambda: Seq(nn.AvgPool2d(4), nn.AdaptiveAvgPool2d((7, 7))),
    "flatten_spatial_order": lambda: Seq(nn.Conv2d(3, 5, 3, stride=2)),
    "view_reshape": lambda: Fn(lambda m, x: torch.flatten(x, 1).view(1, -1).reshape(1, -1)),
    "cat_channels": lambda: Fn(lambda m, x: torch.flatten(torch.cat([x, x * 2], 1), 1)),
    "add_residual": lambda: Fn(lambda m, x: torch.flatten(x + F.relu(x), 1)),
    "sub_neg": lambda: Fn(lambda m, x: torch.flatten(-x - F.relu(x), 1)),
    "reshape_4d_to_2d": lambda: Fn(lambda m, x: x.reshape(1, -1)),
    "mul": lambda: Fn(lambda m, x: torch.flatten(x * x, 1)),
    "dropout_identity": lambda: Seq(nn.Conv2d(3, 4, 1), nn.Dropout(0.5)),
    "mean_keepdim": lambda: Fn(lambda m, x: torch.flatten(x.mean([2, 3], keepdim=True), 1)),
    "softmax": lambda: Seq(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4), nn.Softmax(dim=1), flatten=False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_pytorch(name: str) -> None:
    torch.manual_seed(0)
    model = CASES[name]().eval()
    size = 17  # odd: exercises asymmetric padding and uneven pooling
    fn = to_tf_function(model, size, MEAN, STD, softmax=False, check=False)
    pix = np.random.default_rng(1).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    want = torch_reference(model, pix, MEAN, STD, softmax=False)
    got = fn(pix).numpy()
    assert got.shape == want.shape, f"shape {got.shape}, want {want.shape}"
    err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-6))
    assert err < 1e-4, f"relative error {err:.2e}"


def test_softmax_output_is_probabilities() -> None:
    torch.manual_seed(0)
    model = Seq(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)).eval()
    fn = to_tf_function(model, 16, MEAN, STD)
    p = fn(np.full((1, 16, 16, 3), 200.0, np.float32)).numpy()
    assert p.shape == (1, 4) and abs(float(p.sum()) - 1) < 1e-5 and (p >= 0).all()


@pytest.mark.parametrize("model, message", [
    (lambda: Seq(nn.Conv2d(3, 4, 3, dilation=2)), "dilated"),
    (lambda: Seq(nn.Conv2d(3, 4, 3), nn.MaxPool2d(3, 2, padding=1)), "negative"),
    (lambda: Seq(nn.Conv2d(3, 4, 3), nn.Sigmoid()), "Sigmoid"),
])
def test_unsupported_is_an_error(model, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        to_tf_function(model().eval(), 16, MEAN, STD, check=False)
