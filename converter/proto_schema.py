"""Load ``caffe.proto`` at run time as protobuf message classes, without protoc.

The ``protobuf`` library builds message classes from a ``FileDescriptorProto`` but
cannot read ``.proto`` text. Rather than depend on ``grpcio-tools`` for its bundled
protoc (it pins protobuf and grpcio to its own release, which fights TensorFlow's pins
and the protobuf of the Docker base image), this module parses the small proto2 subset
that ``caffe.proto`` is written in:

    syntax = "proto2";   package a.b;   // and /* */ comments
    message Name { (optional|required|repeated) TYPE name = N [packed = true]; ... }
    enum Name { VALUE = N; ... }

TYPE is a scalar type or a message/enum of the same file (top level, no nesting).
Anything else is rejected with the line it is on, so the schema cannot silently mean
something other than what it says.
"""

import functools
import re
from importlib import resources

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SCHEMA_FILE = "caffe.proto"

_FDP = descriptor_pb2.FieldDescriptorProto
SCALAR_TYPES = {
    "double": _FDP.TYPE_DOUBLE,
    "float": _FDP.TYPE_FLOAT,
    "int32": _FDP.TYPE_INT32,
    "int64": _FDP.TYPE_INT64,
    "uint32": _FDP.TYPE_UINT32,
    "uint64": _FDP.TYPE_UINT64,
    "sint32": _FDP.TYPE_SINT32,
    "sint64": _FDP.TYPE_SINT64,
    "fixed32": _FDP.TYPE_FIXED32,
    "fixed64": _FDP.TYPE_FIXED64,
    "sfixed32": _FDP.TYPE_SFIXED32,
    "sfixed64": _FDP.TYPE_SFIXED64,
    "bool": _FDP.TYPE_BOOL,
    "string": _FDP.TYPE_STRING,
    "bytes": _FDP.TYPE_BYTES,
}
LABELS = {
    "optional": _FDP.LABEL_OPTIONAL,
    "required": _FDP.LABEL_REQUIRED,
    "repeated": _FDP.LABEL_REPEATED,
}
# Only numeric types may be packed (wire types varint, 32-bit, 64-bit).
_PACKABLE = set(SCALAR_TYPES) - {"string", "bytes"}

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>//[^\n]*|/\*.*?\*/)
      | (?P<string>"[^"\n]*")
      | (?P<int>-?\d+)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<symbol>[{}=;\[\],])""",
    re.VERBOSE | re.DOTALL,
)


class ProtoSyntaxError(ValueError):
    """A construct outside the supported subset, or a malformed schema."""


class _Tokens:
    def __init__(self, text, source):
        self.source = source
        self.items = []  # (kind, text, line)
        pos, line = 0, 1
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise ProtoSyntaxError(f"{source}:{line}: unexpected character {text[pos]!r}")
            kind, value = match.lastgroup, match.group()
            if kind not in ("space", "comment"):
                self.items.append((kind, value, line))
            line += value.count("\n")
            pos = match.end()
        self.pos = 0

    def error(self, message):
        line = self.items[min(self.pos, len(self.items) - 1)][2] if self.items else 1
        return ProtoSyntaxError(f"{self.source}:{line}: {message}")

    def peek(self):
        return self.items[self.pos][1] if self.pos < len(self.items) else None

    def take(self, kind=None, value=None):
        if self.pos >= len(self.items):
            raise self.error(f"unexpected end of file (expected {value or kind})")
        item_kind, item, _ = self.items[self.pos]
        if (kind and item_kind != kind) or (value and item != value):
            raise self.error(f"expected {value or kind}, found {item!r}")
        self.pos += 1
        return item


def _parse_options(tokens, field, type_name):
    tokens.take("symbol", "[")
    while True:
        option = tokens.take("ident")
        if option != "packed":
            raise tokens.error(f"unsupported field option {option!r} (only packed)")
        tokens.take("symbol", "=")
        value = tokens.take("ident")
        if value not in ("true", "false"):
            raise tokens.error(f"packed must be true or false, not {value!r}")
        if value == "true":
            if type_name not in _PACKABLE or field.label != _FDP.LABEL_REPEATED:
                raise tokens.error(f"field {field.name}: only repeated numbers can be packed")
            field.options.packed = True
        if tokens.peek() != ",":
            break
        tokens.take("symbol", ",")
    tokens.take("symbol", "]")


def _parse_field(tokens, message, type_refs):
    label = tokens.take("ident")
    if label not in LABELS:
        raise tokens.error(f"expected a field label (optional/required/repeated), found {label!r}")
    type_name = tokens.take("ident")
    field = message.field.add(name=tokens.take("ident"), label=LABELS[label])
    tokens.take("symbol", "=")
    field.number = int(tokens.take("int"))
    if not 1 <= field.number <= 536870911:
        raise tokens.error(f"field {field.name}: number {field.number} out of range")
    if tokens.peek() == "[":
        _parse_options(tokens, field, type_name)
    tokens.take("symbol", ";")
    if type_name in SCALAR_TYPES:
        field.type = SCALAR_TYPES[type_name]
    else:
        type_refs.append((field, type_name, tokens.items[tokens.pos - 1][2]))


def _parse_message(tokens, file_proto, type_refs):
    message = file_proto.message_type.add(name=tokens.take("ident"))
    tokens.take("symbol", "{")
    numbers = set()
    while tokens.peek() != "}":
        if tokens.peek() in ("message", "enum"):
            raise tokens.error("nested messages and enums are not supported")
        _parse_field(tokens, message, type_refs)
        number = message.field[-1].number
        if number in numbers:
            raise tokens.error(f"message {message.name}: field number {number} used twice")
        numbers.add(number)
    tokens.take("symbol", "}")


def _parse_enum(tokens, file_proto):
    enum = file_proto.enum_type.add(name=tokens.take("ident"))
    tokens.take("symbol", "{")
    while tokens.peek() != "}":
        value = enum.value.add(name=tokens.take("ident"))
        tokens.take("symbol", "=")
        value.number = int(tokens.take("int"))
        tokens.take("symbol", ";")
    tokens.take("symbol", "}")
    if not enum.value:
        raise tokens.error(f"enum {enum.name} has no values")


def parse_proto(text, source="<proto>"):
    """Parse proto2 text in the subset above into a ``FileDescriptorProto``."""
    tokens = _Tokens(text, source)
    file_proto = descriptor_pb2.FileDescriptorProto(name=source)  # proto2: no syntax field
    type_refs = []  # (field, type name, line): resolved once every message is known
    if tokens.peek() == "syntax":
        tokens.take()
        tokens.take("symbol", "=")
        syntax = tokens.take("string").strip('"')
        if syntax != "proto2":
            raise tokens.error(f'only syntax = "proto2" is supported, not "{syntax}"')
        tokens.take("symbol", ";")
    if tokens.peek() == "package":
        tokens.take()
        file_proto.package = tokens.take("ident")
        tokens.take("symbol", ";")
    while tokens.peek() is not None:
        keyword = tokens.take("ident")
        if keyword == "message":
            _parse_message(tokens, file_proto, type_refs)
        elif keyword == "enum":
            _parse_enum(tokens, file_proto)
        else:
            raise tokens.error(f"unsupported statement {keyword!r}")
    prefix = f".{file_proto.package}." if file_proto.package else "."
    messages = {m.name for m in file_proto.message_type}
    enums = {e.name for e in file_proto.enum_type}
    for field, type_name, line in type_refs:
        if type_name in messages:
            field.type = _FDP.TYPE_MESSAGE
        elif type_name in enums:
            field.type = _FDP.TYPE_ENUM
        else:
            raise ProtoSyntaxError(f"{source}:{line}: unknown type {type_name!r}")
        field.type_name = prefix + type_name
    return file_proto


def message_classes_from_text(text, source="<proto>"):
    """{message name: message class} for proto2 text, in a pool of its own."""
    file_proto = parse_proto(text, source)
    # A private pool: our names can never clash with another library's caffe.proto.
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    package = f"{file_proto.package}." if file_proto.package else ""
    return {
        m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(package + m.name))
        for m in file_proto.message_type
    }


@functools.lru_cache(maxsize=1)
def caffe_messages():
    """The message classes of ``converter/caffe.proto`` (NetParameter, BlobProto, …)."""
    text = resources.files("converter").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return message_classes_from_text(text, SCHEMA_FILE)
