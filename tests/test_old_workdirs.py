"""Workdirs written by an older release still evaluate, load and resume.

tests/fixtures/old_workdirs/ holds three tiny digits runs (a (32,) MLP, 1
epoch): `mlp/`, `ensemble2/` (ensemble.size=2) and `float16/`
(train.precision='float16', its checkpoint holding a dynamic loss scale of
2**18), written by commit 2ffce89302d9fcee718e8f997b7719a53e79cd87 (before
the frozen config spec and the member-axis train state) with
tests/fixtures/make_old_workdirs.py, whose docstring says how. Their
expected.json holds what that code computed from them on 2 fake CPU
devices: evaluation, `zoo.load` probabilities, and a sha256 of every
train-state array after resuming to 2 epochs. The code that wrote them
reproduced all of it bitwise in other processes (jax 0.10.2, XLA:CPU); a
jaxlib upgrade could move the last bits of the recorded numbers, but never
the equality of a resume stopped part-way with one straight through.

NEVER regenerate these fixtures with newer code: they exist to catch newer
code that no longer reads what users' old workdirs hold. A change that
breaks a test here breaks those users.

Entry points used: `zoo.experiment.evaluate_checkpoint`,
`zoo.experiment.train_and_evaluate` (with a configs/default.py ConfigDict),
`zoo.load(workdir, member=...)`, and from tests/resume_helpers.py `StopAt`
(a hook requesting a SIGTERM-like stop), `state_arrays` (the latest
checkpoint's arrays) and `assert_same_as_reference`.
"""

import hashlib
import json
import pathlib
import shutil
import stat

import numpy as np
import pytest

from configs import default
from resume_helpers import (Reference, StopAt, assert_same_as_reference,
                            state_arrays)
import zoo
from zoo import experiment
from zoo.train import signals

FIXTURES = pathlib.Path(__file__).resolve().with_name("fixtures")
OLD = FIXTURES / "old_workdirs"
EXPECTED = json.loads((OLD / "expected.json").read_text())["workdirs"]
NAMES = sorted(EXPECTED)
# The second resume stops in the chunk holding this step (chunks of 5 steps
# from step 20), i.e. at step 30 of 40, mid-epoch 2.
STOP_AT = 28


def _config(name: str, resume: bool = False):
  """configs/default.py with the fixture's overrides (and, with `resume`,
  those of the resume to 2 epochs), as launch.py's --config.<field>=...
  would set them."""
  overrides = dict(EXPECTED[name]["overrides"])
  if resume:
    overrides.update(EXPECTED[name]["resumed"]["overrides"])
  config = default.get_config()
  for field, value in overrides.items():
    *path, last = field.split(".")
    node = config
    for part in path:
      node = node[part]
    node[last] = tuple(value) if isinstance(value, list) else value
  return config


def _copy(name: str, target: pathlib.Path) -> pathlib.Path:
  """A writable copy of the fixture (which stays untouched, and may be
  read-only)."""
  shutil.copytree(OLD / name, target)
  for path in [target, *target.rglob("*")]:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
  return target


def _digests(workdir: pathlib.Path) -> dict[str, str]:
  """`{name: 'dtype:sha256 of its bytes'}` of each array of the latest
  checkpoint (the bytes stay the same under a leading axis of size 1)."""
  def digest(a):
    data = np.ascontiguousarray(a).tobytes()
    return f"{a.dtype.str}:{hashlib.sha256(data).hexdigest()}"
  return {name: digest(a) for name, a in state_arrays(workdir).items()}


def _assert_same_digests(got: dict[str, str], want: dict[str, str]) -> None:
  """The same arrays, compared by content alone (blind to renames)."""
  differ = sorted(n for n in set(got) | set(want) if got.get(n) != want.get(n))
  assert sorted(got.values()) == sorted(want.values()), (
      f"arrays differ from the recorded ones (by name): {differ}")


@pytest.mark.parametrize("name", NAMES)
def test_evaluation_gives_the_recorded_results(name, tmp_path):
  want = EXPECTED[name]["eval"]
  results = experiment.evaluate_checkpoint(_config(name),
                                           str(_copy(name, tmp_path / name)))
  assert results["test_accuracy"] == want["test_accuracy"]
  assert results["test_loss"] == pytest.approx(want["test_loss"], rel=1e-6)
  if "members" in want:
    got = results["members"]
    assert [m["test_accuracy"] for m in got] == [
        m["test_accuracy"] for m in want["members"]]
    for m, w in zip(got, want["members"]):
      assert m["test_loss"] == pytest.approx(w["test_loss"], rel=1e-6)
    assert results["ensemble_test_accuracy"] == want["ensemble_test_accuracy"]


@pytest.mark.parametrize("name", NAMES)
def test_load_gives_the_recorded_probabilities(name, tmp_path):
  want = EXPECTED[name]
  workdir = str(_copy(name, tmp_path / name))
  inputs = np.asarray(want["inputs"], np.float32)
  probs = zoo.load(workdir)(inputs)
  np.testing.assert_allclose(probs, want["probabilities"], rtol=1e-6,
                             atol=1e-7)
  if "member_1_probabilities" in want:  # The ensemble averages its members.
    members = [zoo.load(workdir, member=i)(inputs) for i in (0, 1)]
    np.testing.assert_allclose(members[1], want["member_1_probabilities"],
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(probs, np.mean(members, axis=0), rtol=1e-6,
                               atol=1e-7)
    assert not np.allclose(members[0], members[1])


@pytest.mark.parametrize("name", NAMES)
def test_resume_is_bit_identical_to_the_recorded_continuation(name,
                                                              tmp_path):
  want = EXPECTED[name]["resumed"]
  config = _config(name, resume=True)
  straight = _copy(name, tmp_path / "straight")
  results = experiment.train_and_evaluate(config, str(straight))
  assert results["steps"] == want["steps"] == 40
  assert results["test_accuracy"] == want["test_accuracy"]
  assert results["test_loss"] == pytest.approx(want["test_loss"], rel=1e-6)
  # The same bytes as the release that wrote the fixture computed.
  _assert_same_digests(_digests(straight), want["state_sha256"])
  # Stopped mid-epoch 2, then resumed again: the same run, bitwise.
  pieces = _copy(name, tmp_path / "pieces")
  with pytest.raises(signals.RunInterrupted, match="at step 30/40"):
    experiment.train_and_evaluate(config, str(pieces), [StopAt(STOP_AT)])
  again = experiment.train_and_evaluate(config, str(pieces))
  assert_same_as_reference(pieces, again, Reference(straight, results))


def test_float16_loss_scale_reads_back_as_saved(tmp_path):
  saved = EXPECTED["float16"]["loss_scale"]
  assert saved not in (2.0 ** 15, 2.0 ** 24)  # Neither first scale.
  arrays = state_arrays(_copy("float16", tmp_path / "float16"))
  scales = [a for k, a in arrays.items()
            if k.startswith("loss_scale") and a.dtype.kind == "f"]
  assert len(scales) == 1, sorted(arrays)
  assert np.asarray(scales[0]).reshape(-1).tolist() == [saved]
