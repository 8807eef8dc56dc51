"""XLA settings that must be made before JAX initialises its backends.

Importing jax does not initialise a backend; the first device query or
computation does, and reads XLA_FLAGS then. `launch.py` and
benchmarks/throughput.py call `apply` before anything touches a device.
The flags are the ones measured in docs/performance.md.

XLA reads XLA_FLAGS in every backend it starts (the CPU client, and each
accelerator plugin, which carries its own copy of XLA) and aborts the
process on a flag it does not define. So `CPU_FLAGS` are added only where
JAX will start its CPU backend alone (`cpu_only`) and the installed jaxlib
defines each flag (`known_flags`): a GPU or TPU launch, or a jaxlib that
renamed an experimental flag, runs without them instead of failing.
"""

import functools
import glob
import importlib.util
import mmap
import os
import pkgutil
from importlib import metadata
from typing import Optional, Sequence

from zoo.runtime import jax_private

# XLA:CPU sends each convolution to a library path that uses about one core;
# this sends them to XLA's own multi-threaded path instead (about 2x faster
# CNN training on 2 cores, see docs/performance.md).
CPU_FLAGS = (
    "--xla_cpu_experimental_ynn_fusion_type="
    "-LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION",
)


def backends_initialised() -> bool:
  """Whether JAX has created its backends (too late to change XLA flags)."""
  return jax_private.backends_initialised()


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


def _jaxlib_libraries() -> tuple[str, ...]:
  """jaxlib's shared libraries over 1 MiB (those holding XLA itself)."""
  import jaxlib  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(jaxlib.__file__)
  paths = [p for pattern in ("*.so*", "*.dylib", "*.pyd")
           for p in glob.glob(os.path.join(root, "**", pattern),
                              recursive=True)]
  return tuple(sorted(p for p in paths if os.path.getsize(p) > 1 << 20))


@functools.lru_cache(maxsize=None)
def _defined_in(name: str, libraries: tuple[str, ...]) -> bool:
  """Whether the flag `name` is spelled out in one of `libraries` (XLA
  registers each flag by its name: a flag it lacks appears nowhere)."""
  needle = name.encode()
  for path in libraries:
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0,
                                          access=mmap.ACCESS_READ) as m:
      if m.find(needle) >= 0:
        return True
  return False


def known_flags(flags: Sequence[str],
                libraries: Optional[Sequence[str]] = None) -> list[str]:
  """The `flags` ('--name=value') that the installed XLA defines, looked up
  in `libraries` (default: jaxlib's own, about 0.1 s per flag)."""
  libraries = tuple(_jaxlib_libraries() if libraries is None else libraries)
  return [f for f in flags
          if _defined_in(f.lstrip("-").split("=", 1)[0], libraries)]


def default_flags() -> list[str]:
  """The `CPU_FLAGS` this process can use: none unless `cpu_only()`."""
  return known_flags(CPU_FLAGS) if cpu_only() else []


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

  `cpu_devices` splits the host CPU into that many JAX devices, unless
  the user's XLA_FLAGS already set --xla_force_host_platform_device_count.
  Raises RuntimeError if JAX's backends already exist.
  """
  if backends_initialised():
    raise RuntimeError("xla_flags.apply must run before JAX initialises.")
  user = os.environ.get("XLA_FLAGS", "")
  os.environ["XLA_FLAGS"] = with_default_flags(user, defaults)
  if cpu_devices and "xla_force_host_platform_device_count" not in user:
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_num_cpu_devices", cpu_devices)
  return os.environ["XLA_FLAGS"]
