"""Files in and out, the one way nncli does it: atomic writes, reads whose failures are input
errors, JSON without NaN.

Every file nncli writes goes through :func:`write_atomic`: a temporary file in the same folder,
flushed to disk and renamed over the target, so a reader (or whatever survives a crash) sees
the old file or the new one, never half of one. Every file nncli reads back goes through
:func:`read_bytes` / :func:`read_text` / :func:`read_json`, which turn "missing" and
"unreadable" into an :class:`InputError` naming the file. Every failure of the machine met
while writing (a full disk, a read-only file system) becomes one message through
:func:`os_failure`, the one place where OS errors are put into words.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from .errors import InputError, OutputFailed

UMASK = os.umask(0o22)  # read it (the only way) and put it back at once
os.umask(UMASK)
FILE_MODE = 0o666 & ~UMASK  # what open() would give a new file
DIR_MODE = 0o777 & ~UMASK  # what mkdir would give a new directory


def free_name(path: str | Path) -> Path:
    """``path``, or the first of ``name-2.ext``, ``name-3.ext``, ... with nothing there: where a
    default file name goes, so that a command never replaces a file it was not named (a file
    given with --out is replaced, as asked)."""
    path = Path(path)
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise InputError(f"{path.parent}: no free file name for {path.name}")


def write_atomic(path: str | Path, data: bytes | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, or a function that writes to a binary file) to ``path`` through a
    temporary file in the same folder, flushed to disk and renamed into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, FILE_MODE)  # mkstemp makes it private; a rename would keep that
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def fsync_dir(path: str | Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_bytes(path: str | Path, what: str = "file", in_run: str | None = None) -> bytes:
    """The bytes of ``path``; an InputError when it is missing or unreadable.

    The message names the file as ``what`` ("config file"), or, for a file of a run
    directory, says what its absence means: ``in_run="not a finished nncli run"`` gives
    "runs/x: no weights.npz (not a finished nncli run)".
    """
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if in_run:
            raise InputError(f"{path.parent}: no {path.name} ({in_run})") from None
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read {what}: {os_reason(e)}") from None


def read_text(path: str | Path, what: str = "file", in_run: str | None = None) -> str:
    """The UTF-8 text of ``path`` (see :func:`read_bytes`)."""
    data = read_bytes(path, what, in_run)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (is it a {what}?)") from None


def parse_json(text: str, where: str):
    """JSON as the standard defines it: NaN and Infinity are refused (Python's parser accepts
    them), and so is nesting too deep to read. (Integers are read exactly, however large: the
    schema of each file says where one too large for a float is wrong, naming the key.)"""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as e:
        raise InputError(f"{where}: not valid JSON: {e}") from None
    except RecursionError:
        raise InputError(f"{where}: not valid JSON: nested too deeply") from None


def read_json(path: str | Path, what: str = "JSON file", in_run: str | None = None):
    return parse_json(read_text(path, what, in_run), str(path))


def validated(data, schema, where: str):
    """``data`` (read back from a file) checked by type against the pydantic model ``schema``;
    an InputError naming ``where`` and the first key that is wrong. Every file nncli reads back
    has one such schema, beside its reader."""
    from pydantic import ValidationError

    try:
        return schema.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        raise InputError(f"{where}: {key.lstrip('.') + ': ' if key else ''}{err['msg']}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def finite_or_none(value) -> float | None:
    """JSON has no NaN or infinity: an undefined or non-finite value is recorded as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def write_new_directory(path: str | Path, files: dict[str, bytes], what: str = "directory"
                        ) -> Path:
    """A new directory holding ``files`` (name -> bytes), written whole or not at all: they
    are assembled in a hidden temporary directory beside ``path`` and renamed into place. An
    existing empty directory is replaced; anything else already at ``path`` is refused (an
    InputError, and nothing is written)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(f"{path}: already exists{' and is not empty' if path.is_dir() else ''}"
                         f"; the {what} is written only to a new or empty directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial",
                                    dir=path.parent))
    except OSError as e:
        raise os_failure(e, path, f"create the {what}") from None
    try:
        for name, data in files.items():
            write_atomic(tmp / name, data)
        os.chmod(tmp, DIR_MODE)  # as mkdir would make it
        os.rename(tmp, path)  # refused if a non-empty directory appeared there meanwhile
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise InputError(f"{path}: already exists; the {what} is written only to a new "
                             f"or empty directory") from None
        raise os_failure(e, path, f"write the {what}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(path.parent)
    return path


# ---------------------------------------------------------------------------------------------
# Failures of the machine, in words

# What an OSError means, and whose it is: a path the user chose that cannot be used is bad
# input (exit 2); a machine that cannot hold the result fails the work (exit 1).
OS_ERRORS: dict[int, tuple[str, type[Exception]]] = {
    errno.ENOSPC: ("no space left on device", OutputFailed),
    errno.EDQUOT: ("disk quota exceeded", OutputFailed),
    errno.EFBIG: ("file too large for the file system", OutputFailed),
    errno.EIO: ("input/output error", OutputFailed),
    errno.EROFS: ("read-only file system", InputError),
    errno.EACCES: ("permission denied", InputError),
    errno.EPERM: ("operation not permitted", InputError),
    errno.ENAMETOOLONG: ("file name too long", InputError),
    errno.ENOENT: ("no such file or directory", InputError),
    errno.ENOTDIR: ("not a directory", InputError),
    errno.EISDIR: ("is a directory", InputError),
    errno.EBADF: ("the stream is closed", OutputFailed),
}


def os_reason(e: OSError) -> str:
    """'no space left on device': what an OSError says, in the words nncli uses."""
    known = OS_ERRORS.get(e.errno)
    return known[0] if known else (e.strerror or str(e) or type(e).__name__)


def os_failure(e: OSError, path: str | Path, doing: str = "write") -> Exception:
    """The exception to raise for ``e``, met while ``doing`` ``path``: one line naming the path
    and what went wrong; InputError (exit 2) or OutputFailed (exit 1) as :data:`OS_ERRORS` says."""
    kind = OS_ERRORS.get(e.errno, ("", OutputFailed))[1]
    return kind(f"{path}: cannot {doing}: {os_reason(e)}")


@contextlib.contextmanager
def os_errors(path: str | Path, doing: str = "write") -> Iterator[None]:
    """Turn an OSError inside the block into :func:`os_failure`'s exception."""
    try:
        yield
    except OSError as e:
        raise os_failure(e, path, doing) from None
