"""snapshots.npz: the weights at about 40 epochs of a run, for pictures of it learning.

Which epochs: :func:`snapshot_epochs` spreads :data:`COUNT` of them from the first epoch to
``training.epochs``, quadratically, so they are denser early, where most change happens
(epoch 1 + (E - 1)·(k/(COUNT-1))², rounded, for k = 0..COUNT-1, without repeats); a run that
stops earlier (early stopping, divergence) adds the last epoch it finished. The epochs depend on
the config alone, so a resumed run keeps the same ones (the weights of those before its
checkpoint come from the interrupted run's snapshots.npz, which the checkpoint names). A
network of more than :data:`MAX_PARAMETERS` parameters gets none (40 copies of it would make the
run directory large; the pictures drawn from them are for small networks anyway).

The file: ``epochs`` (int64, k), ``loss`` (float64, k: that epoch's history loss) and each
parameter stacked over the snapshots, ``W1`` (k, fan_in, units), ``b1`` (k, units), ...: plain
arrays, read back with ``allow_pickle=False`` through :func:`nncli.runs.npz.read_npz`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from .npz import read_npz

SNAPSHOTS = "snapshots.npz"
COUNT = 40
MAX_PARAMETERS = 100_000
_PARAMETER = re.compile(r"[Wb][1-9][0-9]{0,3}")


def snapshot_epochs(epochs: int, count: int = COUNT) -> list[int]:
    """The epochs of 1..``epochs`` whose weights are kept, denser early."""
    if epochs <= count:
        return list(range(1, epochs + 1))
    kept = {1 + round((epochs - 1) * (k / (count - 1)) ** 2) for k in range(count)}
    return sorted(kept)


class Snapshots:
    """The snapshots of one run, kept in memory (at most about COUNT copies of the weights)."""

    def __init__(self, epochs: int, names: list[str]):
        self.wanted = set(snapshot_epochs(epochs))
        self.names = names
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.params: list[dict[str, np.ndarray]] = []

    def add(self, epoch: int, loss: float, params: dict[str, np.ndarray]) -> None:
        """The weights ``params`` at the end of ``epoch`` (copied), if not kept already."""
        if self.epochs and self.epochs[-1] >= epoch:
            return
        self.epochs.append(epoch)
        self.loss.append(loss)
        self.params.append({k: np.array(v, copy=True) for k, v in params.items()})

    def epoch_end(self, epoch: int, loss: float, params) -> None:
        """After each epoch; ``params()`` gives the weights (asked for on snapshot epochs
        only: building the dict costs more than a tiny network's epoch)."""
        if epoch in self.wanted:
            self.add(epoch, loss, params())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(epochs, loss, each parameter stacked), as :func:`read_snapshots` reads them."""
        return (np.array(self.epochs, dtype=np.int64), np.array(self.loss, dtype=np.float64),
                {name: np.stack([p[name] for p in self.params]) for name in self.names})

    def npz(self) -> bytes:
        epochs, loss, params = self.arrays()
        arrays = {"epochs": epochs, "loss": loss, **params}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def load(self, path: Path, upto: int, expected: list[int], shapes: dict) -> None:
        """The snapshots of epochs 1..``upto`` from an earlier run's file (a resumed run): they
        must be exactly the ``expected`` epochs (what its checkpoint recorded)."""
        epochs, loss, params = read_snapshots(path, shapes)
        keep = [i for i, e in enumerate(epochs) if e <= upto]
        got = [int(epochs[i]) for i in keep]
        if got != expected:
            raise InputError(f"{path}: snapshots of epochs {got}, but the checkpoint recorded "
                             f"{expected} (was the file changed?)")
        for i in keep:
            self.add(int(epochs[i]), float(loss[i]), {k: v[i] for k, v in params.items()})


def read_snapshots(path: Path, shapes: dict[str, tuple[tuple, np.dtype]]
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(epochs, loss, parameters stacked by name) of a snapshots.npz; ``shapes`` gives each
    parameter's shape and dtype (from the run's network). Anything unexpected is an
    InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path.parent}: no {path.name} (runs of networks of more than "
                         f"{MAX_PARAMETERS:,} parameters, and runs of older nncli versions, "
                         f"have none)")

    def check(name, shape, dtype):
        if name in ("epochs", "loss"):
            if len(shape) != 1 or dtype.kind != ("i" if name == "epochs" else "f"):
                raise InputError(f"{path}: {name} must be a vector of "
                                 f"{'integers' if name == 'epochs' else 'numbers'}")
            return
        if name not in shapes:
            raise InputError(f"{path}: {name}: the run's network has no such parameter")
        want, wdtype = shapes[name]
        if tuple(shape[1:]) != tuple(want) or dtype != wdtype:
            raise InputError(f"{path}: {name} is {dtype} {shape}; the network needs "
                             f"(k, {', '.join(map(str, want))}) {wdtype}")

    arrays = read_npz(path, lambda n: n in ("epochs", "loss") or bool(_PARAMETER.fullmatch(n)),
                      "snapshots.npz holds epochs, loss and the parameters W1, b1, ...", check)
    missing = [n for n in ["epochs", "loss", *shapes] if n not in arrays]
    if missing:
        raise InputError(f"{path}: no {missing[0]!r} array")
    epochs, loss = arrays.pop("epochs"), arrays.pop("loss")
    k = len(epochs)
    if len(loss) != k or any(len(a) != k for a in arrays.values()):
        raise InputError(f"{path}: the arrays hold different numbers of snapshots")
    if k and (epochs[0] < 1 or np.any(np.diff(epochs) <= 0)):
        raise InputError(f"{path}: epochs must be increasing from 1 on")
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise InputError(f"{path}: holds weights that are not finite")
    if not np.all(np.isfinite(loss)):
        raise InputError(f"{path}: loss holds values that are not finite")
    return epochs, loss, arrays
