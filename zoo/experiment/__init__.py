"""A whole run in a workdir: train and evaluate, or re-evaluate a checkpoint."""
