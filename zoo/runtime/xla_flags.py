"""XLA flags, set before JAX starts its backends.

Contract: call `apply` before anything touches a JAX device. Importing jax
starts no backend; the first device query or computation does, and reads
XLA_FLAGS then, once. JAX has no public way to ask whether that has
happened, so the zoo does not ask: `launch.py` calls `apply` first thing in
`main`, before it imports the rest of the zoo, and benchmarks/*.py call it
before their first device query. Flags set later are ignored by the backend
that already exists (the run is slower, not wrong); a late `cpu_devices`
fails loudly, by JAX's own check of `jax_num_cpu_devices`.

Which flags: `CPU_FLAGS_BY_JAXLIB` holds the flags measured in docs/performance.md, under each jaxlib release line they were tested with
(tests/test_startup.py starts the pinned jaxlib with them). XLA reads
XLA_FLAGS in every backend it starts (the CPU client, and each accelerator
plugin, which carries its own copy of XLA) and aborts the process on a flag
it does not define. So the flags are added only where JAX will start its
CPU backend alone (`cpu_only`) and only for a jaxlib in the table: a GPU or
TPU launch, or an untested jaxlib (logged at INFO), runs without them.
"""

import importlib.util
from importlib import metadata
import os
import pkgutil
import re
from typing import Optional

from absl import logging

# jaxlib (major, minor) -> the XLA:CPU flags tested with it. XLA:CPU sends
# each convolution to a library path that uses about one core; the flag
# sends them to XLA's own multi-threaded path instead (about 2x faster CNN
# training on 2 cores, see docs/performance.md). Add a row only after
# tests/test_startup.py passes with that jaxlib.
CPU_FLAGS_BY_JAXLIB: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 10): ("--xla_cpu_experimental_ynn_fusion_type="
              "-LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION",),
}


def jaxlib_version() -> Optional[tuple[int, int]]:
  """The installed jaxlib's (major, minor), e.g. (0, 10); None if unknown."""
  try:
    version = metadata.version("jaxlib")
  except metadata.PackageNotFoundError:
    return None
  match = re.match(r"(\d+)\.(\d+)", version)
  return (int(match.group(1)), int(match.group(2))) if match else None


def cpu_flags(version: Optional[tuple[int, int]] = None) -> tuple[str, ...]:
  """The flags tested with jaxlib `version` (default: the installed one);
  none for a jaxlib not in `CPU_FLAGS_BY_JAXLIB`."""
  if version is None:
    version = jaxlib_version()
  return CPU_FLAGS_BY_JAXLIB.get(version, ())


def accelerator_plugins() -> list[str]:
  """The JAX accelerator plugins installed (not imported): `jax_plugins`
  modules and entry points, as JAX discovers them, and libtpu."""
  found = [f"entry point {e.name}"
           for e in metadata.entry_points(group="jax_plugins")]
  spec = importlib.util.find_spec("jax_plugins")
  if spec is not None and spec.submodule_search_locations:
    found += [f"jax_plugins.{m.name}"
              for m in pkgutil.iter_modules(spec.submodule_search_locations)]
  if importlib.util.find_spec("libtpu") is not None:
    found.append("libtpu")
  return found


def cpu_only(platforms: Optional[str] = None) -> bool:
  """Whether JAX will start only its CPU backend: `platforms` (default:
  `jax.config.jax_platforms`, i.e. JAX_PLATFORMS) names just 'cpu', or it
  is unset and no accelerator plugin is installed."""
  if platforms is None:
    import jax  # pylint: disable=g-import-not-at-top  (no backend starts)
    platforms = jax.config.jax_platforms or ""
  names = {p.strip() for p in platforms.split(",") if p.strip()}
  if names:
    return names == {"cpu"}
  return not accelerator_plugins()


def default_flags() -> list[str]:
  """The flags of `CPU_FLAGS_BY_JAXLIB` this process can use: none unless
  `cpu_only()` and the installed jaxlib is in the table."""
  if not cpu_only():
    return []
  version = jaxlib_version()
  if version not in CPU_FLAGS_BY_JAXLIB:
    logging.info(
        "No zoo XLA:CPU flags for jaxlib %s (tested: %s); XLA_FLAGS as given.",
        ".".join(map(str, version)) if version else "(unknown version)",
        ", ".join(".".join(map(str, v)) for v in sorted(CPU_FLAGS_BY_JAXLIB)))
  return list(cpu_flags(version))


def with_default_flags(user_flags: str, defaults: bool = True) -> str:
  """The XLA_FLAGS value: `default_flags()`, then the user's flags.

  XLA keeps the last value of a repeated flag, so the user's own XLA_FLAGS
  override the defaults flag by flag.
  """
  flags = default_flags() if defaults else []
  if user_flags.strip():
    flags.append(user_flags.strip())
  return " ".join(flags)


def apply(defaults: bool = True, cpu_devices: Optional[int] = None) -> str:
  """Sets XLA_FLAGS (and the CPU device count, if given); returns XLA_FLAGS.

  Call before anything touches a JAX device (see the module docstring).
  `cpu_devices` splits the host CPU into that many JAX devices, unless the
  user's XLA_FLAGS already set --xla_force_host_platform_device_count; JAX
  raises RuntimeError if its backends already exist then.
  """
  user = os.environ.get("XLA_FLAGS", "")
  if cpu_devices and "xla_force_host_platform_device_count" not in user:
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_num_cpu_devices", cpu_devices)
  os.environ["XLA_FLAGS"] = with_default_flags(user, defaults)
  return os.environ["XLA_FLAGS"]
