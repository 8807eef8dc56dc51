"""Training: the state (a pytree), pure pmapped steps, chunks of steps, and
the loop that runs them with hooks around.

state.py       TrainState and its initialisation
step.py        the pure train and eval steps (per device, pmapped)
optim.py       the optax optimizer and schedule of config.optimizer
loss_scale.py  float16 dynamic loss scaling (skipped non-finite steps)
ensemble.py    the members: who they are, their vmapped (or unrolled) layout
chunk_plan.py  chunk lengths, and what unrolls (convolutions on CPU)
chunks.py      many steps per compiled call; the batch source
build.py       Setup: data, model, state and compiled steps, before step 1
evaluation.py  loss, accuracy and predictions over a split
loop.py        epochs of chunks, validation, test; Progress
hooks.py       Hook, Chunk, EpochSummary, crossed (periodic actions)
signals.py     Ctrl-C / SIGTERM: stop at the next chunk end
divergence.py  NaN/Inf loss or state: stop with a clear error
"""

from zoo.train.evaluation import evaluate
from zoo.train.loop import Progress, train
from zoo.train.build import Setup, setup
from zoo.train.state import TrainState, init_state

__all__ = ["Progress", "Setup", "TrainState", "evaluate", "init_state",
           "setup", "train"]
