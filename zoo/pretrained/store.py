"""Where a pretrained model's weights file comes from: the package, the
cache, or a download checked against its sha256.

A manifest entry's `url` is relative to its manifest, or http(s):// or
file://. Local files (shipped in the package, beside a local manifest, or
file://) are read in place. Remote ones are kept in the cache,
`$ZOO_CACHE_DIR/pretrained/` (default `~/.cache/haiku-zoo/pretrained/`): a
download streams into a temporary file in that folder, is checked against
the entry's size and sha256, and only then renamed into place, so the cache
never holds a partial or wrong file.
"""

import hashlib
import http.client
import os
import pathlib
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

from absl import logging

from zoo import errors

CACHE_ENV = "ZOO_CACHE_DIR"
DEFAULT_CACHE = "~/.cache/haiku-zoo"
TIMEOUT_S = 30.0  # Seconds without an answer before a download gives up.
_CHUNK = 1 << 20


def cache_dir() -> pathlib.Path:
  """`$ZOO_CACHE_DIR`, else ~/.cache/haiku-zoo (not created here)."""
  return pathlib.Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def file_stem(name: str) -> str:
  """A name as one file name: 'fashion_mnist/mlp' -> 'fashion_mnist-mlp'."""
  return name.replace("/", "-")


def cached_path(name: str, sha256: str) -> pathlib.Path:
  """The cache's copy of `name`'s weights with this sha256 (a republished
  name gets a new file)."""
  return (cache_dir() / "pretrained" /
          f"{file_stem(name)}-{sha256[:16]}.safetensors")


def is_remote(url: str) -> bool:
  return urllib.parse.urlparse(url).scheme in ("http", "https")


def local_path(url: str) -> str:
  """The path of a file:// URL or a plain path."""
  parsed = urllib.parse.urlparse(url)
  if parsed.scheme == "file":
    return urllib.request.url2pathname(parsed.path)
  return url


def file_sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    while chunk := f.read(_CHUNK):
      h.update(chunk)
  return h.hexdigest()


def weights_file(name: str, url: str, sha256: str,
                 size: Optional[int]) -> str:
  """The local path of `name`'s verified weights: in place for a local
  `url`, else the cached copy, downloading it first if needed."""
  if not is_remote(url):
    path = local_path(url)
    if not os.path.isfile(path):
      raise errors.PretrainedError(
          f"The weights of pretrained {name!r} should be at {path}, but no "
          "such file exists. Publish the run again (scripts/publish.py) or "
          "fix the manifest's url.")
    got = file_sha256(path)
    if got != sha256:
      raise errors.PretrainedError(
          f"{path} (pretrained {name!r}) has sha256 {got}, but the manifest "
          f"expects {sha256}. Publish the run again or fix the manifest.")
    return path
  target = cached_path(name, sha256)
  if target.is_file():
    if file_sha256(str(target)) == sha256:
      return str(target)
    logging.warning("The cached %s does not match its sha256; downloading "
                    "it again.", target)
    target.unlink()
  download(name, url, target, sha256, size)
  return str(target)


def download(name: str, url: str, target: pathlib.Path, sha256: str,
             size: Optional[int]) -> None:
  """Streams `url` into `target`'s folder, checks it, then renames it into
  place; on any failure no file is left behind."""
  target.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                             suffix=".part")
  logging.info("Downloading pretrained %s from %s to %s", name, url, target)
  try:
    h, received = hashlib.sha256(), 0
    with os.fdopen(fd, "wb") as out:
      try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
          while chunk := response.read(_CHUNK):
            out.write(chunk)
            h.update(chunk)
            received += len(chunk)
      except http.client.IncompleteRead as e:
        received += len(e.partial)
      except urllib.error.HTTPError as e:
        raise errors.PretrainedError(
            f"Cannot download pretrained {name!r}: {url} answered HTTP "
            f"{e.code} ({e.reason}). Check the manifest's url.") from None
      except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise errors.PretrainedError(
            f"Cannot download pretrained {name!r} from {url} ({reason}), and "
            f"there is no cached copy at {target}. Connect to the network and "
            "try again, or copy the file there.") from None
    if size is not None and received != size:
      raise errors.PretrainedError(
          f"The download of pretrained {name!r} from {url} stopped after "
          f"{received} of {size} bytes; nothing was cached. Try again.")
    got = h.hexdigest()
    if got != sha256:
      raise errors.PretrainedError(
          f"The download of pretrained {name!r} from {url} has sha256 {got}, "
          f"but the manifest expects {sha256}; it was deleted, nothing was "
          "cached. The file or the manifest is wrong: publish the run again "
          "(scripts/publish.py).")
    os.replace(tmp, target)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def read_url(url: str) -> bytes:
  """The body at an http(s):// URL (a remote manifest); OSError if it cannot
  be read."""
  try:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
      return response.read()
  except (urllib.error.URLError, http.client.HTTPException) as e:
    raise OSError(getattr(e, "reason", None) or e) from None
