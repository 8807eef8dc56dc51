"""XLA settings that must be made before JAX initialises its backends.

Importing jax does not initialise a backend; the first device query or
computation does, and reads XLA_FLAGS then. `launch.py` and
benchmarks/throughput.py call `apply` before anything touches a device.
The flags are the ones measured in README "Performance".
"""

import os
from typing import Optional

from zoo.runtime import jax_private

# XLA:CPU sends each convolution to a library path that uses about one core;
# this sends them to XLA's own multi-threaded path instead (about 2x faster
# CNN training on 2 cores, see README "Performance").
CPU_FLAGS = (
    "--xla_cpu_experimental_ynn_fusion_type="
    "-LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION",
)


def backends_initialised() -> bool:
  """Whether JAX has created its backends (too late to change XLA flags)."""
  return jax_private.backends_initialised()


def with_default_flags(user_flags: str, defaults: bool = True) -> str:
  """The XLA_FLAGS value: `CPU_FLAGS`, then the user's flags.

  XLA keeps the last value of a repeated flag, so the user's own XLA_FLAGS
  override the defaults flag by flag.
  """
  flags = list(CPU_FLAGS) if defaults else []
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
    raise RuntimeError("xla_setup.apply must run before JAX initialises.")
  user = os.environ.get("XLA_FLAGS", "")
  os.environ["XLA_FLAGS"] = with_default_flags(user, defaults)
  if cpu_devices and "xla_force_host_platform_device_count" not in user:
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_num_cpu_devices", cpu_devices)
  return os.environ["XLA_FLAGS"]
