"""The docs stay true: the generated pages match their generators, every
config field is documented, every recipe runs, and every error line shown in
the README and docs/ is the line the zoo prints."""

import json
import re
import socket

import pytest

from conftest import REPO

DOCS = sorted((REPO / "docs").glob("*.md"))


def _leaf_fields(config, prefix=""):
  for key, value in config.items():
    name = f"{prefix}{key}"
    if hasattr(value, "items"):
      yield from _leaf_fields(value, name + ".")
    else:
      yield name


def _load_script(name):
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(
      name, REPO / "scripts" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_every_default_config_field_is_in_the_config_reference():
  from configs import default  # pylint: disable=g-import-not-at-top
  page = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
  table = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", page, re.MULTILINE))
  fields = list(_leaf_fields(default.get_config()))
  assert "train.batch_size" in fields and "model.mlp.hidden_sizes" in fields
  missing = [f for f in fields if f not in table]
  assert not missing, f"docs/config.md lacks: {missing}"
  undocumented = re.findall(r"^\| `([a-z0-9_.]+)` \| `[^`]*` \|  \|$", page,
                            re.MULTILINE)
  assert not undocumented, (
      f"no doc for these fields (zoo/config/spec.py's table, or "
      f"configs/default.py's MODEL_DOCS): {undocumented}")


def test_config_reference_is_the_generators_output():
  generator = _load_script("config_reference")
  page = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
  assert page == generator.page(), "run python scripts/config_reference.py"
  assert "| `train.batch_size` | `128` | Global batch" in page


def test_every_field_of_the_table_has_a_one_line_doc():
  from zoo.config import resolve  # pylint: disable=g-import-not-at-top
  fields = list(resolve.table())
  assert len(fields) > 50
  for f in fields:
    assert f.doc and "\n" not in f.doc, f.path


def test_config_help_prints_every_field_with_its_recipe_default(capsys):
  import launch  # pylint: disable=g-import-not-at-top
  from configs import fashion_mnist  # pylint: disable=g-import-not-at-top
  from zoo.config import resolve  # pylint: disable=g-import-not-at-top
  launch._print_config_help(fashion_mnist.get_config("resnet20"))  # pylint: disable=protected-access
  text = capsys.readouterr().out
  for f in resolve.table():
    assert f"--config.{f.path}=" in text, f.path
  assert "--config.data.name='fashion_mnist'\n" in text  # The recipe's.
  assert "--config.model.resnet20.depth=20\n" in text
  assert "    Global batch" in text


def test_performance_tables_are_rendered_from_benchmarks_results():
  tables = _load_script("perf_tables")
  page = tables.PAGE.read_text(encoding="utf-8")
  assert tables.rendered_page(page) == page, "run python scripts/perf_tables.py"
  sections = set(re.findall(r"<!-- perf-table: ([a-z0-9_]+) -->", page))
  files = {p.stem for p in tables.RESULTS.glob("*.json")}
  assert sections == files and "time_to_accuracy" in files
  for name in files:
    table = json.loads((tables.RESULTS / f"{name}.json").read_text("utf-8"))
    assert table["machine"] and table["command"] and table["rows"], name
    assert "date" in table, f"{name}.json: say when it was measured (or null)"


def test_a_benchmark_json_row_replaces_its_own_row_only(tmp_path):
  import sys  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, str(REPO / "benchmarks"))
  try:
    import results_json  # pylint: disable=g-import-not-at-top
  finally:
    sys.path.remove(str(REPO / "benchmarks"))
  path = tmp_path / "t.json"
  path.write_text(json.dumps({"key": ["model"], "rows": [
      {"model": "mlp", "ex_per_s": 1.0, "decision": "kept"}]}))
  results_json.record(str(path), {"model": "mlp", "ex_per_s": 2.0}, ["x"])
  results_json.record(str(path), {"model": "cnn", "ex_per_s": 3.0}, ["x"])
  rows = json.loads(path.read_text())["rows"]
  assert [(r["model"], r["ex_per_s"]) for r in rows] == [("mlp", 2.0),
                                                        ("cnn", 3.0)]
  assert rows[0]["decision"] == "kept" and "measured" in rows[0]
  perf_tables = _load_script("perf_tables")
  assert perf_tables.render({
      "title": "T", "command": "c", "machine": "m", "date": None,
      "columns": [{"key": "model", "label": "model"},
                  {"key": "ex_per_s", "label": "ex/s"}],
      "rows": rows}).splitlines()[2:] == [
          "| model | ex/s |", "|---|---|", "| mlp | 2.0 |", "| cnn | 3.0 |"]


RECIPES = sorted(p for p in (REPO / "configs").glob("*.py")
                 if not p.name.startswith("_"))  # _x.py: shared helpers.


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_loads_and_validates(path):
  import importlib.util  # pylint: disable=g-import-not-at-top
  from zoo.config import resolve  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  resolve.validate(module.get_config())


# Every `error: ...` line shown in a code block of the README or docs/, and
# how the zoo produces it (each returns the message after "error: ").


def _unknown_field(**_):
  import launch  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top
  return launch._unknown_field_message(default.get_config(), "train.batch_sise")  # pylint: disable=protected-access


def _bad_batch_size(**_):
  from configs import default  # pylint: disable=g-import-not-at-top
  from zoo import errors  # pylint: disable=g-import-not-at-top
  from zoo.config import resolve  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.train.batch_size = 0
  with pytest.raises(errors.ConfigError) as e:
    resolve.validate(config)
  return str(e.value)


def _missing_config_file(capsys, monkeypatch, **_):
  import launch  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(REPO)
  with pytest.raises(SystemExit):
    launch._fail_config_file("configs/nope.py")  # pylint: disable=protected-access
  return capsys.readouterr().err.rstrip("\n").removeprefix("error: ")


def _workdir_in_use(monkeypatch, tmp_path, **_):
  from zoo import errors  # pylint: disable=g-import-not-at-top
  from zoo.experiment import workdir  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(tmp_path)
  monkeypatch.setattr(workdir, "_holder", lambda: {
      "pid": 12345, "host": socket.gethostname(),
      "command": "python launch.py --config=configs/mlp.py ..."})
  with workdir.lock("runs/mlp"):
    with pytest.raises(errors.WorkdirError) as e:
      with workdir.lock("runs/mlp"):
        pass
  return str(e.value)


BAD_NET = '''
import haiku as hk
import zoo


@zoo.register_model("bad_net")
class BadNet(hk.Module):

  def __init__(self, num_classes, name=None):
    super().__init__(name=name)
    self.num_classes = num_classes

  def __call__(self, x):
    return hk.Linear(self.num_classes)(hk.Flatten()(x))
'''


def _registry_contract(monkeypatch, tmp_path, **_):
  import sys  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import zoo  # pylint: disable=g-import-not-at-top
  from zoo.models import registry  # pylint: disable=g-import-not-at-top
  from zoo.models import user_modules  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # pylint: disable=protected-access
  monkeypatch.delitem(sys.modules, "zoo_user_bad_net", raising=False)
  path = tmp_path / "bad_net.py"
  path.write_text(BAD_NET, encoding="utf-8")
  user_modules.import_user_modules(str(path))
  forward = registry.build_forward("bad_net", 10, {})
  with pytest.raises(zoo.ConfigError) as e:
    forward.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)), True)
  return str(e.value)


ERRORS = {
    "error: unknown config field config.train.batch_sise; did you mean "
    "config.train.batch_size?": _unknown_field,
    "error: config.train.batch_size=0 is invalid: it must be a positive "
    "integer. Fix it with --config.train.batch_size=<value>.":
        _bad_batch_size,
    "error: cannot load --config=configs/nope.py: no such file. Give the path "
    "of a config file such as configs/mlp.py.": _missing_config_file,
    "error: --workdir=runs/mlp is in use by process 12345 (python launch.py "
    "--config=configs/mlp.py ...). Wait for it to finish, stop it, or choose "
    "another --workdir.": _workdir_in_use,
    "error: Model 'bad_net' breaks the registry contract: its module "
    "zoo_user_bad_net.BadNet takes no is_training argument. The contract "
    "(docs/models.md, section \"Register your own model\"): the builder is "
    "called inside hk.transform as builder(num_classes=..., "
    "**config.model.bad_net), and the module as module(x, is_training=...) "
    "with x [batch, *input_shape], returning logits [batch, num_classes].":
        _registry_contract,
}


def _shown_error_lines():
  """`error: ...` lines inside the code blocks of the README and docs/."""
  lines = []
  for path in [REPO / "README.md", *DOCS]:
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", path.read_text("utf-8"),
                        re.MULTILINE | re.DOTALL)
    lines += [l for b in blocks for l in b.splitlines()
              if l.startswith("error: ")]
  return lines


def test_every_error_line_in_the_docs_is_checked_here():
  shown = _shown_error_lines()
  assert len(shown) >= len(ERRORS) >= 5
  unchecked = [line for line in shown if line not in ERRORS]
  assert not unchecked, (
      f"an error line in the docs that no test produces (add it to ERRORS, "
      f"or copy it from the zoo's output): {unchecked}")


@pytest.mark.parametrize("line", sorted(ERRORS), ids=lambda l: l[7:40])
def test_each_documented_error_is_what_the_zoo_prints(line, capsys,
                                                      monkeypatch, tmp_path):
  produced = ERRORS[line](capsys=capsys, monkeypatch=monkeypatch,
                          tmp_path=tmp_path)
  assert "error: " + produced == line


def test_the_tensorboard_the_docs_name_is_an_extra():
  """`pip install -e '.[tensorboard]'`, as the docs say, installs the viewer
  (the zoo itself writes event files with tensorboardX only)."""
  import ast  # pylint: disable=g-import-not-at-top
  tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
  extras = next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign)
                and node.targets[0].id == "EXTRAS_REQUIRE")
  assert any(r.startswith("tensorboard>=") for r in extras["tensorboard"])
  page = (REPO / "docs" / "training-and-configs.md").read_text("utf-8")
  assert "pip install -e '.[tensorboard]'" in page
