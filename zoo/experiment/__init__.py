"""A whole run in a workdir, as launch.py runs it:

training.py         train_and_evaluate: checks, lock, data and model, resume,
                    the loop with its hooks, results.json
checkpoint_eval.py  evaluate_checkpoint (--mode=eval): the latest checkpoint
                    re-evaluated on the test split
results.py          results.json, built in one place for both
workdir.py          the workdir's checks and its lock (one run at a time)
"""

from zoo.experiment.checkpoint_eval import evaluate_checkpoint
from zoo.experiment.training import train_and_evaluate

__all__ = ["evaluate_checkpoint", "train_and_evaluate"]
