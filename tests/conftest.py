"""Shared test setup: two fake CPU devices, so every pmap path runs for real.

`chex.set_n_cpu_devices` must run before JAX initialises its backends, which
is why it sits at the top of conftest (pytest imports it first).
"""

import os
import pathlib

import chex

chex.set_n_cpu_devices(2)

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MNIST_5K = SHARED_DATA / "mnist-5k"
FASHION_MNIST = SHARED_DATA / "fashion-mnist"
MOBILE_PRICE = SHARED_DATA / "mobile-price" / "train.csv"


@pytest.fixture
def mnist_dir() -> pathlib.Path:
  """../shared/data/mnist-5k; the test is skipped (with reason) if absent."""
  if not (MNIST_5K / "train-images-idx3-ubyte.gz").exists():
    pytest.skip(f"real MNIST files not found at {MNIST_5K}")
  return MNIST_5K


@pytest.fixture
def fashion_mnist_dir() -> pathlib.Path:
  """../shared/data/fashion-mnist; the test is skipped (with reason) if
  absent."""
  if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
    pytest.skip(f"real Fashion-MNIST files not found at {FASHION_MNIST}")
  return FASHION_MNIST


@pytest.fixture
def base_config():
  """configs/default.py, small enough for a test: 1 epoch, batch 64."""
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.data.name = "digits"
  config.train.num_epochs = 1
  config.train.batch_size = 64
  config.train.eval_batch_size = 100
  config.train.log_every_steps = 10
  config.data.allow_fallback = False
  return config


def pytest_configure(config):
  # Subprocesses started by tests see the repo on their path too.
  os.environ.setdefault("PYTHONPATH", str(REPO))


@pytest.fixture
def offline(monkeypatch):
  """TFDS has nothing prepared and no download host answers."""
  from zoo.data import tfds_images  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(tfds_images, "host_reachable", lambda *a: False)


# The slow tier (docs/testing.md): the tests that train for seconds, start
# subprocesses or build the largest models, measured with --durations=0.
# `python -m pytest` leaves them out (pytest.ini: -m "not slow"); `-m ""`
# runs them. Key: "file::function"; value: the parametrized cases that are
# slow (a substring of the case id), or None for every case. A module may
# also mark itself (tests/test_shipped_models.py).
SLOW = {
    "test_learning.py::test_each_catalogue_model_learns": ("resnet18", "resnet20", "vit_tiny", "lenet5", "cnn"),
    "test_step.py::test_two_device_step_equals_one_device_step": ("resnet18", "resnet20", "vit_tiny", "lenet5", "cnn"),
    "test_registry.py::test_every_model_gives_finite_logits_of_the_right_shape": ("resnet18", "vit_tiny", "resnet20", "resnet32", "resnet44", "resnet56", "cnn"),
    "test_models.py::test_tiny_models_give_finite_logits": ("resnet18", "vit_tiny"),
    "test_recipes.py::test_each_recipe_trains_a_few_steps": ("resnet18", "resnet20", "vit_tiny", "cnn"),
    "test_distributed.py::test_two_processes_match_one_process_on_four_devices": None,
    "test_interrupt.py::test_two_processes_stop_together_and_resume_from_process_0": None,
    "test_launch.py::test_each_recipe_trains_on_mnist_files": None,
    "test_csv.py::test_mobile_price_end_to_end": None,
    "test_interrupt.py::test_sigterm_then_kill9_then_resume_equals_uninterrupted_run": None,
    "test_fast_path.py::test_chunk_length_does_not_change_training": None,
    "test_fast_path.py::test_chunked_run_checkpoints_at_chunk_ends_and_resumes": None,
    "test_precision_runs.py::test_bfloat16_mlp_matches_float32_on_mnist": None,
    "test_precision_runs.py::test_low_precision_run_checkpoints_float32_and_resumes_bitwise": None,
    "test_step.py::test_eval_counts_every_example_once": None,
    "test_old_workdirs.py::test_resume_is_bit_identical_to_the_recorded_continuation": None,
    "test_report.py::test_non_tty_output_has_no_progress_bar": None,
    "test_distributed.py::test_dead_peer_stops_the_run": None,
    "test_export.py::test_exports_serve_in_a_process_without_the_zoo": None,
    "test_loop.py::test_a_batchnorm_model_resumes_bitwise_and_evaluates": None,
    "test_fast_path.py::test_two_device_chunks_finish": None,
    "test_launch.py::test_user_model_from_a_file": None,
    "test_augment.py::test_augmented_training_differs_and_resumes_bit_identically": None,
    "test_ensemble.py::test_member_equals_the_single_run_with_its_seed": None,
    "test_launch.py::test_overrides_reach_the_run": None,
    "test_ensemble_resume.py::test_eval_mode_on_one_device_evaluates_every_member": None,
    "test_startup.py::test_launcher_records_its_xla_flags": None,
    "test_interrupt.py::test_ctrl_c_twice_is_one_line_saying_what_was_kept": None,
    "test_resume.py::test_eval_mode_on_one_device_reproduces_the_two_device_results": None,
    "test_model_cards.py::test_a_k_seed_ensemble_counts_its_members_as_seeds": None,
    "test_distributed.py::test_processes_with_different_configs_stop": None,
    "test_distributed.py::test_missing_peer_fails_with_clear_error": None,
    "test_workdir.py::test_launch_refuses_a_workdir_in_use_by_another_run": None,
    "test_distributed.py::test_cluster_auto_detection_without_flags": None,
    "test_startup.py::test_apply_before_jax_starts": None,
    "test_launch.py::test_list_models_and_datasets": None,
    "test_launch.py::test_the_command_line_prints_one_error_line_and_exits_2": None,
    "test_resume.py::test_stopped_then_resumed_run_is_bitwise_identical": None,
    "test_ensemble_resume.py::test_a_stopped_ensemble_resumes_bit_identically": None,
    "test_train.py::test_same_seed_same_result_other_seed_differs": None,
    "test_step.py::test_dropout_keys_differ_per_device_and_per_step": None,
    "test_loop.py::test_training_time_covers_every_piece_of_the_run": None,
    "test_resume.py::test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint": None,
    "test_ensemble_resume.py::test_results_hold_every_member_and_the_ensemble": None,
    "test_model_cards.py::test_cards_from_two_seeds": None,
    "test_models.py::test_default_parameter_counts": None,
    "test_resume.py::test_damaged_latest_checkpoint_is_skipped": None,
    "test_ensemble_resume.py::test_another_member_count_does_not_resume": None,
    "test_interrupt.py::test_stopped_at_once_says_which_checkpoint_was_kept": None,
    "test_resume.py::test_more_epochs_and_other_logging_continue_the_run": None,
    "test_startup.py::test_the_pinned_jaxlib_accepts_the_table_flags": None,
    "test_recipes.py::test_an_unknown_recipe_is_one_line_and_exit_2": None,
    "test_csv.py::test_launch_bad_csv_exits_with_the_error": None,
    "test_workdir.py::test_launch_checks_the_workdir_before_loading_data": None,
    "test_pretrained.py::test_launch_lists_pretrained_names": None,
    "test_distributed.py::test_a_cluster_jax_cannot_complete_names_the_flags": None,
    "test_workdir.py::test_a_held_lock_names_its_holder_and_kill_9_frees_it": None,
    "test_export.py::test_export_needs_a_workdir": None,
    "test_report.py::test_compare_table_and_flag": None,
    "test_step.py::test_a_long_evaluation_logs_its_progress": None,
}


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
  """Adds the `slow` marker to the cases SLOW names."""
  for item in items:
    function, _, case = item.nodeid.partition("[")
    cases = SLOW.get(function.removeprefix("tests/"), ())
    if cases is None or (case and any(c in case for c in cases or ())):
      item.add_marker(pytest.mark.slow)
