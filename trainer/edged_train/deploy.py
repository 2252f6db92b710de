"""Hand a trained model to edged's signed fleet deployment.

The companion does not sign or publish anything itself: it runs
``edged deploy`` (docs/fleet.md), which holds the signing logic, on the
model folder an export wrote (``model.tflite`` and ``labels.txt``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field


@dataclass
class DeployTarget:
    """Where and how a trained model is deployed."""

    broker: str
    key: str
    group: str = ""
    devices: list[str] = field(default_factory=list)
    slot: str = "default"
    canary: int = 0
    username: str = ""
    password_file: str = ""
    edged: str = "edged"  # the edged binary: a path, or a name on PATH
    timeout: str = ""  # how long edged deploy follows the rollout ("15m"); "" keeps its default

    def check(self) -> None:
        """Raise ValueError naming what is missing or contradictory."""
        if not self.broker:
            raise ValueError("--deploy needs --broker")
        if not self.key:
            raise ValueError("--deploy needs --key (the NAME.key of `edged keygen`)")
        if bool(self.group) == bool(self.devices):
            raise ValueError("--deploy needs --group or --deploy-device (one of them)")
        if self.canary and not self.group:
            raise ValueError("--canary needs --group")
        if self.canary < 0:
            raise ValueError(f"--canary {self.canary}: must be 0 or more")


def command(model_dir: str, t: DeployTarget) -> list[str]:
    """The ``edged deploy`` command line that deploys the model in
    ``model_dir`` to ``t``."""
    t.check()
    model = os.path.join(model_dir, "model.tflite")
    cmd = [t.edged, "deploy", "--broker", t.broker, "--key", t.key, "--model", model, "--slot", t.slot]
    labels = os.path.join(model_dir, "labels.txt")
    if os.path.exists(labels):
        cmd += ["--labels", labels]
    if t.group:
        cmd += ["--group", t.group]
    for d in t.devices:
        cmd += ["--device", d]
    if t.canary:
        cmd += ["--canary", str(t.canary)]
    if t.username:
        cmd += ["--username", t.username]
    if t.password_file:
        cmd += ["--password-file", t.password_file]
    if t.timeout:
        cmd += ["--timeout", t.timeout]
    return cmd


def deploy(model_dir: str, t: DeployTarget) -> int:
    """Run ``edged deploy`` for the model in ``model_dir``; its table goes
    to this process's output. Returns its exit status."""
    cmd = command(model_dir, t)
    if not os.path.exists(cmd[cmd.index("--model") + 1]):
        raise OSError(f"{model_dir}: no model.tflite to deploy")
    if shutil.which(t.edged) is None:
        raise OSError(f"{t.edged!r} not found: give --edged PATH (the edged binary that signs and publishes)")
    return subprocess.run(cmd, check=False).returncode
