"""Training: fine-tune or train from scratch on an image folder, keep the best
epoch by validation accuracy, and return it as a ``TrainResult`` (which
``package.export_trained`` exports and verifies).

CUDA with mixed precision when available (or asked for), CPU otherwise.
Checkpoints (``checkpoint``) are written after every epoch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import nn

from . import archs, checkpoint
from .data import DataError, ImageFolder, Images, Split, class_weights, is_skewed, scan, stratified_split
from .verify import MAX_INT8_DROP

log = logging.getLogger(__name__)

#: Name prefixes of each architecture's classifier head (trained first when fine-tuning).
HEADS = {"efficientnet_lite0": ("_fc.",), "lenet5": ("classifier.",), "alexnet": ("classifier.",),
         "vgg11": ("classifier.",), "vgg16": ("classifier.",), "googlenet": ("fc.",), "resnet18": ("fc.",),
         "resnet50": ("fc.",), "densenet121": ("classifier.",), "mobilenet_v2": ("classifier.",)}


@dataclass
class TrainConfig:
    """Everything ``edged-train train`` takes; defaults are the CLI's."""

    data_dir: str
    out_dir: str
    arch: str = "efficientnet_lite0"
    epochs: int = 10
    device: str = "auto"
    val_dir: str | None = None
    val_fraction: float = 0.2
    img_size: int | None = None
    batch: int = 32
    lr: float = 1e-3
    weights: str | None = None
    pretrained: bool = True
    freeze_epochs: int | None = None
    resume: str | None = None
    seed: int = 0
    patience: int = 5
    balance: str = "auto"
    flip: bool = True
    workers: int = 2
    calibration: int = 200
    threads: int = 2
    max_int8_drop: float = MAX_INT8_DROP

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.arch not in archs.ARCHS:
            raise ValueError(f"arch {self.arch!r}: choose from {', '.join(archs.ARCHS)}")
        a = archs.ARCHS[self.arch]
        if self.img_size is not None and self.img_size < a.min_size:
            raise ValueError(f"img_size {self.img_size}: {self.arch} needs at least {a.min_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs {self.epochs}: want at least 1")
        if self.batch < 2:
            raise ValueError(f"batch {self.batch}: want at least 2 (batch norm)")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device {self.device!r}: want auto, cpu or cuda")
        if self.balance not in ("auto", "on", "off"):
            raise ValueError(f"balance {self.balance!r}: want auto, on or off")

    @property
    def size(self) -> int:
        """The input size in pixels (square)."""
        return self.img_size or archs.ARCHS[self.arch].default_size


def pick_device(name: str) -> torch.device:
    """`auto` → CUDA when available, else CPU; `cuda` fails when there is none."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda: no CUDA device visible to this torch "
                           f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
        log.info("device auto: %s (torch %s, CUDA %s)", name, torch.__version__,
                 torch.version.cuda if torch.cuda.is_available() else "not available")
    return torch.device(name)


def _amp(device: torch.device) -> tuple[Any, Any]:
    """Autocast context factory and gradient scaler: float16 mixed precision on
    CUDA, plain float32 elsewhere. Works on torch 1.13 and 2.x."""
    if device.type != "cuda":
        return contextlib.nullcontext, None
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        scaler = torch.amp.GradScaler("cuda")
    else:
        scaler = torch.cuda.amp.GradScaler()
    return (lambda: torch.autocast("cuda", dtype=torch.float16)), scaler


def load_user_weights(model: nn.Module, path: str, head: Sequence[str] = ()) -> list[str]:
    """Load a state dict (or our checkpoint) from `path`. Tensors under the
    classifier prefixes `head` whose shape differs (another class count) are
    left untrained; returns their names. Any other mismatch is an error."""
    state = checkpoint.torch_load(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"weights {path}: not a state dict")
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    dropped = [k for k in wrong if k.startswith(tuple(head))]
    if len(dropped) != len(wrong):
        k = next(k for k in wrong if k not in dropped)
        raise ValueError(f"weights {path}: {k} has shape {tuple(state[k].shape)}, the model wants "
                         f"{tuple(own[k].shape)} (weights of another architecture?)")
    state = {k: v for k, v in state.items() if k not in dropped}
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [k for k in missing if k not in dropped]
    if bad or unexpected:
        raise ValueError(f"weights {path}: missing {bad[:5]}{'...' if len(bad) > 5 else ''}, "
                         f"unexpected {list(unexpected)[:5]}")
    return dropped


def build_model(cfg: TrainConfig, num_classes: int) -> tuple[nn.Module, bool]:
    """The model to train and whether it starts from trained weights."""
    torch.manual_seed(cfg.seed)
    model = archs.build(cfg.arch, num_classes)
    if cfg.weights:
        dropped = load_user_weights(model, cfg.weights, HEADS.get(cfg.arch, ()))
        log.info("loaded weights %s (left untrained: %s)", cfg.weights, dropped or "none")
        return model, True
    if cfg.arch == "efficientnet_lite0" and cfg.pretrained:
        archs.load_lite0_imagenet(model)
        return model, True
    return model, False


def _is_head(name: str, arch: str) -> bool:
    return name.startswith(HEADS.get(arch, ()))


def _set_backbone(model: nn.Module, arch: str, trainable: bool) -> None:
    for n, p in model.named_parameters():
        if not _is_head(n, arch):
            p.requires_grad_(trainable)


def _freeze_bn(model: nn.Module, arch: str) -> None:
    """Keep a frozen backbone's batch-norm statistics fixed."""
    for n, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not _is_head(n + ".", arch):
            m.eval()


def _epoch(model: nn.Module, loader: Any, device: torch.device, train: bool, opt: Any, scaler: Any,
           autocast: Any, desc: str) -> tuple[float, float]:
    from tqdm import tqdm

    loss_fn = nn.CrossEntropyLoss()
    total, correct, loss_sum = 0, 0, 0.0
    bar = tqdm(loader, desc=desc, leave=False, disable=None, unit="batch")
    for x, y in bar:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.set_grad_enabled(train), autocast():
            out = model(x)
            loss = loss_fn(out.float(), y)
        if train:
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        n, lv = y.shape[0], float(loss)
        if scaler is None and not math.isfinite(lv):  # with AMP the scaler skips such steps itself
            raise FloatingPointError(f"{desc}: loss is {lv}; try a lower --lr")
        total += n
        loss_sum += lv * n
        correct += int((out.argmax(1) == y).sum())
        bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{100 * correct / total:.1f}")
    return loss_sum / max(total, 1), 100.0 * correct / max(total, 1)


def load_split(cfg: TrainConfig) -> Split:
    """Scan the data folder(s) and split them (stratified, fixed seed) unless
    a validation folder is given."""
    folder: ImageFolder = scan(cfg.data_dir)
    skipped = list(folder.skipped)
    if cfg.val_dir:
        vfolder = scan(cfg.val_dir, folder.classes)
        skipped += vfolder.skipped
        train, val = folder.samples, vfolder.samples
    else:
        train, val = stratified_split(folder.samples, cfg.val_fraction, cfg.seed)
    if not val:
        raise DataError(f"{cfg.data_dir}: no validation images (give --val or more images per class)")
    return Split(folder.classes, train, val, skipped)


@dataclass
class TrainResult:
    """A finished run: the best epoch's model (on the CPU, in eval mode) and
    what the model card records about its training."""

    config: TrainConfig
    model: nn.Module
    arch: archs.Arch
    size: int
    split: Split
    history: list[dict]
    best_epoch: int
    device: torch.device
    pretrained: bool
    frozen_epochs: int
    balanced: bool

    def summary(self) -> dict:
        """The model card's ``training`` entry."""
        cfg = self.config
        return {"epochs_run": len(self.history), "best_epoch": self.best_epoch, "device": str(self.device),
                "pretrained": self.pretrained, "backbone_frozen_epochs": self.frozen_epochs,
                "class_balancing": self.balanced, "data_dir": cfg.data_dir, "val_dir": cfg.val_dir,
                "val_fraction": None if cfg.val_dir else cfg.val_fraction, "seed": cfg.seed,
                "torch": torch.__version__}


def train(cfg: TrainConfig) -> TrainResult:
    """Train, writing ``train_log.jsonl`` and the checkpoints into ``cfg.out_dir``;
    returns the best epoch's model. Exporting it is ``package.export_trained``."""
    cfg.validate()
    device = pick_device(cfg.device)
    split = load_split(cfg)
    arch = archs.ARCHS[cfg.arch]
    size = cfg.size
    n = len(split.classes)
    log.info("data: %d classes, %d training and %d validation images, %d skipped; device %s",
             n, len(split.train), len(split.val), len(split.skipped), device)
    os.makedirs(checkpoint.folder(cfg.out_dir), exist_ok=True)

    model, pretrained = build_model(cfg, n)
    model.to(device)
    # Fine-tuning trains the new head alone first, so that its random
    # gradients do not wreck the pretrained features; scratch training
    # has nothing to protect.
    freeze = cfg.freeze_epochs
    if freeze is None:
        freeze = max(1, round(cfg.epochs / 4)) if cfg.epochs >= 2 else 0
    if not pretrained:
        freeze = 0
    head = [p for nm, p in model.named_parameters() if _is_head(nm, cfg.arch)]
    body = [p for nm, p in model.named_parameters() if not _is_head(nm, cfg.arch)]
    body_lr = cfg.lr * 0.1 if pretrained else cfg.lr
    opt = torch.optim.AdamW([{"params": head, "lr": cfg.lr}, {"params": body, "lr": body_lr}], weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    autocast, scaler = _amp(device)

    state = checkpoint.RunState()
    if cfg.resume:
        state = checkpoint.resume(cfg.resume, cfg.arch, split.classes, model, opt, sched, scaler)
        log.info("resumed from %s at epoch %d (best %.2f%% at epoch %d)", cfg.resume, state.epoch + 1,
                 state.best_acc, state.best_epoch)

    g = torch.Generator()
    g.manual_seed(cfg.seed)
    balance = cfg.balance == "on" or (cfg.balance == "auto" and is_skewed(split.train, n))
    train_ds = Images(split.train, size, arch.mean, arch.std, augment=True, flip=cfg.flip)
    sampler = None
    if balance:
        sampler = torch.utils.data.WeightedRandomSampler(class_weights(split.train, n), len(split.train),
                                                         replacement=True, generator=g)
    common = {"num_workers": cfg.workers, "pin_memory": device.type == "cuda"}
    train_dl = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch, shuffle=sampler is None,
                                           sampler=sampler, generator=g if sampler is None else None,
                                           drop_last=len(train_ds) > cfg.batch, **common)
    val_dl = torch.utils.data.DataLoader(Images(split.val, size, arch.mean, arch.std), batch_size=cfg.batch,
                                         shuffle=False, **common)
    log_path = os.path.join(cfg.out_dir, "train_log.jsonl")
    if not cfg.resume and os.path.exists(log_path):
        os.remove(log_path)  # a fresh run starts a fresh log
    meta = checkpoint.run_meta(arch, size, split, asdict(cfg))
    stale = sum(1 for h in state.history if h["epoch"] > state.best_epoch)
    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        frozen = epoch <= freeze
        _set_backbone(model, cfg.arch, not frozen)
        model.train()
        if frozen:
            _freeze_bn(model, cfg.arch)
        t0 = time.monotonic()
        tl, ta = _epoch(model, train_dl, device, True, opt, scaler, autocast, f"epoch {epoch}/{cfg.epochs} train")
        train_s = time.monotonic() - t0
        model.eval()
        vl, va = _epoch(model, val_dl, device, False, opt, None, autocast, f"epoch {epoch}/{cfg.epochs} val")
        sched.step()
        rec = {"epoch": epoch, "train_loss": round(tl, 5), "train_acc": round(ta, 3), "val_loss": round(vl, 5),
               "val_acc": round(va, 3), "lr": opt.param_groups[0]["lr"], "backbone_frozen": frozen,
               "epoch_seconds": round(train_s, 2), "device": str(device)}
        state.history.append(rec)
        with open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        log.info("epoch %d/%d: train loss %.4f acc %.2f%%, val loss %.4f acc %.2f%%, %.1fs%s", epoch, cfg.epochs,
                 tl, ta, vl, va, train_s, " (backbone frozen)" if frozen else "")
        if va > state.best_acc:
            state.best_acc, state.best_epoch, stale = va, epoch, 0
            state.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        state.epoch = epoch
        checkpoint.save(cfg.out_dir, meta, state, model, opt, sched, scaler)
        if stale >= cfg.patience and epoch < cfg.epochs:
            log.info("early stop: validation accuracy has not improved for %d epochs (best %.2f%% at epoch %d)",
                     stale, state.best_acc, state.best_epoch)
            break

    if state.best_model is not None:
        model.load_state_dict(state.best_model)
    model.to("cpu").eval()
    return TrainResult(cfg, model, arch, size, split, state.history, state.best_epoch, device, pretrained, freeze,
                       balance)
