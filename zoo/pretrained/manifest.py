"""Pretrained names: the manifests that map a name to its weights and card.

A manifest is a JSON object keyed by name. Each entry holds `url`
(relative to the manifest, or http(s):// or file://), `sha256` and `size`
of the weights file, the model (name, hyperparameters, the run's config),
`input_shape`, `num_classes`, `class_names`, `preprocessing`, `versions`
and the `card` (test accuracy, recipe command, training time, device);
scripts/publish.py writes them.

Names are looked up first in the zoo's own manifest (shipped with the
package: zoo/pretrained/weights/manifest.json), then in the manifest named
by `$ZOO_PRETRAINED_MANIFEST` (a path or an http(s):// or file:// URL). A
remote manifest is cached, and the cached copy is used (with a warning)
when it cannot be fetched.
"""

import dataclasses
import difflib
import hashlib
import json
import os
import pathlib
import urllib.parse
from typing import Any, Optional

from absl import logging

from zoo import errors
from zoo.pretrained import store
from zoo.runtime import files

PACKAGE_MANIFEST = pathlib.Path(__file__).parent / "weights" / "manifest.json"
MANIFEST_ENV = "ZOO_PRETRAINED_MANIFEST"
MANIFEST_FILE = "manifest.json"
REQUIRED = ("url", "sha256", "size", "config", "input_shape", "num_classes")


@dataclasses.dataclass(frozen=True)
class Entry:
  """One name of a manifest: its JSON `fields`, and where the manifest is."""
  name: str
  fields: dict[str, Any]
  manifest: str  # A local path or an http(s):// URL.

  @property
  def url(self) -> str:
    """The weights' location: an http(s):// URL or a local path."""
    return resolve(self.fields["url"], self.manifest)

  @property
  def test_accuracy(self) -> Optional[float]:
    return (self.fields.get("card") or {}).get("test_accuracy")

  def weights_file(self) -> str:
    """The local path of the verified weights (downloaded if needed)."""
    return store.weights_file(self.name, self.url, self.fields["sha256"],
                              self.fields.get("size"))


def resolve(url: str, manifest: str) -> str:
  """`url` made absolute: a URL, or a path beside a local manifest."""
  scheme = urllib.parse.urlparse(url).scheme
  if scheme in ("http", "https", "file"):
    return url if scheme != "file" else store.local_path(url)
  if store.is_remote(manifest):
    return urllib.parse.urljoin(manifest, url)
  return os.path.join(os.path.dirname(os.path.abspath(manifest)), url)


def _parse(text: str, where: str) -> dict[str, Any]:
  try:
    entries = json.loads(text)
  except ValueError as e:
    raise errors.PretrainedError(
        f"The manifest {where} is not valid JSON ({e}). Fix or remove it."
    ) from None
  if not isinstance(entries, dict):
    raise errors.PretrainedError(
        f"The manifest {where} must be a JSON object keyed by name.")
  for name, entry in entries.items():
    missing = [k for k in REQUIRED if not isinstance(entry, dict)
               or k not in entry]
    if missing:
      raise errors.PretrainedError(
          f"The entry {name!r} of the manifest {where} lacks "
          f"{', '.join(missing)}. Write it with scripts/publish.py.")
  return entries


def _read_remote(url: str) -> dict[str, Any]:
  """A remote manifest; its cached copy if it cannot be fetched."""
  digest = hashlib.sha256(url.encode()).hexdigest()[:16]
  cached = store.cache_dir() / "manifests" / f"{digest}.json"
  try:
    text = store.read_url(url).decode("utf-8")
  except OSError as e:
    if not cached.is_file():
      raise errors.PretrainedError(
          f"Cannot read the manifest {url} (${MANIFEST_ENV}): {e}, and there "
          f"is no cached copy at {cached}. Connect to the network, or unset "
          f"{MANIFEST_ENV}.") from None
    logging.warning("Cannot read the manifest %s (%s); using the copy cached "
                    "at %s.", url, e, cached)
    return _parse(cached.read_text(), url)
  entries = _parse(text, url)
  cached.parent.mkdir(parents=True, exist_ok=True)
  files.write_text(str(cached), text)
  return entries


def read(location: str) -> dict[str, Any]:
  """The entries of the manifest at a local path or URL."""
  if store.is_remote(location):
    return _read_remote(location)
  path = store.local_path(location)
  if not os.path.isfile(path):
    raise errors.PretrainedError(
        f"No manifest at {path} (${MANIFEST_ENV}={location}). Point "
        f"{MANIFEST_ENV} at a manifest.json written by scripts/publish.py, "
        "or unset it.")
  return _parse(pathlib.Path(path).read_text(), path)


def manifests() -> list[str]:
  """The manifests searched, in order: the package's, then
  $ZOO_PRETRAINED_MANIFEST's."""
  extra = os.environ.get(MANIFEST_ENV, "").strip()
  return [str(PACKAGE_MANIFEST)] + ([extra] if extra else [])


def entries() -> dict[str, Entry]:
  """Every pretrained name; a name in an earlier manifest wins."""
  found: dict[str, Entry] = {}
  for location in manifests():
    where = location if store.is_remote(location) else store.local_path(
        location)
    for name, fields in read(location).items():
      found.setdefault(name, Entry(name, fields, where))
  return found


def find(name: str) -> Entry:
  """The entry of `name`; an unknown name lists close matches."""
  known = entries()
  if name in known:
    return known[name]
  close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
  hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
  names = ", ".join(sorted(known)) or "none"
  raise errors.PretrainedError(
      f"Unknown pretrained model {name!r}, and no workdir of that name "
      f"exists.{hint} Pretrained names: {names} (`python launch.py "
      f"--list_pretrained`; more with {MANIFEST_ENV}=path/to/manifest.json).")


def list_pretrained() -> dict[str, Optional[float]]:
  """`{name: test accuracy}` of every pretrained name, sorted by name."""
  return {name: e.test_accuracy for name, e in sorted(entries().items())}


def write_entry(directory: str, name: str, entry: dict[str, Any]) -> str:
  """Adds (or replaces) `name` in DIRECTORY/manifest.json, atomically;
  returns the manifest's path."""
  path = os.path.join(directory, MANIFEST_FILE)
  current = read(path) if os.path.isfile(path) else {}
  current[name] = entry
  files.write_json(path, dict(sorted(current.items())), sort_keys=False)
  return path
