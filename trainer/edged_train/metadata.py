"""TFLite model metadata carrying class labels.

edged (internal/modelfile) and the TFLite support tools read labels the
same way: the model's ``metadata`` vector has an entry named
``TFLITE_METADATA`` pointing at a buffer holding a ``ModelMetadata``
flatbuffer (metadata_schema.fbs, file identifier ``M001``); its output
tensor metadata lists an ``AssociatedFile`` of type TENSOR_AXIS_LABELS
(``labels.txt``), and that file is stored in a zip archive appended to the
model. We write the tables with the flatbuffers builder directly:

- ModelMetadata: 0 name, 1 description, 2 version, 3 subgraph_metadata,
  4 author, 5 license, 6 associated_files, 7 min_parser_version
- SubGraphMetadata: 0 name, 1 description, 2 input_tensor_metadata,
  3 output_tensor_metadata
- TensorMetadata: 0 name, 1 description, ..., 6 associated_files
- AssociatedFile: 0 name, 1 description, 2 type (byte; 2 = TENSOR_AXIS_LABELS)
"""

from __future__ import annotations

import io
import zipfile
from typing import Sequence

import flatbuffers

LABELS_FILE = "labels.txt"
TENSOR_AXIS_LABELS = 2


def _table(b: flatbuffers.Builder, fields: list[tuple[int, str, object]]) -> int:
    """Write a table; fields are (slot, kind, value) with kind 'off' or 'u8'."""
    b.StartObject(max(s for s, _, _ in fields) + 1)
    for slot, kind, value in fields:
        if kind == "off":
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "u8":
            b.PrependUint8Slot(slot, value, 0)
    return b.EndObject()


def _vector(b: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def model_metadata(name: str, description: str, version: str, author: str, license_: str,
                   input_name: str = "image", output_name: str = "probability") -> bytes:
    """A ModelMetadata flatbuffer whose output lists labels.txt."""
    b = flatbuffers.Builder(1024)
    fname = b.CreateString(LABELS_FILE)
    fdesc = b.CreateString("Class names, one per line, in output index order.")
    afile = _table(b, [(0, "off", fname), (1, "off", fdesc), (2, "u8", TENSOR_AXIS_LABELS)])
    files = _vector(b, [afile])
    out_name = b.CreateString(output_name)
    out_desc = b.CreateString("Probability of each class.")
    out_md = _table(b, [(0, "off", out_name), (1, "off", out_desc), (6, "off", files)])
    in_name = b.CreateString(input_name)
    in_desc = b.CreateString("RGB image, raw pixel values 0..255.")
    in_md = _table(b, [(0, "off", in_name), (1, "off", in_desc)])
    ins, outs = _vector(b, [in_md]), _vector(b, [out_md])
    sg = _table(b, [(2, "off", ins), (3, "off", outs)])
    sgs = _vector(b, [sg])
    strs = [b.CreateString(s) for s in (name, description, version, author, license_)]
    mv = b.CreateString("1.0.0")
    root = _table(b, [(0, "off", strs[0]), (1, "off", strs[1]), (2, "off", strs[2]), (3, "off", sgs),
                      (4, "off", strs[3]), (5, "off", strs[4]), (7, "off", mv)])
    b.Finish(root, file_identifier=b"M001")
    return bytes(b.Output())


def attach(model: bytes, metadata: bytes, labels: Sequence[str]) -> bytes:
    """Return the model with TFLITE_METADATA added and labels.txt appended as zip."""
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    buf = schema.BufferT()
    buf.data = list(metadata)
    m.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = "TFLITE_METADATA"
    entry.buffer = len(m.buffers) - 1
    m.metadata = [e for e in (m.metadata or []) if e.name not in (b"TFLITE_METADATA", "TFLITE_METADATA")] + [entry]
    b = flatbuffers.Builder(len(model) + len(metadata) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    packed = bytes(b.Output())
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as zf:
        info = zipfile.ZipInfo(LABELS_FILE, date_time=(1980, 1, 1, 0, 0, 0))  # fixed date: reproducible
        zf.writestr(info, "\n".join(labels) + "\n")
    return packed + z.getvalue()


def read_labels(model: bytes) -> list[str]:
    """Read labels.txt back from a model's appended zip (used by tests)."""
    with zipfile.ZipFile(io.BytesIO(model)) as zf:
        return zf.read(LABELS_FILE).decode().splitlines()
