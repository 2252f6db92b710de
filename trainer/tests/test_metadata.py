"""Labels embedded as TFLite metadata: written by edged_train.metadata, read
back here by walking the flatbuffers by hand with the slot numbers of the
official metadata_schema.fbs (not with the writer's own code)."""

from __future__ import annotations

import io
import zipfile

import flatbuffers
import numpy as np
import pytest
from flatbuffers import encode, packer
from flatbuffers.table import Table

from edged_train import metadata

from conftest import REPO


def _root(buf: bytes, ident: bytes) -> Table:
    assert buf[4:8] == ident, f"file identifier {buf[4:8]!r}, want {ident!r}"
    data = bytearray(buf)
    return Table(data, encode.Get(packer.uoffset, data, 0))


def _field(t: Table, slot: int) -> int:
    return t.Offset(4 + 2 * slot)


def _string(t: Table, slot: int) -> str | None:
    o = _field(t, slot)
    return t.String(o + t.Pos).decode() if o else None


def _tables(t: Table, slot: int) -> list[Table]:
    o = _field(t, slot)
    if not o:
        return []
    start, n = t.Vector(o), t.VectorLen(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(n)]


def _u8(t: Table, slot: int) -> int:
    o = _field(t, slot)
    return t.Get(flatbuffers.number_types.Uint8Flags, o + t.Pos) if o else 0


def read_metadata(model: bytes) -> dict:
    """Find TFLITE_METADATA in a .tflite and decode the parts edged uses."""
    m = _root(model, b"TFL3")
    # tflite schema.fbs Model: 0 version, 1 operator_codes, 2 subgraphs,
    # 3 description, 4 buffers, 5 metadata_buffer, 6 metadata
    buffers = _tables(m, 4)
    entries = {_string(e, 0): e.Get(flatbuffers.number_types.Uint32Flags, _field(e, 1) + e.Pos)
               for e in _tables(m, 6)}
    assert "TFLITE_METADATA" in entries, f"metadata entries {list(entries)}"
    b = buffers[entries["TFLITE_METADATA"]]
    o = _field(b, 0)  # Buffer.data: [ubyte]
    raw = bytes(b.Bytes[b.Vector(o):b.Vector(o) + b.VectorLen(o)])
    md = _root(raw, b"M001")
    # ModelMetadata: 0 name, 3 subgraph_metadata; SubGraphMetadata: 2 inputs,
    # 3 outputs; TensorMetadata: 0 name, 6 associated_files;
    # AssociatedFile: 0 name, 2 type
    sg = _tables(md, 3)[0]
    out = _tables(sg, 3)[0]
    files = [(_string(f, 0), _u8(f, 2)) for f in _tables(out, 6)]
    return {"name": _string(md, 0), "inputs": len(_tables(sg, 2)), "output_files": files}


def _labels_from_zip(model: bytes, name: str) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(model)) as z:
        return z.read(name).decode().splitlines()


@pytest.fixture(scope="module")
def tiny_model() -> bytes:
    """A real (float) TFLite model of 4 outputs, converted by TensorFlow."""
    import tensorflow as tf

    w = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))

    @tf.function(input_signature=[tf.TensorSpec([1, 3], tf.float32)])
    def f(x):
        return tf.nn.softmax(tf.matmul(x, w))

    return tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()


def test_round_trip(tiny_model: bytes) -> None:
    labels = ["car", "truck", "person", "empty, nobody"]
    md = metadata.model_metadata("gate", "gate classes", "1", "tests", "MIT")
    out = metadata.attach(tiny_model, md, labels)
    got = read_metadata(out)
    assert got == {"name": "gate", "inputs": 1, "output_files": [("labels.txt", 2)]}, got
    assert _labels_from_zip(out, "labels.txt") == labels
    assert metadata.read_labels(out) == labels


def test_interpreter_still_runs(tiny_model: bytes) -> None:
    from ai_edge_litert.interpreter import Interpreter

    out = metadata.attach(tiny_model, metadata.model_metadata("m", "d", "1", "a", "l"), list("abcd"))
    it = Interpreter(model_content=out)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.ones((1, 3), np.float32))
    it.invoke()
    p = it.get_tensor(it.get_output_details()[0]["index"])
    assert p.shape == (1, 4) and abs(float(p.sum()) - 1) < 1e-5


def test_attach_is_reproducible(tiny_model: bytes) -> None:
    md = metadata.model_metadata("m", "d", "1", "a", "l")
    assert metadata.attach(tiny_model, md, ["x", "y"]) == metadata.attach(tiny_model, md, ["x", "y"])


def test_default_model_metadata() -> None:
    model = (REPO / "models" / "efficientnet_lite0_int8.tflite").read_bytes()
    got = read_metadata(model)
    assert got["output_files"] == [("labels.txt", 2)], got
    assert _labels_from_zip(model, "labels.txt") == (REPO / "models" / "labels.txt").read_text().splitlines()
