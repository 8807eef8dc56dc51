"""zoo.checkpoint and zoo.config_compat on small states, without training."""

import json
import os
import pathlib
import re

import chex
import jax
import numpy as np
import optax
import pytest

import zoo
from zoo import checkpoint
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config import resolve
from zoo.models import registry
from zoo.train.state import init_state


def _state(hidden=(8,), seed=0):
  forward = registry.build_forward("mlp", 3, {"hidden_sizes": hidden})
  return init_state(forward, optax.adam(1e-3), (4,), seed)


def _save(ckpt, step, state):
  return ckpt.save(step, checkpoint.flatten_state(state), {"note": "test"})


def _flat_equal(a, b):
  assert sorted(a) == sorted(b)
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _data_files(path):
  """The files holding array bytes of a checkpoint directory."""
  files = [p for p in pathlib.Path(path, "state").rglob("*")
           if p.is_file() and p.parent.name == "d"]
  assert files, f"no data files under {path}"
  return files


def test_save_restore_roundtrip_is_exact(tmp_path):
  state = _state(seed=1)._replace(step=jax.numpy.asarray(7, jax.numpy.int32))
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  path = _save(ckpt, 7, state)
  assert path == str(tmp_path / "checkpoints" / "7")
  restored = ckpt.restore(7, _state(seed=2))  # Another seed: other values.
  assert restored.step == 7 and restored.meta["note"] == "test"
  _flat_equal(checkpoint.flatten_state(restored.state),
              checkpoint.flatten_state(state))
  # The PRNG key comes back as a typed key with the same bits.
  assert jax.dtypes.issubdtype(restored.state.rng.dtype, jax.dtypes.prng_key)
  np.testing.assert_array_equal(jax.random.key_data(restored.state.rng),
                                jax.random.key_data(state.rng))
  chex.assert_trees_all_equal_structs(restored.state, state)


def test_flat_names_are_readable_paths():
  names = set(checkpoint.flatten_state(_state()))
  assert {"step", "rng", "opt_state.0.count"} <= names
  assert any(n.startswith("params.mlp/") and n.endswith(".w") for n in names)


def test_keeps_the_last_k(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path), keep=2)
  for step in (1, 2, 3):
    _save(ckpt, step, _state())
  assert ckpt.steps() == [2, 3]
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "3"]


def test_half_written_checkpoint_is_never_loaded(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  _save(ckpt, 3, _state(seed=3))
  ckpt.close()
  # What a crash in the middle of saving step 9 leaves behind.
  partial = tmp_path / "checkpoints" / "9.orbax-checkpoint-tmp" / "state"
  partial.mkdir(parents=True)
  (partial / "half").write_bytes(b"\0" * 10)
  reader = checkpoint.Checkpointer(str(tmp_path), read_only=True)
  assert reader.steps() == [3]
  restored = reader.restore_latest(lambda meta: _state())
  assert restored.step == 3
  _flat_equal(checkpoint.flatten_state(restored.state),
              checkpoint.flatten_state(_state(seed=3)))
  # The next writer removes the debris when it saves.
  writer = checkpoint.Checkpointer(str(tmp_path))
  _save(writer, 4, _state())
  assert writer.steps() == [3, 4]
  assert not partial.parent.exists()


# orbax's failed read of the damaged files may leave an asyncio callback to a
# closed loop behind; Python reports it as "unraisable", harmlessly.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_damaged_latest_falls_back_and_is_moved_aside(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  _save(ckpt, 1, _state(seed=1))
  _save(ckpt, 2, _state(seed=2))
  for f in _data_files(tmp_path / "checkpoints" / "2"):
    f.write_bytes(b"garbage")
  restored = ckpt.restore_latest(lambda meta: _state())
  assert restored.step == 1
  _flat_equal(checkpoint.flatten_state(restored.state),
              checkpoint.flatten_state(_state(seed=1)))
  assert ckpt.steps() == [1]
  moved = os.listdir(tmp_path / checkpoint.CORRUPT_SUBDIR)
  assert len(moved) == 1 and moved[0].startswith("2-")


def test_checksum_mismatch_is_detected(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  _save(ckpt, 1, _state())
  ckpt.close()
  meta_file = tmp_path / "checkpoints" / "1" / "meta" / "metadata"
  meta = json.loads(meta_file.read_text())
  meta["checksum"] = "0" * 64  # As if the arrays had silently changed.
  meta_file.write_text(json.dumps(meta))
  reader = checkpoint.Checkpointer(str(tmp_path), read_only=True)
  with pytest.raises(checkpoint.CheckpointError, match="checksum"):
    reader.restore(1, _state())


def test_every_checkpoint_damaged_is_an_error_and_nothing_moves(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  _save(ckpt, 5, _state())
  (tmp_path / "checkpoints" / "5" / "meta" / "metadata").write_text("{trunc")
  with pytest.raises(zoo.ZooError, match=r"No readable checkpoint.*5"):
    ckpt.restore_latest(lambda meta: _state())
  assert os.path.isdir(tmp_path / "checkpoints" / "5")
  assert not (tmp_path / checkpoint.CORRUPT_SUBDIR).exists()


def test_other_shapes_are_a_config_error_naming_the_arrays(tmp_path):
  ckpt = checkpoint.Checkpointer(str(tmp_path))
  _save(ckpt, 1, _state(hidden=(8,)))
  with pytest.raises(zoo.ConfigError) as e:
    ckpt.restore(1, _state(hidden=(16,)))
  assert ("params.mlp/mlp/~/linear_0.w: checkpoint (4, 8) float32, now "
          "(4, 16) float32") in str(e.value)
  with pytest.raises(zoo.ConfigError, match="linear_2"):  # A missing layer.
    ckpt.restore(1, _state(hidden=(8, 8)))


def test_config_differences_name_only_state_fields(base_config):
  saved = serialize.to_jsonable(base_config)
  config = base_config
  config.train.num_epochs = 7  # Harmless: more epochs,
  config.train.log_every_steps = 3  # logging,
  config.checkpoint.every_steps = 5  # the checkpoint interval,
  config.model.cnn.hidden_size = 3  # another model's hyperparameters.
  assert not resume_rules.differences(saved,
                                       serialize.to_jsonable(config))
  resume_rules.check_resumable(saved, config, "ckpt")
  config.model.mlp.hidden_sizes = (16,)
  config.optimizer.name = "sgd"
  config.train.batch_size = 32
  diffs = resume_rules.differences(saved, serialize.to_jsonable(config))
  assert diffs == ["model.mlp.hidden_sizes: [512, 512] -> [16]",
                   "optimizer.name: 'adam' -> 'sgd'",
                   "train.batch_size: 64 -> 32"]
  with pytest.raises(zoo.ConfigError, match="model.mlp.hidden_sizes"):
    resume_rules.check_resumable(saved, config, "ckpt")


@pytest.mark.parametrize("field,value", [
    # Which columns, rows and classes of a CSV table, and their scaling.
    ("data.label_column", "price_range"),
    ("data.feature_columns", ("ram", "battery_power")),
    ("data.classes", ("low", "high")),
    ("data.drop_missing", True),
    ("data.standardize", False),
    # One step per epoch instead of one per batch.
    ("train.full_batch", True),
])
def test_csv_and_full_batch_fields_must_match(base_config, field, value):
  saved = serialize.to_jsonable(base_config)
  section, key = field.split(".")
  base_config[section][key] = value
  now = serialize.to_jsonable(base_config)
  assert saved[section][key] != now[section][key]
  diffs = resume_rules.differences(saved, now)
  assert diffs == [f"{field}: {saved[section][key]!r} -> {now[section][key]!r}"]
  with pytest.raises(zoo.ConfigError, match=re.escape(diffs[0])):
    resume_rules.check_resumable(saved, base_config, "ckpt")


@pytest.mark.parametrize("field,value", [
    ("train.num_epochs", 7), ("train.log_every_steps", 3),
    ("train.eval_batch_size", 10), ("data.dir", "/elsewhere"),
])
def test_harmless_fields_may_change(base_config, field, value):
  saved = serialize.to_jsonable(base_config)
  section, key = field.split(".")
  base_config[section][key] = value
  assert resume_rules.differences(
      saved, serialize.to_jsonable(base_config)) == []
  resume_rules.check_resumable(saved, base_config, "ckpt")
  assert resume_rules.changed_fields(saved, base_config) == [
      f"{field}: {saved[section][key]!r} -> {value!r}"]


def test_switching_model_is_named(base_config):
  saved = serialize.to_jsonable(base_config)
  base_config.model.name = "cnn"
  diffs = resume_rules.differences(saved,
                                    serialize.to_jsonable(base_config))
  assert "model.name: 'mlp' -> 'cnn'" in diffs


def test_config_json_roundtrip(base_config, tmp_path):
  path = serialize.save(str(tmp_path), base_config)
  with open(path, encoding="utf-8") as f:
    loaded = serialize.from_jsonable(json.load(f))
  assert loaded.model.mlp.hidden_sizes == [512, 512]
  assert resolve.resolve(loaded).model.kwargs["hidden_sizes"] == (512, 512)
  assert resume_rules.differences(serialize.to_jsonable(base_config),
                                   serialize.to_jsonable(loaded)) == []


@pytest.mark.parametrize("field,value", [("keep", 0), ("every_steps", -1),
                                         ("every_epochs", -2),
                                         ("min_interval_s", -1.0)])
def test_bad_checkpoint_config_names_the_field(base_config, field, value):
  base_config.checkpoint[field] = value
  with pytest.raises(zoo.ConfigError, match=f"config.checkpoint.{field}="):
    resolve.validate(base_config)


def test_a_config_saved_before_a_field_existed_resumes_under_its_default(
    base_config):
  saved = serialize.to_jsonable(base_config)
  for field in resume_rules.ADDED_FIELDS:  # As written by an older zoo.
    section, name = field.split(".")
    del saved[section][name]
  assert resume_rules.differences(
      saved, serialize.to_jsonable(base_config)) == []
  base_config.train.label_smoothing = 0.1  # Not what that run trained with.
  assert resume_rules.differences(
      saved, serialize.to_jsonable(base_config)) == [
          "train.label_smoothing: 0.0 -> 0.1"]


def test_added_fields_hold_the_defaults_of_configs_default():
  from configs import default  # pylint: disable=g-import-not-at-top
  flat = serialize.flatten(serialize.to_jsonable(default.get_config()))
  for field, value in resume_rules.ADDED_FIELDS.items():
    assert flat[field] == serialize.to_jsonable({"v": value})["v"], field


def test_a_config_json_from_before_the_new_fields_resumes_under_defaults(
    base_config):
  # configs/default.py's config as the zoo wrote it to config.json and into
  # checkpoints before issue 12 added fields (commit 806e9af): resuming it
  # with today's defaults must find no difference.
  from configs import default  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(__file__).with_name("config_before_issue_12.json")
  saved = json.loads(path.read_text())
  now = serialize.to_jsonable(default.get_config())
  assert resume_rules.differences(saved, now) == []
  now["train"]["label_smoothing"] = 0.1
  assert resume_rules.differences(saved, now) == [
      "train.label_smoothing: 0.0 -> 0.1"]
