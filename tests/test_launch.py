"""launch.py as a user runs it: real subprocesses, real MNIST files; its
one-line errors are checked in-process (`launch_here`), a few of them also
through the real command line."""

import json
import os
import pathlib
import subprocess
import sys
from typing import NamedTuple
import warnings

from absl import flags
import pytest

from conftest import REPO

FAST = ["--config.train.num_epochs=1", "--config.train.batch_size=500",
        "--config.train.eval_batch_size=2000"]


def launch(*args, devices=1, cwd=REPO):
  env = dict(os.environ,
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  return subprocess.run([sys.executable, str(REPO / "launch.py"), *args],
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=300, check=False)


class Exit(NamedTuple):
  returncode: int
  stdout: str
  stderr: str


@pytest.fixture
def launch_here(monkeypatch, capsys):
  """Runs launch.py's flag parser and main in this process, as app.run does;
  returns Exit(returncode, stdout, stderr).

  absl's flags are global: each call starts from unparsed flags and drops
  the --config.<field> flags its parse defined. Models a user module
  registers are dropped too, and launch.py's XLA setup is skipped (this
  process's JAX has started; conftest gave it 2 CPU devices).
  """
  import launch  # pylint: disable=g-import-not-at-top
  from zoo.models import registry  # pylint: disable=g-import-not-at-top
  from zoo.runtime import xla_flags  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(REPO)
  monkeypatch.setattr(xla_flags, "apply", lambda *args, **kwargs: "")
  monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
  defined = set(flags.FLAGS)

  def reset():
    for name in set(flags.FLAGS) - defined:
      delattr(flags.FLAGS, name)
    flags.FLAGS.unparse_flags()

  def run(*args: str) -> Exit:
    argv = [str(REPO / "launch.py"), *args]
    monkeypatch.setattr(sys, "argv", argv)  # config_flags reads overrides.
    capsys.readouterr()
    try:
      with warnings.catch_warnings():  # ml_collections loads configs so.
        warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
        launch.main(launch._parse_flags(argv))  # pylint: disable=protected-access
      returncode = 0
    except SystemExit as e:
      returncode = e.code
    finally:
      reset()
    out = capsys.readouterr()
    return Exit(returncode, out.out, out.err)

  yield run
  reset()


def _results(workdir: pathlib.Path) -> dict:
  return json.loads((workdir / "results.json").read_text())


@pytest.mark.parametrize("recipe,devices", [("logistic", 1), ("mlp", 2),
                                            ("cnn", 2)])
def test_each_recipe_trains_on_mnist_files(mnist_dir, tmp_path, recipe,
                                           devices):
  proc = launch(f"--config=configs/{recipe}.py", f"--workdir={tmp_path}",
                f"--config.data.dir={mnist_dir}", *FAST, devices=devices)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = _results(tmp_path)
  assert results["model"] == recipe and results["dataset"] == "mnist"
  assert results["num_devices"] == devices
  assert results["num_test_examples"] == 10000
  assert results["test_accuracy"] > 0.3  # 10 steps; chance is 0.1.
  assert results["train_seconds"] > 0 and results["test_loss"] > 0
  assert f"accuracy {results['test_accuracy']:.4f}" in proc.stdout  # Summary.


def test_overrides_reach_the_run(mnist_dir, tmp_path):
  proc = launch("--config=configs/mlp.py", f"--workdir={tmp_path}",
                f"--config.data.dir={mnist_dir}", *FAST,
                "--config.model.name=logistic", "--config.seed=3",
                "--config.optimizer.learning_rate=3e-3")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = _results(tmp_path)
  assert results["model"] == "logistic" and results["seed"] == 3
  assert results["config"]["optimizer"]["learning_rate"] == 3e-3
  assert results["steps"] == 9  # 4,500 train (10 % validation) // 500.


def test_list_models_and_datasets():
  proc = launch("--list_models")
  assert proc.returncode == 0
  assert {"cnn", "logistic", "mlp"} <= set(proc.stdout.split())
  proc = launch("--list_datasets")
  assert proc.returncode == 0
  assert {"digits", "mnist"} <= set(proc.stdout.split())


def test_user_model_from_a_file(tmp_path):
  proc = launch("--config=examples/my_net_config.py",
                "--config.data.name=digits", "--config.model.my_net.width=16",
                "--config.train.num_epochs=1", f"--workdir={tmp_path}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = _results(tmp_path)
  assert results["model"] == "my_net" and results["dataset"] == "digits"
  assert results["num_params"] == 64 * 16 + 16 + 16 * 10 + 10
  listed = launch("--config=configs/mlp.py",
                  "--config.model.module=examples/my_net.py", "--list_models")
  assert "my_net" in listed.stdout.split()


@pytest.mark.parametrize("args,message", [
    (["--config.model.name=mpl"], "Did you mean 'mlp'"),
    (["--config.model.nmae=mlp"], "unknown config field"),
    (["--config.train.batch_size=0"], "config.train.batch_size=0"),
    (["--config.train.num_epochs=-1"], "config.train.num_epochs=-1"),
    (["--config.data.dir=/no/such/dir"], "not a directory"),
    (["--config.model.module=/no/such/file.py"], "no such file"),
    (["--config.train.batch_size=abc"], "config.train.batch_size"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args, message, tmp_path,
                                                launch_here):
  proc = launch_here("--config=configs/mlp.py", f"--workdir={tmp_path}",
                     *args)
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
  [line] = proc.stderr.splitlines()
  assert line.startswith("error: ") and message in line


@pytest.mark.parametrize("args,line", [
    (["--config=configs/nope.py"], "error: cannot load "
     "--config=configs/nope.py: no such file. Give the path of a config file "
     "such as configs/mlp.py."),
    (["--config=configs/mlp.py", "--config.train.batch_sise=3"], "error: "
     "unknown config field config.train.batch_sise; did you mean "
     "config.train.batch_size?"),
], ids=["config_file", "config_field"])
def test_the_command_line_prints_one_error_line_and_exits_2(args, line,
                                                            tmp_path):
  """The real command line, as the in-process tests above cannot show."""
  proc = launch(*args, f"--workdir={tmp_path}")
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr == line + "\n"


def test_batch_not_divisible_by_devices_exits_2(tmp_path, launch_here):
  # In-process: conftest's 2 CPU devices.
  proc = launch_here("--config=configs/mlp.py", "--config.data.name=digits",
                     "--config.train.batch_size=129", f"--workdir={tmp_path}")
  assert proc.returncode == 2
  assert "does not divide evenly over the 2 devices" in proc.stderr


@pytest.mark.parametrize("overrides", [[], ["--config.train.num_epochs=3"]])
def test_missing_config_file(tmp_path, overrides, launch_here):
  proc = launch_here("--config=configs/nope.py", f"--workdir={tmp_path}",
                     *overrides)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr == (
      "error: cannot load --config=configs/nope.py: no such file. Give the "
      "path of a config file such as configs/mlp.py.\n")


@pytest.mark.parametrize("field,line", [
    ("train.batch_sise", "error: unknown config field config.train.batch_sise;"
     " did you mean config.train.batch_size?"),
    ("trian.batch_size", "error: unknown config field config.trian.batch_size;"
     " did you mean config.train.batch_size?"),
    ("model.foo.bar", "error: unknown config field config.model.foo.bar "
     "(configs/default.py lists every field)."),
    ("model.mlp.hidden_sizes.0", "error: unknown config field "
     "config.model.mlp.hidden_sizes.0 (configs/default.py lists every field)."),
], ids=["field", "section", "no_close_match", "inside_a_value"])
def test_misspelt_config_field_is_named_alone(field, line, tmp_path,
                                              launch_here):
  proc = launch_here("--config=configs/mlp.py", f"--workdir={tmp_path}",
                     "--config.seed=1", f"--config.{field}=3",
                     "--config.train.num_epochs=1")
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr == line + "\n"


WIDE_NET = '''
import haiku as hk
import zoo


@zoo.register_model("wide_net")
class WideNet(hk.Module):

  def __init__(self, num_classes, name=None):
    super().__init__(name=name)
    self.num_classes = num_classes

  def __call__(self, x, is_training):
    return hk.Linear(self.num_classes + 1)(hk.Flatten()(x))
'''


def test_user_model_breaking_the_contract_exits_2(tmp_path, launch_here):
  module = tmp_path / "wide_net.py"
  module.write_text(WIDE_NET)
  proc = launch_here("--config=configs/mlp.py",
                     f"--config.model.module={module}",
                     "--config.model.name=wide_net",
                     "--config.data.name=digits",
                     "--config.train.num_epochs=1",
                     f"--workdir={tmp_path / 'run'}")
  assert proc.returncode == 2, proc.stderr[-3000:]
  [line] = proc.stderr.splitlines()
  assert line.startswith("error: Model 'wide_net' breaks the registry "
                         "contract: for x of shape (1, 8, 8, 1) it returned "
                         "logits of shape (1, 11), not [batch, num_classes] = "
                         "(1, 10).")
  assert line.endswith(
      'The contract (docs/models.md, section "Register your own model"): '
      "the builder is called inside hk.transform as builder(num_classes=..., "
      "**config.model.wide_net), and the module as module(x, is_training=...)"
      " with x [batch, *input_shape], returning logits [batch, num_classes].")
  assert "Traceback" not in proc.stderr


def test_the_default_workdir_is_one_per_config(tmp_path, launch_here,
                                               monkeypatch):
  """Without --workdir, another config (here: other data) never meets the
  first one's checkpoint; the same command resumes its own run."""
  import launch  # pylint: disable=g-import-not-at-top
  from configs import mlp  # pylint: disable=g-import-not-at-top
  first, other = mlp.get_config(), mlp.get_config()
  other.data.dir = "../shared/data/mnist-5k"
  assert launch.default_workdir(first) == launch.default_workdir(mlp.get_config())
  assert launch.default_workdir(first) != launch.default_workdir(other)
  assert launch.default_workdir(first).startswith(os.path.join("runs", "mlp-"))
  # A run that fails before writing: the folder named, and none left behind.
  out = launch_here("--config=configs/mlp.py", "--config.data.name=mnist",
                    "--config.data.allow_fallback=false",
                    f"--config.data.dir={tmp_path / 'none'}")
  assert out.returncode == 2
  assert "--workdir not given: runs/mlp-" in out.stderr
  folder = out.stderr.split("--workdir not given: ")[1].split(",")[0]
  assert not (REPO / folder).exists()
