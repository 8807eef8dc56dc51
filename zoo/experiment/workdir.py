"""A run's --workdir: check it is usable, and let one run use it at a time.

    workdir.check_writable(FLAGS.workdir)      # First thing, before any data.
    with workdir.lock(FLAGS.workdir, enabled=jax.process_index() == 0):
      ...                                      # The run.

The lock is an OS file lock (`flock`) on WORKDIR/.lock, so the kernel frees
it when its holder exits in any way, `kill -9` included: there is never a
stale lock to delete by hand. While held, the file names its holder (pid,
host and command line) for the error a second run prints.
"""

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import tempfile
from typing import Any, Iterator, Optional

from absl import logging

from zoo import errors

LOCK_FILE = ".lock"
# Filesystems where flock is unsupported: the run goes on unlocked.
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)
_MAX_COMMAND_CHARS = 200


def check_writable(workdir: str) -> None:
  """Creates `workdir` if needed and checks a file can be written in it.

  Cheap (one folder, one empty file created and removed). Raises
  WorkdirError, naming the workdir and the fix, if `workdir` is a file, lies
  under a file, or cannot be created or written.
  """
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise errors.WorkdirError(
        f"--workdir={workdir} is a file, not a folder: choose another "
        "--workdir (or move the file away).")
  parent = _existing_ancestor(workdir)
  if not os.path.isdir(parent):
    raise errors.WorkdirError(
        f"--workdir={workdir} lies under {parent}, which is a file, not a "
        "folder: choose another --workdir.")
  doing = "create"
  try:
    os.makedirs(workdir, exist_ok=True)
    doing = "write in"
    fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=workdir)
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    raise errors.WorkdirError(
        f"cannot {doing} --workdir={workdir} ({e.strerror or e}): choose "
        "another --workdir, or make it writable.") from e


def _existing_ancestor(path: str) -> str:
  """`path` itself or its nearest ancestor that exists."""
  path = os.path.abspath(path)
  while not os.path.lexists(path) and os.path.dirname(path) != path:
    path = os.path.dirname(path)
  return path


@contextlib.contextmanager
def claim(workdir: str, enabled: bool = True) -> Iterator[None]:
  """`check_writable` then `lock` for the body (`enabled`: this process
  writes there). A workdir this call created and the run left holding only
  its lock file (it failed before writing anything) is removed after, so no
  empty folder stays behind."""
  if not enabled:
    yield
    return
  created = not os.path.lexists(workdir)
  check_writable(workdir)
  try:
    with lock(workdir):
      yield
  finally:
    if created:
      try:
        if os.listdir(workdir) in ([], [LOCK_FILE]):
          if os.path.lexists(os.path.join(workdir, LOCK_FILE)):
            os.unlink(os.path.join(workdir, LOCK_FILE))
          os.rmdir(workdir)
      except OSError:
        pass  # Another file appeared meanwhile: keep the folder.


@contextlib.contextmanager
def lock(workdir: str, enabled: bool = True) -> Iterator[None]:
  """Holds an exclusive lock on `workdir` for the body, or raises at once.

  Raises WorkdirError naming the process that holds the lock (pid, host and
  command) if another run uses `workdir`, or if WORKDIR/.lock cannot be
  created. `enabled=False` (every process but process 0 of a multi-process
  run) does nothing. The lock is held by an open file, so a child process
  that `fork`s without `exec` shares it while it lives.
  """
  if not enabled:
    yield
    return
  path = os.path.join(workdir, LOCK_FILE)
  try:
    os.makedirs(workdir, exist_ok=True)
    # No O_TRUNC: the holder's details must survive a second run's open.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise errors.WorkdirError(
        f"cannot lock --workdir={workdir}: cannot create {path} "
        f"({e.strerror or e}). Choose another --workdir, or make it "
        "writable.") from e
  with os.fdopen(fd, "r+", encoding="utf-8") as f:
    if not _acquire(f, workdir):
      yield
      return
    try:
      f.seek(0)
      f.truncate()
      f.write(json.dumps(_holder()) + "\n")
      f.flush()
      yield
    finally:
      f.seek(0)
      f.truncate()  # Still held: no reader sees a half-cleared file.
      fcntl.flock(f, fcntl.LOCK_UN)


def _acquire(f: Any, workdir: str) -> bool:
  """Locks `f` without waiting; False where the filesystem has no locks."""
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return True
  except BlockingIOError:
    holder = _describe(_read_holder(f))
    raise errors.WorkdirError(
        f"--workdir={workdir} is in use by {holder}. Wait for it to finish, "
        "stop it, or choose another --workdir.") from None
  except OSError as e:
    if e.errno not in _NO_LOCKS:
      raise errors.WorkdirError(
          f"cannot lock {f.name} in --workdir={workdir} ({e.strerror or e}): "
          "choose another --workdir.") from e
    logging.warning("%s: this filesystem has no file locks (%s); nothing "
                    "stops a second run from using --workdir=%s at the same "
                    "time.", f.name, e.strerror or e, workdir)
    return False


def _holder() -> dict[str, Any]:
  """This process as the lock file records it."""
  argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
  return {"pid": os.getpid(), "host": socket.gethostname(),
          "command": shlex.join(argv)}


def _read_holder(f: Any) -> Optional[dict[str, Any]]:
  """The holder's record, or None if it is not written (yet)."""
  try:
    f.seek(0)
    record = json.loads(f.read())
  except (OSError, ValueError):
    return None
  return record if isinstance(record, dict) else None


def _describe(holder: Optional[dict[str, Any]]) -> str:
  """'process 1234 on host (python launch.py ...)', in one line."""
  if not holder or "pid" not in holder:
    return "another process (which has not yet written its details)"
  command = " ".join(str(holder.get("command", "?")).split())
  if len(command) > _MAX_COMMAND_CHARS:
    command = command[:_MAX_COMMAND_CHARS - 3] + "..."
  host = holder.get("host")
  where = "" if not host or host == socket.gethostname() else f" on {host}"
  return f"process {holder['pid']}{where} ({command})"
