"""The run directory: written whole or not at all, and self-describing.

A run is assembled in a hidden temporary directory next to its final place and renamed into
place when every file is complete, so no reader ever sees half a run. The final name is
``<name>-<YYYYmmdd-HHMMSS>``; if anything exists under that name (another run in the same
second, a file, a dangling symlink), ``-2``, ``-3``, ... is appended: an existing entry is never
written into or replaced. Once every file of the run is written, nothing deletes it any more: a
failure after that point (the rename refused, a picture that does not fit on the disk) leaves
the whole run under its hidden name, and the error says where.

Every file, in the temporary directory too, is written under a temporary name, flushed to disk
and renamed into place (:func:`nncli.files.write_atomic`): a checkpoint replaced during training is always
whole, and a crash never leaves a published run with a file that is shorter than it should be.
A run name is a plain file name (no ``/``, not ``.`` or ``..``), so a run cannot be written
outside its parent directory.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..config import RUN_NAME
from ..errors import InputError
from ..files import DIR_MODE, fsync_dir, os_errors, os_failure, write_atomic
from .formats import weights_npz

RUN_FILES = ("config.yaml", "history.csv", "weights.npz", "model.json", "metrics.json",
             "layers.csv", "snapshots.npz")
RUN_DATA = "data.csv"  # a run made from arrays in Python: its data, which its config.yaml reads


class RunWriter:
    """Collects a run's files in a temporary directory; :meth:`commit` publishes them."""

    def __init__(self, parent: Path, name: str):
        self.parent = Path(parent)
        self.name = name
        if not re.fullmatch(RUN_NAME, name):
            raise InputError(f"name: {name!r} is not a valid run name (letters, digits, '.', "
                             f"'_' and '-', starting with a letter or digit); set name: in "
                             f"the config")
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError(f"--out {self.parent}: not a directory") from None
        except OSError as e:
            raise os_failure(e, f"--out {self.parent}", "create") from None
        with os_errors(f"--out {self.parent}"):
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial",
                                             dir=self.parent))
        self._lock = lock_dir(self.tmp)  # tells `--resume` that this run is still going
        self.assembled = False  # every file written: from then on the run is never deleted

    def write_text(self, filename: str, text: str) -> None:
        self.write_bytes(filename, text.encode("utf-8"))

    def write_json(self, filename: str, obj) -> None:
        self.write_text(filename, json.dumps(obj, indent=2, allow_nan=False) + "\n")

    def write_weights(self, params: dict[str, np.ndarray]) -> None:
        self.write_bytes("weights.npz", weights_npz(params))

    def write_bytes(self, filename: str, data: bytes) -> None:
        with os_errors(self.tmp / filename):
            write_atomic(self.tmp / filename, data)

    def remove(self, filename: str) -> None:
        (self.tmp / filename).unlink(missing_ok=True)

    def commit(self) -> Path:
        """Rename the finished directory into place under a name nothing else has.

        A name is taken only if nothing at all is there (lstat: a file or a dangling symlink
        counts). Should the rename fail for another reason, the run stays whole under its hidden
        name (:meth:`abort` keeps it and says where): a finished run is never deleted.
        """
        self.assembled = True
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{self.name}-{stamp}"
        for attempt in range(1, 10_000):
            final = self.parent / (base if attempt == 1 else f"{base}-{attempt}")
            if os.path.lexists(final):
                continue
            try:
                os.chmod(self.tmp, DIR_MODE)  # as mkdir would make it
                # Refused if something took the name meanwhile (a non-empty directory, a file).
                os.rename(self.tmp, final)
            except OSError as e:
                if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                    continue
                raise os_failure(e, final, "publish the run") from None
            fsync_dir(self.parent)
            self._unlock()
            return final
        raise InputError(f"{self.parent}: no free run directory name for {base}")

    def abort(self, keep: bool = False) -> Path | None:
        """Give up: delete the unfinished directory, unless the run is assembled or ``keep``;
        returns the kept directory (None when it was deleted)."""
        self._unlock()
        if self.assembled or keep:
            return self.tmp
        shutil.rmtree(self.tmp, ignore_errors=True)
        return None

    def _unlock(self) -> None:
        unlock_dir(self._lock)
        self._lock = None


def discard_partial(path: Path, filenames: tuple[str, ...]) -> bool:
    """Remove the hidden directory of a run that nncli assembled, deleting only ``filenames``
    (the files nncli writes there) and their leftover temporaries: anything else someone put in
    it stays, and so does the directory then. True when the directory is gone."""
    temporary = re.compile(r"\.(%s)\..+\.tmp" % "|".join(map(re.escape, filenames)))
    for entry in os.scandir(path):
        if entry.name in filenames or temporary.fullmatch(entry.name):
            if entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
    try:
        os.rmdir(path)
    except OSError:
        return False
    fsync_dir(Path(path).parent)
    return True


def is_inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies below it (symbolic links followed)."""
    path, directory = Path(path).resolve(), Path(directory).resolve()
    return path == directory or directory in path.parents


def is_partial(path: Path) -> bool:
    """Whether ``path`` is the hidden directory of a run still being assembled (or killed)."""
    return path.name.startswith(".") and path.name.endswith(".partial")


def lock_dir(path: Path) -> int | None:
    """Hold an exclusive lock on directory ``path`` until :func:`unlock_dir` or the end of the
    process (however it ends: the kernel drops the lock of a killed process). InputError if
    another process holds it. None where there is no ``fcntl`` (no locking there)."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InputError(f"{path}: in use by a running nncli train") from None
    return fd


def unlock_dir(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
