#!/usr/bin/env python3
"""Boot test of a firmware image (make test-firmware).

Boots a copy of the image made by cross/firmware-image.sh in qemu-system
(x86-64: q35 with OVMF, KVM when /dev/kvm opens, else TCG; arm64: the virt
machine with AAVMF under TCG), with user-mode networking: the guest's
edged publishes to a mosquitto on this machine's loopback, which the guest
reaches as 10.0.2.2, and ssh reaches the guest through a forwarded port.
The serial console is kept in <out>/console.log.

Settings reach the guest the way a user's do: files dropped into the boot
partition (an edged/ folder and authorized_keys), written here with mtools.

Checks, from the host: systemd reaches multi-user.target; edged.service is
active only after READY=1 (a start whose broker is away stays activating,
becomes active when the broker appears, and times out as configured when it
never does); results arrive; a hung edged (SIGSTOP) is killed and restarted
by the watchdog; `systemctl reload edged` swaps in a new model without a
restart; the sandbox lets edged read its camera and configuration and write
its state directory and nothing else; after a reboot the results queued
while the broker was away are delivered. Figures go to <out>/report.json.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

CAMERA = "demo"


class Failed(Exception):
    """A check did not pass; the message says which and what was seen."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, timeout: float, f: Callable[[], Any], every: float = 1.0) -> Any:
    """Calls f until it returns something true; fails naming what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = f()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failed(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


class Broker:
    """A mosquitto on 127.0.0.1:port and a subscriber to edged/# writing to a file."""

    def __init__(self, out: Path, port: int, name: str) -> None:
        self.out, self.port, self.name = out, port, name
        self.log = out / f"{name}.messages"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        conf = self.out / f"{self.name}.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        blog = open(self.out / f"{self.name}.log", "ab")
        self.procs.append(subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=blog, stderr=blog))
        wait_until(f"mosquitto on port {self.port}", 10, self._listening, 0.1)
        sub = open(self.log, "ab")
        self.procs.append(subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1", "-v", "-t", "edged/#"],
            stdout=sub, stderr=blog))
        time.sleep(0.5)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []

    def results(self) -> list[dict[str, Any]]:
        """The result payloads received so far, in order."""
        out = []
        if not self.log.exists():
            return out
        for line in self.log.read_text(errors="replace").splitlines():
            topic, _, payload = line.partition(" ")
            parts = topic.split("/")  # edged/<device>/<camera>/result
            if len(parts) == 4 and parts[2] == CAMERA and parts[3] == "result":
                try:
                    out.append(json.loads(payload))
                except json.JSONDecodeError:
                    raise Failed(f"a result that is not JSON: {payload[:200]!r}")
        return out


def kvm_usable(out: Path) -> bool:
    """Whether KVM runs the x86-64 guest's firmware: /dev/kvm opens, and
    OVMF started under it for a few seconds writes to the serial console
    without a KVM error (a nested KVM can fail to emulate its first FPU
    instruction and stop the guest)."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    vars_ = out / "probe-vars.fd"
    shutil.copy("/usr/share/OVMF/OVMF_VARS_4M.fd", vars_)
    console, log = out / "probe-console.log", out / "probe-qemu.log"
    p = subprocess.Popen(["qemu-system-x86_64", "-machine", "q35,accel=kvm", "-cpu", KVM_CPU, "-m", "256",
                          "-display", "none", "-nodefaults", "-serial", f"file:{console}",
                          "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                          "-drive", f"if=pflash,format=raw,file={vars_}"],
                         stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    time.sleep(8)
    alive = p.poll() is None
    p.kill()
    p.wait()
    ok = alive and console.stat().st_size > 0 and "KVM internal error" not in log.read_text(errors="replace")
    for f in (vars_, console, log):
        f.unlink(missing_ok=True)
    return ok


# Without arch-capabilities: a nested KVM (a CI machine that is itself a
# VM) refuses that MSR and qemu aborts at start.
KVM_CPU = "host,-arch-capabilities"


class Guest:
    """The image booted in qemu-system, reached over ssh."""

    def __init__(self, arch: str, disk: Path, out: Path, key: Path) -> None:
        self.arch, self.disk, self.out, self.key = arch, disk, out, key
        self.ssh_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.accel = ""

    def command(self) -> list[str]:
        net = ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22", "-device", "virtio-net-pci,netdev=n0"]
        disk = ["-drive", f"file={self.disk},if=virtio,format=raw,cache=unsafe"]
        common = ["-m", "1024", "-smp", "2", "-display", "none", "-no-user-config", "-nodefaults",
                  "-serial", f"file:{self.out / 'console.log'}", "-device", "virtio-rng-pci"]
        if self.arch == "amd64":
            vars_ = self.out / "OVMF_VARS.fd"
            shutil.copy("/usr/share/OVMF/OVMF_VARS_4M.fd", vars_)
            self.accel = "kvm" if kvm_usable(self.out) else "tcg"
            cpu = KVM_CPU if self.accel == "kvm" else "max"
            return ["qemu-system-x86_64", "-machine", f"q35,accel={self.accel}", "-cpu", cpu,
                    "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                    "-drive", f"if=pflash,format=raw,file={vars_}", *disk, *net, *common]
        vars_ = self.out / "AAVMF_VARS.fd"
        shutil.copy("/usr/share/AAVMF/AAVMF_VARS.fd", vars_)
        self.accel = "tcg"
        return ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a72",
                "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd",
                "-drive", f"if=pflash,format=raw,file={vars_}", *disk, *net, *common]

    def start(self) -> None:
        cmd = self.command()
        (self.out / "qemu.cmd").write_text(" ".join(cmd) + "\n")
        self.proc = subprocess.Popen(cmd, stdout=open(self.out / "qemu.log", "ab"), stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, cmd: str, timeout: float = 60, stdin: bytes | None = None) -> tuple[int, str]:
        """Runs cmd in the guest over ssh: its exit status (-1: no answer) and output."""
        if not self.alive():
            raise Failed(f"qemu exited ({self.proc.returncode if self.proc else '?'}): see {self.out / 'console.log'}")
        args = ["ssh", "-i", str(self.key), "-p", str(self.ssh_port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", "root@127.0.0.1", cmd]
        try:
            r = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return -1, f"no answer in {timeout:.0f} s"
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    def ssh(self, cmd: str, timeout: float = 60, check: bool = True, stdin: bytes | None = None) -> str:
        """Runs cmd in the guest; fails on a non-zero exit when check is set."""
        rc, out = self.run(cmd, timeout, stdin)
        if check and rc != 0:
            raise Failed(f"ssh {cmd[:80]!r}: exit {rc}: {out.strip()[:500]}")
        return out

    def reachable(self) -> bool:
        return self.run("true", timeout=20)[0] == 0

    def boot_id(self) -> str:
        return self.ssh("cat /proc/sys/kernel/random/boot_id").strip()

    def show(self, *props: str) -> dict[str, str]:
        out = self.ssh("systemctl show edged " + " ".join("-p " + p for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def stop(self) -> None:
        if not self.alive():
            return
        self.ssh("systemctl poweroff", timeout=20, check=False)
        try:
            assert self.proc is not None
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def renamed_model(model: bytes) -> bytes:
    """Another valid model: the bundled one with its metadata's name changed."""
    old, new = b"EfficientNet-Lite0 ImageNet int8", b"EfficientNet-Lite0 ImageNet INT8"
    if model.count(old) != 1:
        raise Failed("the model's metadata name is not where the reload check expects it")
    return model.replace(old, new)


def config(broker_port: int, queue: bool = True) -> str:
    return f"""log:
  level: info
broker:
  url: tcp://10.0.2.2:{broker_port}
models:
  - name: m
    path: /etc/edged/m.tflite
    top_k: 3
cameras:
  - name: {CAMERA}
    source: /usr/share/edged/demo/demo.avi
    model: m
    loop: true
    fps: 1
    resize: center-crop
    publish:
      mode: every
queue:
  enabled: {"true" if queue else "false"}
"""


# The sandbox probe, run inside edged's cgroup (its device policy) and mount
# namespace (ProtectSystem, ProtectHome), as the edged user where it says so.
PROBE = r"""
set -u
pid=$(systemctl show -p MainPID --value edged)
cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)
as_edged() { nsenter -t "$pid" -m -- setpriv --reuid=edged --regid=edged --init-groups -- sh -c "$1"; }
as_root() { nsenter -t "$pid" -m -- sh -c "$1"; }
probe() { if out=$($1 "$3" 2>&1); then echo "$2 allowed"; else echo "$2 refused: $out" | head -n1; fi; }
echo $$ > "$cg/cgroup.procs"
probe as_edged read-camera 'head -c 64 /usr/share/edged/demo/demo.avi >/dev/null'
probe as_edged read-config 'cat /etc/edged/edged.yaml >/dev/null'
probe as_edged write-state 'echo probe > /var/lib/edged/.probe && rm /var/lib/edged/.probe'
probe as_edged write-config 'echo probe > /etc/edged/.probe'
probe as_edged write-usr 'echo probe > /usr/share/edged/.probe'
probe as_edged write-var-log 'echo probe > /var/log/.probe'
probe as_edged read-root-home 'ls /root'
probe as_root write-etc-as-root 'echo probe > /etc/.probe'
probe as_root read-disk-as-root 'head -c 1 /dev/vda >/dev/null'
"""

PROBE_WANT = {
    "read-camera": "allowed", "read-config": "allowed", "write-state": "allowed",
    "write-config": "refused", "write-usr": "refused", "write-var-log": "refused",
    "read-root-home": "refused", "write-etc-as-root": "refused", "read-disk-as-root": "refused",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, choices=["amd64", "arm64"])
    ap.add_argument("--image", required=True, type=Path)
    ap.add_argument("--model", required=True, type=Path, help="the bundled model (the reload swaps in a variant)")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    t_start = time.monotonic()
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    report: dict[str, Any] = {"arch": args.arch, "image": str(args.image),
                              "image_mib": round(args.image.stat().st_size / 2**20),
                              "image_used_mib": round(args.image.stat().st_blocks * 512 / 2**20)}

    # The guest's settings, dropped into a copy of the image's boot partition.
    key = out / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    disk = out / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(args.image), str(disk)], check=True)
    port = free_port()
    drop = out / "drop" / "edged"
    drop.mkdir(parents=True)
    (drop / "edged.yaml").write_text(config(port))
    model = args.model.read_bytes()
    shutil.copy(args.model, drop / "m.tflite")
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    esp = f"{disk}@@1M"
    subprocess.run(["mcopy", "-s", "-i", esp, str(drop), "::/"], check=True, env=env)
    subprocess.run(["mcopy", "-i", esp, str(key) + ".pub", "::/authorized_keys"], check=True, env=env)

    broker = Broker(out, port, "broker")
    broker.start()
    guest = Guest(args.arch, disk, out, key)
    failures: list[str] = []

    def check(name: str, f: Callable[[], None]) -> None:
        t0 = time.monotonic()
        try:
            f()
            print(f"ok   {name} ({time.monotonic() - t0:.0f} s)", flush=True)
        except Failed as e:
            failures.append(f"{name}: {e}")
            print(f"FAIL {name}: {e}", flush=True)
        report.setdefault("checks_s", {})[name] = round(time.monotonic() - t0, 1)

    try:
        guest.start()  # on x86-64 after an 8 s probe of KVM
        t_boot = time.monotonic()
        report["accel"] = guest.accel
        scale = 1 if guest.accel == "kvm" else 4  # TCG: everything takes longer

        def boots() -> None:
            wait_until("ssh into the guest", 300 * scale, guest.reachable, 3)
            report["boot_to_ssh_s"] = round(time.monotonic() - t_boot, 1)
            state = guest.ssh("systemctl is-system-running --wait", timeout=300 * scale, check=False).strip()
            if state != "running":
                raise Failed(f"system state {state!r}; failed units: {guest.ssh('systemctl --failed --no-legend', check=False)}")
            if guest.ssh("systemctl is-active multi-user.target", check=False).strip() != "active":
                raise Failed("multi-user.target is not active")
            report["systemd_analyze"] = guest.ssh("systemd-analyze", check=False).strip().splitlines()[0]
            applied = guest.ssh("ls /boot/efi; cmp /boot/efi/edged.applied/edged.yaml /etc/edged/edged.yaml && echo same")
            if "edged.applied" not in applied or "same" not in applied:
                raise Failed(f"the boot partition's edged/ folder was not applied: {applied}")
        check("boots to multi-user.target", boots)
        if failures:
            raise Failed("the guest did not boot")

        sha_a = hashlib.sha256(model).hexdigest()[:12]

        def results_arrive() -> None:
            rs = wait_until(f"3 results on edged/<device>/{CAMERA}/result", 120 * scale,
                            lambda: len(broker.results()) >= 3 and broker.results())
            r = rs[-1]
            if r.get("model", {}).get("sha256") != sha_a or not r.get("labels"):
                raise Failed(f"result {r}: want labels from model {sha_a}")
            # Each box names itself at its first boot (edged-hostname.service).
            host = guest.ssh("hostname").strip()
            if r.get("device") != host or not host.startswith("edged-") or host == "edged-":
                raise Failed(f"device {r.get('device')!r}, host name {host!r}: want edged-<machine id>")
            report["device"] = host
            report["time_to_first_result_s"] = round(time.monotonic() - t_boot, 1)
            report["security"] = guest.ssh("systemd-analyze security edged.service --no-pager | tail -n1", check=False).strip()
        check("results arrive", results_arrive)

        def ready_only_after_ready() -> None:
            # The broker is away and the queue off: edged cannot deliver,
            # so it does not say READY=1 and the unit stays activating.
            port2 = free_port()
            guest.ssh("cat > /etc/edged/never-ready.yaml; chown root:edged /etc/edged/never-ready.yaml; chmod 0640 /etc/edged/never-ready.yaml",
                      stdin=config(port2, queue=False).encode())

            def dropin(timeout: int) -> None:
                guest.ssh("mkdir -p /run/systemd/system/edged.service.d && cat > /run/systemd/system/edged.service.d/test.conf && systemctl daemon-reload",
                          stdin=f"[Service]\nExecStart=\nExecStart=/usr/bin/edged run --config /etc/edged/never-ready.yaml\nTimeoutStartSec={timeout}s\n".encode())
            dropin(120 * scale)
            guest.ssh("systemctl restart --no-block edged")
            seen = set()
            for _ in range(8):
                seen.add(guest.ssh("systemctl is-active edged", check=False).strip())
                time.sleep(1)
            if seen != {"activating"}:
                raise Failed(f"with no way to deliver, edged.service was {sorted(seen)}, want activating only")
            b2 = Broker(out, port2, "broker2")
            b2.start()
            t0 = time.monotonic()
            try:
                wait_until("active once the broker is there", 90 * scale,
                           lambda: guest.ssh("systemctl is-active edged", check=False).strip() == "active")
                report["ready_after_broker_s"] = round(time.monotonic() - t0, 1)
            finally:
                b2.stop()
            # Never ready: the start times out as configured.
            timeout = 15 * scale
            dropin(timeout)
            guest.ssh("systemctl restart --no-block edged")
            wait_until("the start to time out", timeout + 60 * scale,
                       lambda: "start operation timed out" in guest.ssh("journalctl -b -u edged --no-pager | grep -F 'start operation timed out'", check=False), 2)
            report["start_timeout_s"] = timeout
            guest.ssh("rm -r /run/systemd/system/edged.service.d /etc/edged/never-ready.yaml && systemctl daemon-reload && systemctl restart edged",
                      timeout=180 * scale)
            if guest.ssh("systemctl is-active edged", check=False).strip() != "active":
                raise Failed("edged.service is not active again after the readiness checks")
        check("active only after READY=1; a start that never becomes ready times out", ready_only_after_ready)

        def watchdog() -> None:
            s = guest.show("MainPID", "WatchdogUSec", "NRestarts")
            pid, wd = s["MainPID"], int(s["WatchdogUSec"]) / 1e6 if s["WatchdogUSec"].isdigit() else s["WatchdogUSec"]
            n = len(broker.results())
            wait_until("results before the hang", 60 * scale, lambda: len(broker.results()) > n)
            guest.ssh(f"kill -STOP {pid}")
            t0 = time.monotonic()

            def restarted() -> bool:
                s2 = guest.show("MainPID", "ActiveState")
                return s2["MainPID"] not in ("0", pid) and s2["ActiveState"] == "active"
            wait_until("the watchdog to restart the hung edged", 30 + 5 + 60 * scale, restarted, 1)
            took = time.monotonic() - t0
            journal = guest.ssh("journalctl -b -u edged --no-pager | grep -F 'Watchdog timeout'", check=False)
            if "Watchdog timeout" not in journal:
                raise Failed("restarted, but the journal does not say the watchdog did it")
            report["watchdog"] = {"WatchdogSec": wd, "hang_to_active_s": round(took, 1)}
            n = len(broker.results())
            wait_until("results after the watchdog restart", 120 * scale, lambda: len(broker.results()) > n)
        check("the watchdog restarts a hung edged", watchdog)

        def reload_model() -> None:
            new = renamed_model(model)
            sha_b = hashlib.sha256(new).hexdigest()[:12]
            pid = guest.show("MainPID")["MainPID"]
            guest.ssh("cat > /etc/edged/m.tflite.new && chown root:edged /etc/edged/m.tflite.new && chmod 0640 /etc/edged/m.tflite.new"
                      " && mv /etc/edged/m.tflite.new /etc/edged/m.tflite", stdin=new)
            guest.ssh("systemctl reload edged", timeout=120 * scale)
            n = len(broker.results())
            wait_until(f"results from the new model {sha_b}", 120 * scale,
                       lambda: any(r["model"]["sha256"] == sha_b for r in broker.results()[n:]))
            if guest.show("MainPID")["MainPID"] != pid:
                raise Failed("the reload restarted edged")
            report["reload"] = {"from": sha_a, "to": sha_b}
        check("systemctl reload edged swaps in a new model", reload_model)

        def sandbox() -> None:
            got = {}
            for line in guest.ssh(PROBE).splitlines():
                name, _, rest = line.partition(" ")
                got[name] = rest
            bad = {k: got.get(k, "not run") for k, want in PROBE_WANT.items() if not got.get(k, "").startswith(want)}
            report["sandbox"] = got
            if bad:
                raise Failed(f"sandbox: {bad}")
        check("the sandbox: camera, configuration and state only", sandbox)

        def queue_across_reboot() -> None:
            boot = guest.boot_id()
            broker.stop()
            down = time.time()
            n_before = len(broker.results())
            time.sleep(20 * scale)
            pending = guest.ssh("systemctl is-active edged", check=False).strip()
            guest.ssh("systemctl reboot", check=False, timeout=20)
            t0 = time.monotonic()
            def back() -> bool:
                # sshd may take the connection and close it while it starts
                rc, out = guest.run("cat /proc/sys/kernel/random/boot_id", timeout=20)
                return rc == 0 and out.strip() not in ("", boot)
            wait_until("the guest back after the reboot", 300 * scale, back, 3)
            report["reboot_to_ssh_s"] = round(time.monotonic() - t0, 1)
            broker.start()
            up = time.time()

            def delivered() -> list[dict[str, Any]]:
                from datetime import datetime
                got = []
                for r in broker.results()[n_before:]:
                    ts = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
                    if down + 2 < ts < up:
                        got.append(r)
                return got if len(got) >= 5 else []
            rs = wait_until("the results of the broker-less interval", 180 * scale, delivered, 2)
            report["queued_across_reboot"] = {"delivered": len(rs), "edged_before_reboot": pending}
        check("results queued while the broker was away survive a reboot", queue_across_reboot)
    except Failed as e:
        failures.append(str(e))
    finally:
        guest.stop()
        broker.stop()
        report["wall_s"] = round(time.monotonic() - t_start, 1)
        report["failures"] = failures
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        disk.unlink(missing_ok=True)
    print(json.dumps(report, indent=2))
    if failures:
        print(f"test-firmware {args.arch}: FAIL ({len(failures)}); console: {out / 'console.log'}", file=sys.stderr)
        return 1
    print(f"test-firmware {args.arch}: ok in {report['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
