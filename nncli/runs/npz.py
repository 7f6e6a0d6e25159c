""".npz files read back (weights.npz, checkpoint.npz), trusting nothing in them.

An .npz file is a zip archive of .npy members. Each member is read in three steps: its name
must be one the caller expects (anything else is refused with its data unread, so an extra
member that would inflate to gigabytes costs nothing); its .npy header (dtype, shape) is read and checked
by the caller, and the archive's declared size of the member must match it; then, once every
header is checked and the memory all the arrays need is known to fit (nncli.memory), the data
are read, with ``allow_pickle=False``. Any problem is an InputError naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from .. import memory
from ..errors import InputError

# check(name, shape, dtype): raise InputError when the member is not what the caller expects
Check = Callable[[str, tuple, np.dtype], None]


def read_npz(file: Path, names: Callable[[str], bool], expected: str,
             check: Check) -> dict[str, np.ndarray]:
    """The arrays of ``file`` by member name (without .npy). A member whose name fails
    ``names`` is refused unread (``expected`` says what the names should be); the others are
    checked by ``check`` from their header before their data are read."""
    fmt = np.lib.format
    try:
        with zipfile.ZipFile(file) as zf:
            headers: dict[str, tuple[zipfile.ZipInfo, tuple, np.dtype]] = {}
            for info in zf.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if name in headers:
                    raise InputError(f"{file}: member {info.filename!r} appears twice")
                if not (info.filename.endswith(".npy") and names(name)):
                    raise _unexpected(zf, info, file, expected)
                with zf.open(info) as f:
                    shape, dtype, offset = _header(f, name, file)
                check(name, shape, dtype)
                declared = offset + memory.arrays([shape], dtype.itemsize)
                if info.file_size != declared:
                    raise InputError(f"{file}: {name}: the archive says {info.file_size} bytes, "
                                     f"its header {declared}")
                headers[name] = (info, shape, dtype)
            memory.require(str(file), sum(memory.arrays([shape], dtype.itemsize)
                                          for _, shape, dtype in headers.values()))
            arrays = {}
            for name, (info, _, _) in headers.items():
                with zf.open(info) as f:
                    try:
                        arrays[name] = fmt.read_array(f, allow_pickle=False)
                    except ValueError as e:
                        raise InputError(f"{file}: {name}: unreadable: {e}") from None
    except zipfile.BadZipFile:
        raise InputError(f"{file}: not an .npz archive") from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as e:
        raise InputError(f"{file}: cannot read: {e}") from None  # also: compression, password
    return arrays


def _unexpected(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file: Path, expected: str
                ) -> InputError:
    """The error for a member nobody asked for; its data are never read, but one holding
    Python objects (a pickle) is worth naming as such."""
    try:
        with zf.open(info) as f:
            pickled = _header(f, info.filename, file)[1].hasobject
    except InputError:
        pickled = False
    if pickled:
        return InputError(f"{file}: unreadable: member {info.filename!r} holds Python objects, "
                          f"never loaded (allow_pickle=False)")
    return InputError(f"{file}: unexpected member {info.filename!r}; {expected}")


def _header(f, name: str, file: Path) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, bytes before the data) from a member's .npy header."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"format version {version}")
        shape, fortran, dtype = read(f)
    except ValueError as e:
        raise InputError(f"{file}: {name}: not a NumPy array: {e}") from None
    return shape, dtype, f.tell()
