"""Tiny runs to publish, and a local HTTP server to download them from.

Everything stays on this machine: the server listens on 127.0.0.1 on a port
the OS picks.
"""

import contextlib
import functools
import http.server
import os
import pathlib
import threading
from typing import Iterator

from configs import default
from zoo import experiment


def tiny_config(**fields):
  """A 16-unit MLP on the bundled digits for 1 epoch (20 steps), no plots
  or TensorBoard; `fields` set dotted fields, e.g. {'ensemble.size': 2}."""
  config = default.get_config()
  config.data.name, config.data.allow_fallback = "digits", False
  config.model.mlp.hidden_sizes = (16,)
  config.train.num_epochs, config.train.batch_size = 1, 64
  config.train.eval_batch_size = 400
  config.report.plots = config.report.tensorboard = False
  config.report.progress_bar = False
  config.update_from_flattened_dict(fields)
  return config


def train(workdir: pathlib.Path, **fields) -> str:
  """Trains `tiny_config(**fields)` into `workdir`; returns it."""
  experiment.train_and_evaluate(tiny_config(**fields), str(workdir))
  return str(workdir)


class _Handler(http.server.SimpleHTTPRequestHandler):
  """Serves a folder; paths in `truncate` get their full Content-Length but
  only half of their bytes before the connection closes."""
  truncate: frozenset[str] = frozenset()

  def do_GET(self):  # pylint: disable=invalid-name
    name = self.path.lstrip("/")
    if name not in self.truncate:
      return super().do_GET()
    body = pathlib.Path(self.directory, name).read_bytes()
    self.send_response(200)
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    self.wfile.write(body[:len(body) // 2])
    self.wfile.flush()
    self.close_connection = True
    return None

  def log_message(self, *args):  # Quiet.
    pass


@contextlib.contextmanager
def serve(directory: os.PathLike, truncate: tuple[str, ...] = ()
         ) -> Iterator[str]:
  """Serves `directory` at the yielded http://127.0.0.1:PORT until exit."""
  handler = type("Handler", (_Handler,), {"truncate": frozenset(truncate)})
  server = http.server.ThreadingHTTPServer(
      ("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}"
  finally:
    server.shutdown()
    server.server_close()
    thread.join()
