"""Imports the user's own model files named by `config.model.module`."""

import importlib
import importlib.util
import os
import sys
import traceback
import types

from zoo import errors


def import_user_module(spec: str) -> types.ModuleType:
  """Imports `spec`: a path to a .py file or a dotted importable module."""
  spec = spec.strip()
  if spec.endswith(".py") or os.sep in spec:
    path = os.path.abspath(os.path.expanduser(spec))
    if not os.path.isfile(path):
      raise errors.UserModuleError(
          f"config.model.module={spec!r}: no such file ({path}).")
    name = "zoo_user_" + os.path.splitext(os.path.basename(path))[0]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    loader = lambda: module_spec.loader.exec_module(module)  # noqa: E731
  else:
    module = None
    loader = lambda: importlib.import_module(spec)  # noqa: E731
  try:
    result = loader()
  except errors.ZooError:
    raise
  except Exception as e:  # Any error in the user's file: report it plainly.
    frame = traceback.extract_tb(e.__traceback__)[-1]
    raise errors.UserModuleError(
        f"config.model.module={spec!r} failed to import: "
        f"{type(e).__name__}: {e} (at {frame.filename}:{frame.lineno}). "
        "Fix that file, or check the module name and PYTHONPATH.") from e
  return module if module is not None else result


def import_user_modules(specs: str) -> list[types.ModuleType]:
  """Imports every comma-separated module in `specs` (may be empty)."""
  return [import_user_module(s) for s in specs.split(",") if s.strip()]
