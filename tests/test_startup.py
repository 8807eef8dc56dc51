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
  assert flags.split() == [*xla_flags.cpu_flags(), "--xla_foo=1"]
  assert xla_flags.with_default_flags("", defaults=False) == ""


def test_cpu_devices_too_late_fail_by_jax_own_check(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "")
  jax.devices()  # This process's backends exist.
  with pytest.raises(RuntimeError, match="before backends are initialized"):
    xla_flags.apply(cpu_devices=jax.device_count() + 1)
  assert not os.environ["XLA_FLAGS"]  # Left as it was.


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
  flags = xla_flags.cpu_flags()
  assert flags and out[1:1 + len(flags)] == list(flags)


def test_the_pinned_jaxlib_accepts_the_table_flags():
  flags = xla_flags.cpu_flags()
  assert flags, (f"no row for jaxlib {xla_flags.jaxlib_version()} in "
                 "xla_flags.CPU_FLAGS_BY_JAXLIB: test its flags, add one")
  code = """
      import jax, jax.numpy as jnp
      ones = jnp.ones((1, 1, 8, 8))  # A convolution: the flag's own path.
      print(float(jax.lax.conv(ones, jnp.ones((1, 1, 3, 3)), (1, 1),
                               "SAME").sum()))
  """
  for extra, accepted in (("", True), (" --xla_cpu_no_such_flag=1", False)):
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
        text=True, timeout=120, check=False,
        env={**os.environ, "JAX_PLATFORMS": "cpu",
             "XLA_FLAGS": " ".join(flags) + extra})
    if accepted:
      assert out.returncode == 0, out.stderr[-2000:]
      assert "Unknown flag" not in out.stderr, out.stderr[-2000:]
      assert out.stdout.strip() == "484.0"  # 36*9 + 24*6 + 4*4.
    else:  # The check itself: XLA refuses a flag it does not define.
      assert out.returncode != 0 and "Unknown flag" in out.stderr


def test_an_untested_jaxlib_gets_no_flags(monkeypatch):
  monkeypatch.setattr(xla_flags, "cpu_only", lambda platforms=None: True)
  monkeypatch.setattr(xla_flags, "jaxlib_version", lambda: (99, 1))
  said = []  # absl's INFO lines (caplog misses them once absl's verbosity
  # was lowered by an earlier test).
  monkeypatch.setattr(xla_flags.logging, "info",
                      lambda msg, *args: said.append(msg % args))
  assert xla_flags.with_default_flags("--xla_foo=1") == "--xla_foo=1"
  assert any("No zoo XLA:CPU flags for jaxlib 99.1 (tested: 0.10)" in line
             for line in said), said
  assert xla_flags.cpu_flags((99, 1)) == ()
  assert xla_flags.cpu_flags((0, 10)) == xla_flags.CPU_FLAGS_BY_JAXLIB[0, 10]


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


def test_a_gpu_launch_gets_no_cpu_flags():
  code = """
      from zoo.runtime import xla_flags
      print(repr(xla_flags.apply()))
  """
  out = _child(code, {"JAX_PLATFORMS": "cuda", "XLA_FLAGS": "--xla_foo=1"})
  assert out.strip() == repr("--xla_foo=1")


def test_launcher_records_its_xla_flags(mnist_dir, tmp_path):
  """launch.py applies the flags before JAX starts: --cpu_devices=2 takes
  (JAX refuses it once its backends exist), and results.json records them."""
  env = {**os.environ, "XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
  cmd = [sys.executable, str(REPO / "launch.py"),
         "--config=configs/logistic.py", f"--config.data.dir={mnist_dir}",
         f"--workdir={tmp_path}", "--config.train.num_epochs=1",
         "--cpu_devices=2",
         f"--config.train.compilation_cache_dir={tmp_path / 'cache'}",
         "--config.report.plots=False", "--config.report.tensorboard=False"]
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       cwd=REPO, env=env, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["xla_flags"].split() == [*xla_flags.cpu_flags(),
                                          "--xla_cpu_enable_fast_math=false"]
  assert results["num_devices"] == 2
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
