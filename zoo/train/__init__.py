"""Training: state (pytree), pure pmapped steps, and the epoch loop."""

from zoo.train.loop import evaluate, run, setup, train
from zoo.train.state import TrainState, init_state

__all__ = ["TrainState", "evaluate", "init_state", "run", "setup", "train"]
