"""edged-train pull against a real HTTP server: the boxes' tars merge into
one image folder, the token is sent, and hostile entries are skipped."""

from __future__ import annotations

import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edged_train.cli import main
from edged_train.pull import pull


def _tar(entries: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """A tar of (name, symlink target or None, data) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, link, data in entries:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link.decode()
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def boxes():
    tars: dict[str, bytes] = {}
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            box = self.path.split("/")[1]
            if self.path != f"/{box}/api/dataset.tar" or box not in tars:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            self.end_headers()
            self.wfile.write(tars[box])

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", tars, seen
    srv.shutdown()


def test_pull_merges_boxes(tmp_path: Path, boxes) -> None:
    base, tars, seen = boxes
    tars["a"] = _tar([("cat/1.jpg", None, b"cat one"), ("dog/2.jpg", None, b"dog two")])
    tars["b"] = _tar([("cat/1.jpg", None, b"another cat"), ("cat/3.jpg", None, b"cat three"),
                      ("dog/2.jpg", None, b"dog two")])
    out = tmp_path / "data"
    rep = pull([base + "/a", base + "/b"], str(out), token="t0ken")
    assert rep.written == {"cat": 3, "dog": 1} and rep.duplicates == 1 and not rep.skipped
    assert sorted(p.name for p in (out / "cat").iterdir()) == ["1-1.jpg", "1.jpg", "3.jpg"]
    assert (out / "cat" / "1-1.jpg").read_bytes() == b"another cat"
    assert seen == ["Bearer t0ken", "Bearer t0ken"]


def test_hostile_entries_are_skipped(tmp_path: Path, boxes) -> None:
    base, tars, _ = boxes
    tars["x"] = _tar([
        ("../escape.jpg", None, b"x"), ("/etc/passwd.jpg", None, b"x"), ("cat/../../up.jpg", None, b"x"),
        ("cat/link.jpg", b"/etc/passwd", b""), ("cat/sub/deep.jpg", None, b"x"), ("cat/notes.txt", None, b"x"),
        (".hidden/a.jpg", None, b"x"), ("cat/ok.jpg", None, b"fine"),
    ])
    out = tmp_path / "data"
    rep = pull([base + "/x"], str(out))
    assert rep.written == {"cat": 1} and len(rep.skipped) == 7
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["data/cat/ok.jpg"]


def test_cli(tmp_path: Path, boxes, capsys: pytest.CaptureFixture[str]) -> None:
    base, tars, seen = boxes
    tars["a"] = _tar([("cat/1.jpg", None, b"cat one")])
    (tmp_path / "tok").write_text("secret-token-value\n")
    assert main(["pull", base + "/a", "--out", str(tmp_path / "d"), "--token-file", str(tmp_path / "tok")]) == 0
    assert "1 images written" in capsys.readouterr().out
    assert seen[-1] == "Bearer secret-token-value"
