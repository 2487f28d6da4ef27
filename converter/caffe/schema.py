"""The parts of Caffe's protobuf schema that c3d-keras reads, as a ``FileDescriptorProto``.

Built in Python with ``descriptor_pb2``: no ``.proto`` text to parse, no generated
``_pb2.py``, no protoc. Field numbers are Caffe's, for both dialects of C3D files:

* the C3D v1.0 fork (facebook/C3D): ``NetParameter.layers`` = 2 (``V1LayerParameter``:
  name = 4, type = 5, blobs = 6) with 5-D blobs (``num`` = 1, ``channels`` = 2,
  ``length`` = 3, ``height`` = 4, ``width`` = 5, ``data`` = 6, ``diff`` = 7);
* upstream Caffe (BVLC/caffe): ``NetParameter.layer`` = 100 (``LayerParameter``:
  name = 1, type = 2, blobs = 7) with N-D blobs (``shape`` = 7 with ``dim`` = 1,
  ``data`` = 5, ``double_data`` = 8; legacy 4-D ``num``/``channels``/``height``/``width``).

Everything else is left out: protobuf keeps it as unknown fields. The float arrays are
declared ``bytes`` although Caffe declares them ``repeated float [packed = true]``: a
packed field is one length-delimited record of little-endian floats on the wire, exactly
like a bytes field, so the raw buffer goes to numpy (``np.frombuffer``) instead of
78 million Python floats. ``repeated`` because protobuf allows a packed field to be split
over several records.
"""

import functools

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "c3d_keras.caffe"

_F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
INT32, INT64, STRING, BYTES = _F.TYPE_INT32, _F.TYPE_INT64, _F.TYPE_STRING, _F.TYPE_BYTES
PACKED = "packed"

# message -> (field, number, label, scalar type or message name[, PACKED])
MESSAGES = {
    # ---- upstream Caffe
    "BlobShape": [("dim", 1, REPEATED, INT64, PACKED)],
    "BlobProto": [
        ("num", 1, OPTIONAL, INT32),  # the legacy 4-D dimensions, used without `shape`
        ("channels", 2, OPTIONAL, INT32),
        ("height", 3, OPTIONAL, INT32),
        ("width", 4, OPTIONAL, INT32),
        ("data", 5, REPEATED, BYTES),  # packed float
        ("shape", 7, OPTIONAL, "BlobShape"),
        ("double_data", 8, REPEATED, BYTES),  # packed double
    ],
    "LayerParameter": [
        ("name", 1, OPTIONAL, STRING),
        ("type", 2, OPTIONAL, STRING),
        ("blobs", 7, REPEATED, "BlobProto"),
    ],
    # ---- the C3D v1.0 fork
    "C3DBlobProto": [
        ("num", 1, OPTIONAL, INT32),
        ("channels", 2, OPTIONAL, INT32),
        ("length", 3, OPTIONAL, INT32),
        ("height", 4, OPTIONAL, INT32),
        ("width", 5, OPTIONAL, INT32),
        ("data", 6, REPEATED, BYTES),  # packed float
    ],
    "V1LayerParameter": [
        ("name", 4, OPTIONAL, STRING),
        # An enum (LayerType) in Caffe. int32 has the same wire format and keeps type
        # numbers that a list of enum values of our own might not know.
        ("type", 5, OPTIONAL, INT32),
        ("blobs", 6, REPEATED, "C3DBlobProto"),
    ],
    # ---- both
    "NetParameter": [
        ("name", 1, OPTIONAL, STRING),
        ("layers", 2, REPEATED, "V1LayerParameter"),  # the C3D v1.0 fork
        ("layer", 100, REPEATED, "LayerParameter"),  # upstream Caffe
    ],
}


def file_descriptor():
    """The schema as a ``FileDescriptorProto`` (proto2, package ``c3d_keras.caffe``)."""
    file = descriptor_pb2.FileDescriptorProto(
        name="c3d_keras/caffe.proto", package=PACKAGE, syntax="proto2"
    )
    for message_name, fields in MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for name, number, label, kind, *flags in fields:
            field = message.field.add(name=name, number=number, label=label)
            if isinstance(kind, str):
                field.type, field.type_name = _F.TYPE_MESSAGE, f".{PACKAGE}.{kind}"
            else:
                field.type = kind
            if PACKED in flags:
                field.options.packed = True
    return file


@functools.lru_cache(maxsize=1)
def caffe_messages():
    """{message name: message class} of the schema (NetParameter, BlobProto, …)."""
    # A private pool: our names can never clash with another library's caffe.proto.
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
        for name in MESSAGES
    }
