"""config.ensemble: one-line errors naming the field, and the resume rule
(a checkpoint of K members resumes only with K members)."""

import jax
import numpy as np
import pytest

import zoo
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config import resolve


@pytest.mark.parametrize("field,value,message", [
    ("size", 0, "positive integer"),
    ("size", -2, "positive integer"),
    ("size", True, "positive integer"),
    ("learning_rates", (1e-3, 0.0), "tuple of learning rates in (0, 1000]"),
    ("learning_rates", (1e-3, float("nan")), "tuple of learning rates"),
    ("learning_rates", (1e-3, 1e-3), "each rate may appear once"),
])
def test_bad_ensemble_values_name_the_field(base_config, field, value,
                                            message):
  base_config.ensemble[field] = value
  with pytest.raises(zoo.ConfigError) as e:
    resolve.validate(base_config)
  text = str(e.value)
  assert f"config.ensemble.{field}=" in text and message in text
  assert f"--config.ensemble.{field}=" in text and "\n" not in text


def test_ensembles_are_valid(base_config):
  base_config.ensemble.size = 8
  base_config.ensemble.learning_rates = (1e-3, 3e-4)
  base_config.ensemble.shared_data_order = True
  resolve.validate(base_config)


def test_a_checkpoint_of_k_members_resumes_only_with_k(base_config):
  base_config.ensemble.size = 4
  saved = serialize.to_jsonable(base_config)
  base_config.ensemble.size = 2
  base_config.ensemble.learning_rates = (0.1,)
  assert resume_rules.differences(
      saved, serialize.to_jsonable(base_config)) == [
          "ensemble.learning_rates: [] -> [0.1]", "ensemble.size: 4 -> 2"]
  with pytest.raises(zoo.ConfigError, match=r"ensemble\.size: 4 -> 2"):
    resume_rules.check_resumable(saved, base_config, "ckpt/10")


def test_a_checkpoint_from_before_ensembles_resumes_as_one_member(
    base_config):
  saved = serialize.to_jsonable(base_config)
  del saved["ensemble"]  # As written before config.ensemble existed.
  resume_rules.check_resumable(saved, base_config, "ckpt/10")
  base_config.ensemble.size = 3
  with pytest.raises(zoo.ConfigError, match=r"ensemble\.size: 1 -> 3"):
    resume_rules.check_resumable(saved, base_config, "ckpt/10")


@pytest.mark.parametrize("value", [-1, True])
def test_bad_split_seed_names_the_field(base_config, value):
  base_config.data.split_seed = value
  with pytest.raises(zoo.ConfigError, match=r"config\.data\.split_seed="):
    resolve.validate(base_config)


def test_split_seed_picks_the_split_not_the_model(base_config):
  """A run of seed 1 with data.split_seed=0 has seed 0's split (what member
  1 of an ensemble of seed 0 trains on), and its own initialisation."""
  from zoo import train  # pylint: disable=g-import-not-at-top
  base_config.train.compilation_cache_dir = ""
  runs = {}
  for seed, split_seed in ((0, None), (1, None), (1, 0)):
    config = base_config.copy_and_resolve_references()
    config.seed, config.data.split_seed = seed, split_seed
    resolve.validate(config)
    runs[seed, split_seed] = train.setup(resolve.resolve(config))
  val = {k: s.dataset.validation.labels for k, s in runs.items()}
  assert (val[1, 0] == val[0, None]).all()
  assert not (val[1, None] == val[0, None]).all()
  flat = {k: np.concatenate([np.ravel(x) for x in
                              jax.tree.leaves(s.state.params)])
          for k, s in runs.items()}
  assert not np.array_equal(flat[1, 0], flat[0, None])
  np.testing.assert_array_equal(flat[1, 0], flat[1, None])


def test_a_split_seed_resumes_only_with_that_split_seed(base_config):
  saved = serialize.to_jsonable(base_config)
  now = base_config.copy_and_resolve_references()
  now.data.split_seed = 3
  with pytest.raises(zoo.ConfigError, match=r"data\.split_seed: None -> 3"):
    resume_rules.check_resumable(saved, now, "ckpt/10")
