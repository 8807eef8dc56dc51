"""Configs: field-by-field validation (validation.py) and the rules for
resuming a checkpoint under a changed config (resume_rules.py)."""
