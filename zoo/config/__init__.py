"""Configs, read once: the field table and run spec (spec.py, checks.py),
`resolve` (upgrade old saved configs, validate, freeze: resolve.py), JSON
(serialize.py) and the rules for resuming under a changed config
(resume_rules.py)."""
