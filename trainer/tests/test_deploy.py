"""The hand-off to `edged deploy`: the command line, its checks, and a real
run that signs and publishes a model folder to a real mosquitto."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from edged_train.cli import main
from edged_train.deploy import DeployTarget, command, deploy

from conftest import EDGED, REPO


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    shutil.copy(REPO / "models" / "efficientnet_lite0_int8.tflite", d / "model.tflite")
    shutil.copy(REPO / "models" / "labels.txt", d / "labels.txt")
    return d


def test_command_has_the_model_labels_and_targets(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    cmd = command(str(d), DeployTarget(broker="tcp://b:1883", key="op.key", group="north", canary=2, slot="door"))
    assert cmd[:2] == ["edged", "deploy"]
    pairs = dict(zip(cmd[2::2], cmd[3::2]))
    assert pairs == {"--broker": "tcp://b:1883", "--key": "op.key", "--model": str(d / "model.tflite"),
                     "--slot": "door", "--labels": str(d / "labels.txt"), "--group": "north", "--canary": "2"}


@pytest.mark.parametrize("target, message", [
    (DeployTarget(broker="", key="k", group="g"), "--broker"),
    (DeployTarget(broker="tcp://b", key="", group="g"), "--key"),
    (DeployTarget(broker="tcp://b", key="k"), "--group or --deploy-device"),
    (DeployTarget(broker="tcp://b", key="k", group="g", devices=["d"]), "--group or --deploy-device"),
    (DeployTarget(broker="tcp://b", key="k", devices=["d"], canary=1), "--canary needs --group"),
])
def test_bad_targets_are_named(target: DeployTarget, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        target.check()


def test_train_checks_the_deployment_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No data folder exists: the deploy flags are refused first.
    code = main(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--deploy", "--broker", "tcp://b"])
    assert code == 1
    assert "--key" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deploy_signs_and_publishes(tmp_path: Path) -> None:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not EDGED.exists() or not Path(mosquitto).exists():
        pytest.skip("needs bin/edged (make build) and mosquitto")
    port = _free_port()
    broker = subprocess.Popen([mosquitto, "-p", str(port)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        subprocess.run([str(EDGED), "keygen", "--out", str(tmp_path / "op")], check=True, capture_output=True)
        d = _folder(tmp_path)
        t = DeployTarget(broker=f"tcp://127.0.0.1:{port}", key=str(tmp_path / "op.key"), devices=["nobody"],
                         edged=str(EDGED), timeout="3s")
        # Nobody answers: edged deploy publishes, waits 3 s for a status, and fails.
        assert deploy(str(d), t) == 1
        got = subprocess.run(["mosquitto_sub", "-p", str(port), "-t", "edged/nobody/deploy", "-C", "1", "-W", "5"],
                             check=True, capture_output=True).stdout
        env = json.loads(got)
        manifest = json.loads(base64.b64decode(env["manifest"]))
        want = hashlib.sha256((d / "model.tflite").read_bytes()).hexdigest()
        assert manifest["model"]["model"]["sha256"] == want
        assert manifest["model"]["labels"]["sha256"] == hashlib.sha256((d / "labels.txt").read_bytes()).hexdigest()
        assert manifest["devices"] == ["nobody"] and len(env["signatures"]) == 1
    finally:
        broker.kill()
        broker.wait()
