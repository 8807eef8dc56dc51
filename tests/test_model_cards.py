"""scripts/model_cards.py: docs/MODELS.md comes from runs, and each card's
command trains the same config again."""

import importlib.util
import pathlib
import shlex

from absl import flags
from ml_collections import config_flags
import pytest

from zoo import experiment
from zoo.config import serialize
from zoo.report import compare

REPO = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "model_cards", REPO / "scripts" / "model_cards.py")
model_cards = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_cards)


def _config_of(command: str):
  """The config a card's launch command builds, parsed as launch.py does."""
  args = shlex.split(command)
  assert args[:2] == ["python", "launch.py"]
  argv = ["launch.py"] + args[2:]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", flag_values=flag_values,
                                  sys_argv=argv)
  flags.DEFINE_string("workdir", "", "", flag_values=flag_values)
  flag_values(argv)
  return flag_values.config


@pytest.fixture
def two_seeds(tmp_path, base_config):
  """Two logistic runs on digits that differ only in their seed."""
  workdirs = []
  for seed in (0, 1):
    config = base_config.copy_and_resolve_references()
    config.model.name, config.seed = "logistic", seed
    workdir = str(tmp_path / f"seed{seed}")
    experiment.train_and_evaluate(config, workdir)
    workdirs.append(workdir)
  return workdirs


def test_cards_from_two_seeds(two_seeds, tmp_path, monkeypatch):
  monkeypatch.chdir(REPO)
  out = tmp_path / "MODELS.md"
  model_cards.main([*two_seeds, "--out", str(out)])
  text = out.read_text()
  results = [compare.load_results(w) for w in two_seeds]
  accuracies = [r["test_accuracy"] for r in results]
  assert accuracies[0] != accuracies[1]  # The seeds made two runs.
  (row,) = [l for l in text.splitlines() if l.startswith("| `logistic`")]
  cells = [c.strip() for c in row.strip("|").split("|")]
  assert cells[1] == f"{results[0]['num_params']:,}"  # 64 * 10 + 10.
  assert float(cells[2]) > 0  # XLA counted the forward pass.
  mean = sum(accuracies) / 2
  assert cells[3].startswith(f"{mean:.4f} ± ") and "(2 seeds)" in cells[3]
  assert "## digits" in text and "scripts/model_cards.py" in text


def _tuples(flat: dict) -> dict:
  """results.json holds lists where a config holds tuples."""
  return {k: tuple(v) if isinstance(v, list) else v for k, v in flat.items()}


def test_command_rebuilds_the_run_config(two_seeds, monkeypatch):
  monkeypatch.chdir(REPO)
  results = compare.load_results(two_seeds[1])
  rebuilt = _config_of(model_cards.command(results, two_seeds[1]))
  assert rebuilt.seed == 1
  assert (_tuples(serialize.flatten(rebuilt.to_dict()))
          == _tuples(serialize.flatten(results["config"])))


def test_recipe_command_names_only_what_differs(monkeypatch):
  monkeypatch.chdir(REPO)
  _, recipe = model_cards.recipe_config("fashion_mnist", "lenet5")
  config = recipe.to_dict()
  config["train"]["num_epochs"] = 7
  config["data"]["dir"] = "../shared/data/fashion-mnist"
  command = model_cards.command(
      {"config": config, "dataset": "fashion_mnist", "model": "lenet5"},
      "/somewhere/fm-lenet5-short")
  assert command == (
      "python launch.py --config=configs/fashion_mnist.py:lenet5 "
      "--config.data.dir=../shared/data/fashion-mnist "
      "--config.train.num_epochs=7 --workdir=runs/fm-lenet5-short")


def test_a_k_seed_ensemble_counts_its_members_as_seeds(two_seeds, tmp_path,
                                                       base_config,
                                                       monkeypatch):
  monkeypatch.chdir(REPO)
  config = base_config.copy_and_resolve_references()
  config.model.name, config.ensemble.size = "logistic", 2
  config.seed = 2  # Seeds 2 and 3 beside the single runs' 0 and 1.
  ensemble_run = str(tmp_path / "ensemble")
  results = experiment.train_and_evaluate(config, ensemble_run)
  (group,) = model_cards.group([*two_seeds, ensemble_run])  # One recipe.
  row = model_cards.card(group)
  accuracies = [compare.load_results(w)["test_accuracy"] for w in two_seeds]
  accuracies += [m["test_accuracy"] for m in results["members"]]
  mean = sum(accuracies) / 4
  assert row["test accuracy"].startswith(f"{mean:.4f} ± ")
  assert row["test accuracy"].endswith("(4 seeds)")
  rebuilt = _config_of(model_cards.command(results, ensemble_run))
  assert rebuilt.ensemble.size == 2 and rebuilt.seed == 2
  config.seed = 1  # Seeds 1 and 2: seed 1 ran already, it counts once.
  overlap = str(tmp_path / "overlap")
  experiment.train_and_evaluate(config, overlap)
  (group,) = model_cards.group([*two_seeds, overlap])
  assert model_cards.card(group)["test accuracy"].endswith("(3 seeds)")


def test_header_names_the_command_that_made_the_page():
  card = {"dataset": "digits", "model": "logistic", "params": "650",
          "mflops": "0.0013", "test accuracy": "0.9", "training": "1 s",
          "device": "cpu", "published": "-", "command": "python launch.py"}
  printed = model_cards.render([card], ["runs/a", "runs/b"])
  assert "`python scripts/model_cards.py runs/a runs/b`;" in printed
  assert "--out" not in printed  # Printed, not written to docs/MODELS.md.
  written = model_cards.render([card], ["runs/a"], out="docs/MODELS.md")
  assert ("`python scripts/model_cards.py runs/a --out docs/MODELS.md`"
          in written)
