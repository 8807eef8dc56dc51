"""Reading what the report hooks wrote."""

import pathlib
import struct


def tensorboard_scalars(path):
  """{tag: [(step, value)]} from a TFRecord file of tensorboardX events."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  data, i, out = pathlib.Path(path).read_bytes(), 0, {}
  while i < len(data):
    (n,) = struct.unpack("<Q", data[i:i + 8])
    event = event_pb2.Event.FromString(data[i + 12:i + 12 + n])
    for v in event.summary.value:
      out.setdefault(v.tag, []).append((event.step, v.simple_value))
    i += 12 + n + 4
  return out
