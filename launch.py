r"""Trains and evaluates a zoo model: flags only; the loop is zoo.train.

  python launch.py --config=configs/mlp.py --workdir=runs/mlp
  python launch.py --config=configs/mlp.py --workdir=runs/mlp   # resumes
  python launch.py --config=configs/mlp.py --workdir=runs/mlp --mode=eval
  python launch.py --config=configs/cnn.py --config.train.num_epochs=3
  python launch.py --list_models
  python launch.py --list_pretrained
  python launch.py --config=configs/fashion_mnist.py:mlp --config.init.from=fashion_mnist/mlp
  python launch.py --mode=export --workdir=runs/mlp  # runs/mlp/export/
  python launch.py --compare runs/mlp runs/cnn

Several processes/machines: the same command on each, plus
  --coordinator_address=HOST:PORT --num_processes=N --process_id=i
(docs/distributed.md; scripts/local_cluster.sh tries it on one box).
"""

import difflib
import keyword
import logging as std_logging
import os
import re
import shlex
import signal
import sys
from typing import Optional

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Recipe file, e.g. configs/mlp.py; override any field "
    "with --config.<field>=<value>.", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Where checkpoints, config.json and results.json go; "
    "a run resumes from the latest checkpoint there. Default: "
    "runs/<model>-<hash of the config>, one folder per config.")
_MODE = flags.DEFINE_enum(
    "mode", "train", ["train", "eval", "export"], "train: train (resuming "
    "from --workdir's latest checkpoint), then evaluate. eval: only "
    "re-evaluate --workdir's latest checkpoint on the test split. export: "
    "write WORKDIR/export/model.jaxexport for serving (docs/pretrained.md).")
_LIST_MODELS = flags.DEFINE_bool(
    "list_models", False, "Print the registered model names and exit. With "
    "--config, models from config.model.module are listed too.")
_CONFIG_HELP = flags.DEFINE_bool(
    "config_help", False, "Print every field of --config (the --config.<field>"
    "=<value> overrides) with its value in that config and a one-line doc, "
    "and exit (docs/config.md lists the defaults).")
_COMPARE = flags.DEFINE_bool(
    "compare", False, "Print the key results of the workdirs given as "
    "arguments side by side and exit: --compare runs/mlp runs/cnn.")
_XLA_DEFAULTS = flags.DEFINE_bool(
    "xla_defaults", True, "Put the zoo's measured XLA:CPU flags "
    "(zoo/runtime/xla_flags.py, docs/performance.md) before your own "
    "XLA_FLAGS, which still win flag by flag. --noxla_defaults: XLA_FLAGS as "
    "given.")
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices", None, "On CPU, split the host into this many JAX "
    "devices (data-parallel pmap over them). Default: 1 (faster here, see "
    "docs/performance.md). XLA_FLAGS=--xla_force_host_platform_device_count"
    "=N takes precedence.", lower_bound=1)
_LIST_PRETRAINED = flags.DEFINE_bool(
    "list_pretrained", False, "Print the pretrained names (zoo.load(NAME), "
    "--config.init.from=NAME) with their test accuracy and exit.")
_LIST_DATASETS = flags.DEFINE_bool(
    "list_datasets", False, "Print the names accepted by --config.data.name "
    "and exit.")

_COORDINATOR_ADDRESS = flags.DEFINE_string(
    "coordinator_address", None, "Multi-process runs: HOST:PORT of the "
    "machine running --process_id=0, with a free port; the same on every "
    "process.")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Multi-process runs: how many processes run this "
    "command (1: single-process, even inside a cluster JAX detects).")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "Multi-process runs: this process's number, "
    "0..num_processes-1; process 0 writes the results.")


def _fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def _config_arg(argv: list[str]) -> Optional[str]:
  """The last value of --config=FILE[:ARG] in argv, if any."""
  value = None
  for i, arg in enumerate(argv):
    match = re.fullmatch(r"--?config(?:=(.*))?", arg)
    if match:
      value = match.group(1)
      if value is None:  # --config FILE
        value = argv[i + 1] if i + 1 < len(argv) else ""
  return value


def _fail_config_file(config_arg: str) -> None:
  """Exits with the one-line error for a --config file that cannot load."""
  path = config_arg.split(":", 1)[0]
  reason = "is a directory" if os.path.isdir(path) else "no such file"
  _fail(f"cannot load --config={path}: {reason}. Give the path of a config "
        "file such as configs/mlp.py.")


def _override_fields(argv: list[str]) -> list[str]:
  """The fields overridden by --config.<field>=... in argv, e.g. 'seed'."""
  fields = []
  for arg in argv:
    match = re.match(r"--?(?:no)?config\.([^=]+)", arg)
    if match:
      fields.append(match.group(1))
  return fields


def _unknown_field_message(config, field: str) -> Optional[str]:
  """Why config has no `field` ('train.batch_sise'), or None if it has it."""
  parts = field.split(".")
  node, known = config, True
  for i, part in enumerate(parts):
    names = list(node.keys()) if hasattr(node, "keys") else []
    if part not in names:
      known = False
      close = difflib.get_close_matches(part, names, n=1)
      if not close:
        break
      parts[i] = part = close[0]
    node = node[part]
  else:
    if known:
      return None
    return (f"unknown config field config.{field}; did you mean "
            f"config.{'.'.join(parts)}?")
  return (f"unknown config field config.{field} (configs/default.py lists "
          "every field).")


def _quote_keywords(arg: str) -> str:
  """--config.init.from=X -> --config.init["from"]=X: ml_collections parses
  a field path as Python, in which `from` is a keyword."""
  match = re.match(r"(--?config)\.([\w.]+)(=.*)?$", arg, re.DOTALL)
  if not match or not any(keyword.iskeyword(p)
                          for p in match.group(2).split(".")):
    return arg
  head, *rest = match.group(2).split(".")
  path = head + "".join(f'["{p}"]' if keyword.iskeyword(p) else f".{p}"
                        for p in rest)
  return f"{match.group(1)}.{path}{match.group(3) or ''}"


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parser, with one-line messages for bad --config files or fields."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    # A config file that rejects its argument says why in a ConfigError.
    reason = re.search(r"ConfigError: (.*)", str(e))
    if reason:
      _fail(reason.group(1))
    # Several lines only for a traceback from the config file's own code.
    separator = "\n" if "\n" in str(e) else " "
    _fail(f"{e}{separator}(see `python launch.py --helpfull`).")
  except (AttributeError, KeyError, TypeError, ValueError, OSError) as e:
    # ml_collections fails so on a missing --config file or unknown field.
    _explain_bad_config(argv, e)
  return []


def _explain_bad_config(argv: list[str], error: Exception) -> None:
  """Exits with a one-line message for `error`, or re-raises it."""
  config_arg = _config_arg(argv)
  if config_arg is None:
    raise error
  try:
    config = flags.FLAGS["config"].parser.parse(config_arg)
    config.to_dict()
  except OSError:  # ml_collections defers the load error to first use.
    _fail_config_file(config_arg)
  except Exception:  # pylint: disable=broad-except
    raise error  # pylint: disable=raise-missing-from
  for field in _override_fields(argv):
    message = _unknown_field_message(config, field)
    if message:
      _fail(message)
  raise error


def _load_config():
  """The parsed config, or a one-line error if its file failed to load."""
  config = _CONFIG.value
  try:
    if config is not None:
      config.to_dict()
  except OSError:  # ml_collections defers the load error to first use.
    _fail_config_file(flags.FLAGS["config"].config_filename)
  return config


def _print_listing(argv: list[str], config) -> bool:
  """Handles --compare, --list_datasets, --config_help and --list_models;
  True if one ran."""
  import zoo  # pylint: disable=g-import-not-at-top
  import zoo.data  # pylint: disable=g-import-not-at-top
  from zoo import report  # pylint: disable=g-import-not-at-top
  if _COMPARE.value:
    print(report.compare_runs(argv[1:]))
  elif _LIST_DATASETS.value:
    print("\n".join(zoo.data.list_datasets()))
  elif _CONFIG_HELP.value:
    if config is None:
      _fail("--config_help needs --config: it lists that config's fields, "
            "e.g. --config=configs/mlp.py --config_help.")
    _print_config_help(config)
  elif _LIST_PRETRAINED.value:
    listed = zoo.list_pretrained()
    width = max(map(len, listed), default=0)
    for name, accuracy in listed.items():
      shown = "-" if accuracy is None else f"{accuracy:.4f}"
      print(f"{name:<{width}}  test accuracy {shown}")
    if not listed:
      print("No pretrained names yet; point ZOO_PRETRAINED_MANIFEST at a "
            "manifest.json written by scripts/publish.py.")
  elif _LIST_MODELS.value:
    if config is not None:
      zoo.models.user_modules.import_user_modules(config.model.module)
    print("\n".join(zoo.list_models()))
  else:
    return False
  return True


def default_workdir(config) -> str:
  """runs/<model>-<8 hex digits of the whole config>: a config of its own
  (other data, epochs, ...) never resumes another's checkpoints, and the
  same command finds its own run again."""
  import hashlib  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  from zoo.config import serialize  # pylint: disable=g-import-not-at-top
  text = json.dumps(serialize.to_jsonable(config), sort_keys=True)
  digest = hashlib.sha256(text.encode()).hexdigest()[:8]
  return os.path.join("runs", f"{config.model.name}-{digest}")


def _print_config_help(config) -> None:
  """Every field of `config` with its value there and its one-line doc."""
  from configs import default  # pylint: disable=g-import-not-at-top
  from zoo.config import reference  # pylint: disable=g-import-not-at-top
  print(reference.as_text(reference.rows(config, default.MODEL_DOCS)))


def _train_or_eval(config, workdir: str) -> dict:
  """Trains, or with --mode=eval re-evaluates, joining the other processes
  of a multi-process run first."""
  from zoo import experiment  # pylint: disable=g-import-not-at-top
  from zoo.runtime import distributed  # pylint: disable=g-import-not-at-top
  cluster = distributed.Cluster(_COORDINATOR_ADDRESS.value,
                                _NUM_PROCESSES.value, _PROCESS_ID.value)
  if _MODE.value == "eval":
    return experiment.evaluate_checkpoint(config, workdir, cluster)
  return experiment.train_and_evaluate(config, workdir, cluster=cluster)


def _exit_on_signal(signum: int, message: str) -> None:
  """Prints `message` and exits with the shell's status for `signum`; a
  further Ctrl-C meanwhile is ignored (no traceback over the message)."""
  from zoo.runtime import distributed  # pylint: disable=g-import-not-at-top
  for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
  print(message, file=sys.stderr)
  status = 128 + signum  # The shell convention for "stopped by signal".
  distributed.exit_now(status)
  sys.exit(status)


def _stopped_at_once(signum: int, workdir: Optional[str]) -> str:
  """The one line for a run stopped at once: what of it was kept."""
  from zoo.checkpoint import hook  # pylint: disable=g-import-not-at-top
  from zoo.train import signals  # pylint: disable=g-import-not-at-top
  line = f"Stopped at once by {signals.signal_name(signum)}"
  if workdir is None:
    return line + "."
  try:
    step = hook.latest_step(workdir)
  except Exception:  # pylint: disable=broad-except
    step = None  # An unreadable checkpoint folder: say nothing was kept.
  if step is None:
    return (f"{line}; no checkpoint in --workdir={workdir}, so the same "
            "command starts the run again from step 0.")
  return (f"{line}; kept: the checkpoint at step {step} in --workdir="
          f"{workdir} (later steps are lost). Run the same command again to "
          f"resume from step {step}.")


def _export(workdir: Optional[str]) -> None:
  """--mode=export: WORKDIR/export/model.jaxexport (needs no --config)."""
  import zoo  # pylint: disable=g-import-not-at-top
  if not workdir:
    _fail("--mode=export needs --workdir=W, a trained run; it writes "
          "W/export/model.jaxexport.")
  path = zoo.export(workdir, os.path.join(workdir, "export",
                                          "model.jaxexport"))
  print(f"Wrote {path}")


def main(argv: list[str]) -> None:
  # JAX logs its plugin search and cache writes at INFO: noise here. Set
  # after `import jax` (no backend starts), which applies JAX_LOGGING_LEVEL;
  # a level set by the user there wins.
  import jax  # pylint: disable=g-import-not-at-top
  if "JAX_LOGGING_LEVEL" not in os.environ:
    std_logging.getLogger("jax").setLevel(std_logging.WARNING)
  del jax
  if len(argv) > 1 and not _COMPARE.value:
    _fail(f"unexpected arguments {argv[1:]}; flags look like --name=value.")
  # First, before anything touches a JAX device: the backends read XLA_FLAGS
  # once, when they start (the contract in zoo/runtime/xla_flags.py).
  from zoo.runtime import xla_flags  # pylint: disable=g-import-not-at-top
  xla_flags.apply(_XLA_DEFAULTS.value, _CPU_DEVICES.value)
  import zoo  # pylint: disable=g-import-not-at-top  (after flag parsing)
  from zoo.runtime import distributed  # pylint: disable=g-import-not-at-top
  from zoo import report  # pylint: disable=g-import-not-at-top
  from zoo.runtime import files  # pylint: disable=g-import-not-at-top
  from zoo.train import signals  # pylint: disable=g-import-not-at-top
  config = _load_config()
  workdir = None
  try:
    if _print_listing(argv, config):
      return
    if _MODE.value == "export":
      _export(_WORKDIR.value)
      return
    if config is None:
      _fail("--config is required, e.g. --config=configs/mlp.py.")
    workdir = _WORKDIR.value or default_workdir(config)
    if not _WORKDIR.value:
      print(f"--workdir not given: {workdir}, this config's own folder (the "
            "same command resumes there).", file=sys.stderr)
    results = _train_or_eval(config, workdir)
  except signals.RunInterrupted as e:
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    _exit_on_signal(e.signum, f"{e}\n  {command}")
  except KeyboardInterrupt as e:  # A second Ctrl-C, or one before training.
    signum = getattr(e, "signum", signal.SIGINT)
    _exit_on_signal(signum, _stopped_at_once(signum, workdir))
  except zoo.ZooError as e:
    logging.debug("Full traceback:", exc_info=True)
    print(f"error: {e}", file=sys.stderr)
    distributed.exit_now(2)  # Multi-process: do not wait for the others.
    sys.exit(2)
  if files.is_writer():  # Multi-host: process 0 wrote the files listed.
    print(report.format_summary(results, workdir))


if __name__ == "__main__":
  # ml_collections reads the overrides from sys.argv itself, when parsing.
  sys.argv = [_quote_keywords(a) for a in sys.argv]
  app.run(main, flags_parser=_parse_flags)
