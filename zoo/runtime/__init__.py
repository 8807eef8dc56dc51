"""Where the run executes: devices and the pmap layout (parallel.py), several
processes (distributed.py), XLA flags and the compilation cache, and which
process writes files (files.py)."""
