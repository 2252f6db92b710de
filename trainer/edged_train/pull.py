"""Fetch the labelled samples of one or more edged boxes as one dataset.

Each box serves what was labelled in its browser view as an ImageFolder
tar at ``/api/dataset.tar``. ``pull`` fetches it from every URL given and
merges the class folders into one output folder that ``edged-train train``
reads. The tar comes from the network, so nothing in it is trusted: only
regular files named ``<class>/<file>.jpg`` (or .jpeg/.png) are written,
with class and file names checked, under the output folder only.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import urllib.request
from dataclasses import dataclass, field

_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.,'()+-]{0,99}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.(jpg|jpeg|png)$")
MAX_FILE = 32 << 20


@dataclass
class PullReport:
    """What a pull wrote and skipped."""

    written: dict[str, int] = field(default_factory=dict)  # class -> images
    duplicates: int = 0  # identical images already in the folder
    skipped: list[str] = field(default_factory=list)  # tar entries refused, with why


def dataset_url(url: str) -> str:
    """The dataset tar's URL for a box's base URL (or the tar's own URL)."""
    if url.endswith(".tar"):
        return url
    return url.rstrip("/") + "/api/dataset.tar"


def pull(urls: list[str], out: str, token: str = "", timeout: float = 60.0) -> PullReport:
    """Fetch each box's dataset and merge it into ``out``."""
    os.makedirs(out, exist_ok=True)
    report = PullReport()
    for url in urls:
        req = urllib.request.Request(dataset_url(url))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            with tarfile.open(fileobj=resp, mode="r|") as tar:
                for m in tar:
                    _extract(tar, m, out, report)
    return report


def _extract(tar: tarfile.TarFile, m: tarfile.TarInfo, out: str, report: PullReport) -> None:
    parts = m.name.split("/")
    if not m.isreg():
        report.skipped.append(f"{m.name!r}: not a regular file")
        return
    if len(parts) != 2 or not _CLASS.match(parts[0]) or ".." in parts[0] or not _FILE.match(parts[1]):
        report.skipped.append(f"{m.name!r}: not <class>/<image>")
        return
    if m.size > MAX_FILE:
        report.skipped.append(f"{m.name!r}: {m.size} bytes, larger than {MAX_FILE}")
        return
    f = tar.extractfile(m)
    if f is None:
        report.skipped.append(f"{m.name!r}: unreadable")
        return
    data = f.read(MAX_FILE + 1)
    cls, name = parts
    folder = os.path.join(out, cls)
    os.makedirs(folder, exist_ok=True)
    dst = os.path.join(folder, name)
    if os.path.exists(dst):
        with open(dst, "rb") as old:
            if hashlib.sha256(old.read()).digest() == hashlib.sha256(data).digest():
                report.duplicates += 1
                return
        stem, ext = os.path.splitext(name)
        n = 1
        while os.path.exists(dst):
            dst = os.path.join(folder, f"{stem}-{n}{ext}")
            n += 1
    tmp = dst + ".part"
    with open(tmp, "wb") as w:
        w.write(data)
    os.replace(tmp, dst)
    report.written[cls] = report.written.get(cls, 0) + 1
