"""The few ONNX protobuf messages the ONNX export writes, spelled with the standard library.

Protocol buffers' wire format is small and documented
(https://protobuf.dev/programming-guides/encoding/): a message is a sequence of fields, each
a key ``(field_number << 3) | wire_type`` as a varint followed by the value — a varint
(wire type 0: ints, enums), 4 little-endian bytes (wire type 5: float) or a varint length
and that many bytes (wire type 2: strings, bytes, nested messages, packed arrays). Writing
it ourselves keeps the ``onnx`` package (and its protobuf runtime) out of nnstudio's
dependencies; the tests check what we write with the official ``onnx.checker``.

Field numbers are those of ``onnx/onnx.proto`` (proto2; ONNX 1.8+, unchanged since): only
the fields the export needs. Repeated scalar fields not declared ``[packed = true]`` in
onnx.proto (``dims``, ``ints``) are written unpacked, one key per element, as proto2 does.
Every function returns the encoded message as ``bytes``; nesting is concatenation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

# -- the wire format -----------------------------------------------------------------------------

_VARINT, _FIXED32, _LENGTH_DELIMITED = 0, 5, 2
_UINT64_MASK = (1 << 64) - 1


def varint(value: int) -> bytes:
    """Base-128 varint of an int64/uint64; a negative int64 is written as its 64-bit two's
    complement (ten bytes), as protobuf does for ``int64`` fields."""
    value = int(value) & _UINT64_MASK
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def int_field(field: int, value: int) -> bytes:
    """An int32/int64/enum field."""
    return _key(field, _VARINT) + varint(value)


def float_field(field: int, value: float) -> bytes:
    """A ``float`` field (IEEE single, little-endian)."""
    return _key(field, _FIXED32) + struct.pack("<f", float(value))


def bytes_field(field: int, data: bytes) -> bytes:
    """A length-delimited field: bytes, or an encoded nested message."""
    return _key(field, _LENGTH_DELIMITED) + varint(len(data)) + data


def string_field(field: int, text: str) -> bytes:
    """A ``string`` field (UTF-8)."""
    return bytes_field(field, text.encode("utf-8"))


def repeated_ints(field: int, values: Iterable[int]) -> bytes:
    """An unpacked ``repeated int64`` field: one key and varint per value."""
    return b"".join(int_field(field, v) for v in values)


# -- ONNX element types and attribute kinds (onnx.proto enums) -----------------------------------

FLOAT = 1  # TensorProto.DataType.FLOAT
_ATTRIBUTE_FLOAT, _ATTRIBUTE_INT, _ATTRIBUTE_STRING, _ATTRIBUTE_INTS = 1, 2, 3, 7

AttributeValue = int | float | str | Sequence[int]


# -- ONNX messages ----------------------------------------------------------------------------------

def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto: a float32 initializer ``name`` with ``array``'s shape (a 0-d array is a
    scalar) and its values as little-endian ``raw_data``."""
    values = np.asarray(array, dtype="<f4")  # not ascontiguousarray: it turns a scalar into shape (1,)
    return (repeated_ints(1, values.shape)          # dims
            + int_field(2, FLOAT)                    # data_type
            + string_field(8, name)                  # name
            + bytes_field(9, values.tobytes(order="C")))  # raw_data


def attribute(name: str, value: AttributeValue) -> bytes:
    """AttributeProto: an int, float, string or list of ints, with its ``type`` set (the
    checker requires it)."""
    head = string_field(1, name)
    if isinstance(value, int):  # bool too
        return head + int_field(3, int(value)) + int_field(20, _ATTRIBUTE_INT)
    if isinstance(value, float):
        return head + float_field(2, value) + int_field(20, _ATTRIBUTE_FLOAT)
    if isinstance(value, str):
        return head + bytes_field(4, value.encode("utf-8")) + int_field(20, _ATTRIBUTE_STRING)
    return head + repeated_ints(8, (int(v) for v in value)) + int_field(20, _ATTRIBUTE_INTS)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str,
         **attributes: AttributeValue) -> bytes:
    """NodeProto of the default (ai.onnx) domain; an empty input name is an omitted optional input."""
    return (b"".join(string_field(1, i) for i in inputs)
            + b"".join(string_field(2, o) for o in outputs)
            + string_field(3, name)
            + string_field(4, op_type)
            + b"".join(bytes_field(5, attribute(k, v)) for k, v in attributes.items()))


def value_info(name: str, dims: Sequence[int | str], elem_type: int = FLOAT) -> bytes:
    """ValueInfoProto of a tensor: an int dimension is fixed, a str one is a named dynamic
    dimension (``"batch"``)."""
    dimensions = b"".join(
        bytes_field(1, string_field(2, d) if isinstance(d, str) else int_field(1, d)) for d in dims)
    tensor_type = int_field(1, elem_type) + bytes_field(2, dimensions)      # elem_type, shape
    return string_field(1, name) + bytes_field(2, bytes_field(1, tensor_type))  # name, type.tensor_type


def string_entry(key: str, value: str) -> bytes:
    """StringStringEntryProto (one ``metadata_props`` entry)."""
    return string_field(1, key) + string_field(2, value)


def graph(name: str, nodes: Sequence[bytes], initializers: Sequence[bytes], inputs: Sequence[bytes],
          outputs: Sequence[bytes], doc: str = "") -> bytes:
    """GraphProto from encoded nodes, initializer tensors and input/output value infos."""
    return (b"".join(bytes_field(1, n) for n in nodes)
            + string_field(2, name)
            + b"".join(bytes_field(5, t) for t in initializers)
            + (string_field(10, doc) if doc else b"")
            + b"".join(bytes_field(11, i) for i in inputs)
            + b"".join(bytes_field(12, o) for o in outputs))


def model(graph_bytes: bytes, ir_version: int, opset: int, producer: str, producer_version: str,
          metadata: dict[str, str], doc: str = "") -> bytes:
    """ModelProto: one graph importing the default operator set at ``opset``."""
    opset_import = string_field(1, "") + int_field(2, opset)  # domain "" = ai.onnx
    return (int_field(1, ir_version)
            + string_field(2, producer)
            + string_field(3, producer_version)
            + (string_field(6, doc) if doc else b"")
            + bytes_field(7, graph_bytes)
            + bytes_field(8, opset_import)
            + b"".join(bytes_field(14, string_entry(k, v)) for k, v in metadata.items()))
