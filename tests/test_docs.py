"""The README stays true: every config field is documented, every recipe runs."""

import re

import pytest

from conftest import REPO


def _leaf_fields(config, prefix=""):
  for key, value in config.items():
    name = f"{prefix}{key}"
    if hasattr(value, "items"):
      yield from _leaf_fields(value, name + ".")
    else:
      yield name


def test_every_default_config_field_is_in_the_readme_table():
  from configs import default  # pylint: disable=g-import-not-at-top
  readme = (REPO / "README.md").read_text(encoding="utf-8")
  table = set(re.findall(r"^\| `([a-z0-9_.<>*]+)` \|", readme, re.MULTILINE))
  missing = [f for f in _leaf_fields(default.get_config())
             if f not in table and not f.startswith("model.")
             or f in ("model.name", "model.module") and f not in table]
  assert not missing, f"README's config table lacks: {missing}"
  assert "model.<name>.*" in table


RECIPES = sorted(p for p in (REPO / "configs").glob("*.py")
                 if not p.name.startswith("_"))  # _x.py: shared helpers.


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_loads_and_validates(path):
  import importlib.util  # pylint: disable=g-import-not-at-top
  from zoo.config import validation  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  resolve.validate(module.get_config())
