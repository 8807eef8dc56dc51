"""XLA flags set before JAX starts, and the persistent compilation cache."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest

from zoo.runtime import compile_cache
from zoo.runtime import jax_private
from zoo.runtime import xla_flags

from conftest import REPO


def _child(code: str, env: dict[str, str]) -> str:
  out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, **env}, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  return out.stdout


def test_user_flags_come_last_and_win():
  flags = xla_flags.with_default_flags("--xla_foo=1")
  assert flags.split() == [*xla_flags.CPU_FLAGS, "--xla_foo=1"]
  assert xla_flags.with_default_flags("", defaults=False) == ""
  with pytest.raises(RuntimeError, match="before JAX initialises"):
    jax.devices()  # This process's backends exist.
    xla_flags.apply()


@pytest.mark.parametrize("user_flags,cpu_devices,expected", [
    ("", 2, 2),
    ("--xla_force_host_platform_device_count=3", 2, 3),  # The user wins.
    ("", None, 1),
])
def test_apply_before_jax_starts(user_flags, cpu_devices, expected):
  code = f"""
      from zoo.runtime import xla_flags
      flags = xla_flags.apply(cpu_devices={cpu_devices})
      import jax, os
      print(jax.local_device_count(), os.environ["XLA_FLAGS"])
  """
  out = _child(code, {"XLA_FLAGS": user_flags}).split()
  assert int(out[0]) == expected
  assert out[1:1 + len(xla_flags.CPU_FLAGS)] == list(xla_flags.CPU_FLAGS)


def test_cpu_flags_only_where_jax_starts_the_cpu_backend_alone(monkeypatch):
  assert xla_flags.cpu_only("cpu")
  assert not xla_flags.cpu_only("cuda")
  assert not xla_flags.cpu_only("cuda,cpu")  # The CUDA plugin reads them too.
  monkeypatch.setattr(xla_flags, "accelerator_plugins", lambda: [])
  assert xla_flags.cpu_only("")
  monkeypatch.setattr(xla_flags, "accelerator_plugins",
                      lambda: ["jax_plugins.xla_cuda12"])
  assert not xla_flags.cpu_only("")  # JAX would start the GPU too.
  monkeypatch.setattr(xla_flags, "cpu_only", lambda platforms=None: False)
  assert xla_flags.with_default_flags("--xla_foo=1") == "--xla_foo=1"


def test_flags_the_installed_xla_lacks_are_left_out(tmp_path):
  library = tmp_path / "libfake_xla.so"
  library.write_bytes(b"\0\0xla_cpu_known_flag\0Some help text.\0")
  assert xla_flags.known_flags(
      ["--xla_cpu_known_flag=1", "--xla_cpu_renamed_flag=2"],
      [str(library)]) == ["--xla_cpu_known_flag=1"]
  # This jaxlib defines the zoo's flags: they stay on here.
  assert xla_flags.known_flags(xla_flags.CPU_FLAGS) == list(
      xla_flags.CPU_FLAGS)


def test_a_gpu_launch_gets_no_cpu_flags():
  code = """
      from zoo.runtime import xla_flags
      print(repr(xla_flags.apply()))
  """
  out = _child(code, {"JAX_PLATFORMS": "cuda", "XLA_FLAGS": "--xla_foo=1"})
  assert out.strip() == repr("--xla_foo=1")


def test_backends_initialised_only_after_the_first_device_query():
  code = """
      from zoo.runtime import xla_flags
      import jax, jax.numpy as jnp
      before = xla_flags.backends_initialised()
      jnp.zeros(2).block_until_ready()
      print(before, xla_flags.backends_initialised())
  """
  assert _child(code, {}).split() == ["False", "True"]


def test_backends_initialised_is_false_if_jax_moves_its_private_api(
    monkeypatch):
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
  jax.devices()
  assert jax_private.backends_initialised()
  monkeypatch.delattr(xla_bridge, "backends_are_initialized")
  assert not jax_private.backends_initialised()


def test_launcher_records_its_xla_flags(mnist_dir, tmp_path):
  env = {**os.environ, "XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
  cmd = [sys.executable, str(REPO / "launch.py"),
         "--config=configs/logistic.py", f"--config.data.dir={mnist_dir}",
         f"--workdir={tmp_path}", "--config.train.num_epochs=1",
         f"--config.train.compilation_cache_dir={tmp_path / 'cache'}",
         "--config.report.plots=False", "--config.report.tensorboard=False"]
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       cwd=REPO, env=env, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["xla_flags"].split() == [*xla_flags.CPU_FLAGS,
                                          "--xla_cpu_enable_fast_math=false"]
  assert 0 < results["seconds_to_first_step"]
  assert os.listdir(tmp_path / "cache")  # The compiled steps were cached.


def test_resolve_cache_dir(monkeypatch, tmp_path):
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
  assert compile_cache.resolve("auto") == str(tmp_path / "haiku-zoo" / "jax")
  assert compile_cache.resolve("") is None
  assert compile_cache.resolve("~/x") == os.path.expanduser("~/x")


def test_enable_caches_compiled_programs(tmp_path):
  path = compile_cache.enable(str(tmp_path / "cache"))
  try:
    jax.jit(lambda x: x * 3 + 1)(jnp.arange(7.0)).block_until_ready()
    assert os.listdir(path)
  finally:  # Leave later tests with no cache, as they started.
    jax.config.update("jax_compilation_cache_dir", None)
    compile_cache._active.clear()  # pylint: disable=protected-access
    compile_cache.compilation_cache.reset_cache()
