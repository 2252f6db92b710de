"""Checkpoints: ``checkpoints/best.pt`` and ``checkpoints/last.pt``, written
by ``train`` after every epoch and read back to resume a run, to export it
and to evaluate it.

Checkpoints hold only plain Python types and tensors, so they load on the
torch 1.13 of Debian and on current torch releases alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from . import archs
from .data import Sample, Split


def torch_load(path: str) -> Any:
    """torch.load of our own files on every torch version (2.6 changed the default)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch without the weights_only argument
        return torch.load(path, map_location="cpu")


def folder(out_dir: str) -> str:
    """Where a run writing to `out_dir` keeps its checkpoints."""
    return os.path.join(out_dir, "checkpoints")


def samples_to_json(samples: Sequence[Sample]) -> list[list[Any]]:
    """A checkpoint's sample list: [path, label] per image."""
    return [[s.path, s.label] for s in samples]


def samples_from_json(items: Sequence[Sequence[Any]]) -> list[Sample]:
    """Inverse of the checkpoint's sample lists."""
    return [Sample(str(p), int(label)) for p, label in items]


def run_meta(arch: archs.Arch, size: int, split: Split, config: dict) -> dict:
    """What best.pt and last.pt both record about a run: enough to rebuild,
    export and evaluate its model without the run's flags."""
    return {"arch": arch.name, "classes": split.classes, "size": size, "img_size": size, "mean": list(arch.mean),
            "std": list(arch.std), "config": config, "train_files": samples_to_json(split.train),
            "val_files": samples_to_json(split.val), "skipped": [list(s) for s in split.skipped]}


@dataclass
class RunState:
    """How far a run has come: last.pt saves it after each epoch, ``--resume``
    reads it back."""

    epoch: int = 0  # the last finished epoch
    history: list[dict] = field(default_factory=list)  # one record per finished epoch
    best_acc: float = -1.0
    best_epoch: int = 0
    best_model: dict | None = None  # the best epoch's state dict, on the CPU


def save(out_dir: str, meta: dict, state: RunState, model: nn.Module, opt: Any, sched: Any, scaler: Any) -> None:
    """Write best.pt (the best epoch's weights) and last.pt (the current
    weights and everything `resume` needs) into ``folder(out_dir)``."""
    torch.save({**meta, "model": state.best_model, "epoch": state.best_epoch, "val_acc": state.best_acc},
               os.path.join(folder(out_dir), "best.pt"))
    torch.save({**meta, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None, "epoch": state.epoch,
                "history": state.history, "best_acc": state.best_acc, "best_epoch": state.best_epoch,
                "best_model": state.best_model},
               os.path.join(folder(out_dir), "last.pt"))


def resume(path: str, arch: str, classes: list[str], model: nn.Module, opt: Any, sched: Any,
           scaler: Any) -> RunState:
    """Load a last.pt of the same architecture and classes into this run's
    model, optimizer, scheduler and (when both have one) gradient scaler;
    returns where the saved run stood."""
    ck = torch_load(path)
    if ck.get("arch") != arch or ck.get("classes") != classes:
        raise ValueError(f"resume {path}: checkpoint is {ck.get('arch')} with classes {ck.get('classes')}, "
                         f"this run is {arch} with {classes}")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    if scaler is not None and ck.get("scaler"):
        scaler.load_state_dict(ck["scaler"])
    return RunState(ck["epoch"], ck["history"], ck["best_acc"], ck["best_epoch"], ck.get("best_model"))


def load_checkpoint(path: str) -> tuple[nn.Module, dict]:
    """Rebuild the model saved in a checkpoint (best.pt or last.pt) with its weights."""
    ck = torch_load(path)
    for key in ("arch", "classes", "model"):
        if key not in ck:
            raise ValueError(f"checkpoint {path}: no {key!r} entry (not written by edged-train?)")
    model = archs.build(ck["arch"], len(ck["classes"]))
    model.load_state_dict(ck["model"])
    return model.eval(), ck
