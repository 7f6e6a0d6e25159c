"""`nncli export`: a test kit for a learner's own implementation of the network.

The kit is a new directory (written whole or not at all: ``files.write_new_directory``):

| file | content |
|---|---|
| ``kit.json`` | the conventions, the data, the initial weights and every quantity of K steps |
| ``data.csv`` | the training set as the network sees it (scaled features, encoded targets) |
| ``initial.csv`` | the initial weights and biases, one cell per line |
| ``expected.csv`` | every cell of the K steps (the worksheet, filled in by nncli) |
| ``CONVENTIONS.md`` | shapes, the loss and its reduction, the update, the naming of cells |
| ``my_network.py`` | the four functions to write: forward, loss, backward, update |
| ``test_my_network.py`` | the test: runs the learner's module step by step, naming the first quantity that disagrees |

The numbers are the step calculator's, which are `nncli trace`'s bit for bit.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..files import write_new_directory
from .cells import Exercise, cell_names, exercise_config, require_steps
from .stepcalc import UPDATE_FORMS
from .worksheet import NAMING, conventions, exact, to_csv

KIT_FILES = Path(__file__).with_name("kit")
TOLERANCE = {"float64": {"rtol": 1e-6, "atol": 1e-9}, "float32": {"rtol": 1e-4, "atol": 1e-6}}


def export_config(config_path: str | Path, out: str | Path, overrides: list[str] = (),
                  steps: int = 1) -> Path:
    """Write the test kit of the config's first ``steps`` updates to the new directory
    ``out``."""
    ex = exercise_config(config_path, overrides, steps)
    require_steps(ex, steps)
    return write_new_directory(out, kit_files(ex, Path(config_path)), "test kit")


def kit_files(ex: Exercise, config_path: Path) -> dict[str, bytes]:
    all_exact = {c.label: exact(ex.value(c), ex.model.dtype) for c in ex.all_cells()}
    return {
        "kit.json": (json.dumps(kit_json(ex), indent=1) + "\n").encode(),
        "data.csv": _data_csv(ex).encode(),
        "initial.csv": _initial_csv(ex).encode(),
        "expected.csv": to_csv(ex, all_exact).encode(),
        "CONVENTIONS.md": conventions_md(ex, config_path).encode(),
        "my_network.py": (KIT_FILES / "my_network.py").read_bytes(),
        "test_my_network.py": (KIT_FILES / "test_my_network.py").read_bytes(),
    }


def kit_json(ex: Exercise) -> dict:
    cfg = ex.experiment.config
    t = cfg.training
    net = ex.experiment.network
    qs = ex.quantities
    return {
        "nncli": __version__,
        "name": ex.name,
        "dtype": cfg.dtype,
        "loss": t.loss,
        "update": t.update,
        "rule": ex.model.hyper,  # the update rule's settings (momentum, beta1, ...)
        "learning_rate": t.learning_rate,  # of epoch 1; each step has its own "lr"
        "schedule": t.model_dump(mode="json")["schedule"],
        "l2": t.l2,
        "l1": t.l1,
        "weighted": ex.model.weighted,
        "batch": t.batch,
        "batch_size": ex.batch_size,
        "layers": [{"layer": i, "inputs": l.W.shape[0], "units": l.units,
                    "activation": l.activation.name, "bias": l.b is not None,
                    "dropout": l.dropout}
                   for i, l in enumerate(net.layers, start=1)],
        "frozen": [k for k, on in ex.model.trainable.items() if not on],
        "state": UPDATE_FORMS[t.update].state_keys(ex.model),
        "tolerance": TOLERANCE[cfg.dtype],
        "order": [q.key for q in qs],
        "stages": {q.key: q.stage for q in qs},
        "formulas": {q.key: q.formula for q in qs},
        "forms": {q.key: q.form for q in qs},
        "data": {"x": _list(ex.experiment.X_train), "y": _list(ex.experiment.Y_train)},
        "initial": {k: _list(v) for k, v in ex.initial.items()},
        "steps": [{
            "step": number, "epoch": b.epoch, "batch": b.batch, "lr": b.lr,
            "rows": [int(r) for r in b.rows], "x": _list(b.x), "y": _list(b.y),
            "weights": None if b.w is None else _list(b.w),
            "masks": [_list(b.masks[l]) if l in b.masks else None
                      for l in range(1, len(net.layers) + 1)] if b.masks else None,
            "expected": {q.key: _list(step.values[q.key]) for q in qs},
        } for number, (b, step) in enumerate(zip(ex.batches, ex.steps), start=1)],
    }


def conventions_md(ex: Exercise, config_path: Path) -> str:
    cfg = ex.experiment.config
    steps = len(ex.steps)
    tol = TOLERANCE[cfg.dtype]
    out = [
        f"# Test kit: {ex.name}, {steps} step{'s' if steps > 1 else ''}",
        "",
        f"Made by `nncli export {config_path} --kit DIR --steps {steps}` (nncli {__version__}). "
        "Write your own network in plain NumPy in `my_network.py` (or point "
        "`NNCLI_KIT_MODULE` at your module or `.py` file) and run `pytest` in this folder: "
        "each step is checked in textbook order, and a failure names the first quantity that "
        "disagrees with nncli.",
        "",
        "## The four functions",
        "",
        "```python",
        "forward(params, x) -> (zs, activations)        # lists, layer 1 first: z = a_prev @ W + b, a = f(z)",
        "loss(output, y) -> float                       # optional: the batch loss L",
        "backward(params, x, y, zs, activations) -> (deltas, grads)",
        "                                               # deltas: dL/dz per layer; grads: {'W1': dL/dW1, 'b1': dL/db1, ...}",
        "update(params, grads, lr, state) -> params     # a new dict; state: the rule's memory, updated in place",
        "```",
        "",
        "`params` maps `W1`, `b1`, `W2`, ... to NumPy arrays. Each part is checked from "
        "nncli's inputs (backward gets nncli's z and a; update gets nncli's gradients and "
        "nncli's state before the step), so one mistake shows once. The update is given a "
        "frozen array's gradient as zeros, and `lr` is the rate of the step's epoch.",
        "",
    ]
    out += _extras(ex)
    out += [
        "## Conventions",
        "",
    ]
    out += [f"- {line}" for line in conventions(ex)]
    out += [
        "- Shapes: samples are rows. `x` is (n, features), `y` (n, outputs); `W<l>` is "
        "(inputs, units), so z = a_prev @ W + b (Hagan's W is the transpose: (units, inputs)); "
        "`b<l>` is (units,); z, a and δ of a layer are (n, units).",
        "- The loss is the mean over the n samples of the batch, so δ carries the 1/n and "
        "dL/dW = a_prevᵀ · δ, dL/db = δ summed over the samples, with no further 1/n.",
        f"- {NAMING}",
        f"- Agreement: `numpy.isclose(yours, nncli's, rtol={tol['rtol']:g}, "
        f"atol={tol['atol']:g} · max(1, the largest |value| of that quantity))`.",
        "",
        "## Files",
        "",
        "| file | content |",
        "|---|---|",
        "| `kit.json` | everything: the conventions, the data, the initial weights, each step's "
        "batch (`rows`, `x`, `y`) and every quantity (`expected`, by quantity: `z1`, `a1`, "
        "`L`, `delta2`, `dW2`, `db2`, `W1'`, ...) |",
        "| `data.csv` | the training set as the network sees it: scaled features `x1..`, "
        "targets `y1..` (classes one-hot); row r is training row r (0-based) |",
        "| `initial.csv` | the initial weights and biases, `cell,value` |",
        "| `expected.csv` | every cell of every step, `step,stage,cell,formula,value` |",
        "| `my_network.py` | the template of your module |",
        "| `test_my_network.py` | the test |",
        "",
    ]
    return "\n".join(out)


def _extras(ex: Exercise) -> list[str]:
    """What the four functions get or keep beyond the plain case: the update's state, the
    rows' weights, the dropout masks, the penalty."""
    model, out = ex.model, []
    keys = UPDATE_FORMS[model.update].state_keys(model)
    if keys:
        letters = ", ".join(dict.fromkeys(k.rstrip("0123456789").rstrip("Wb") for k in keys))
        out += [f"**The update's state.** `state` holds the rule's arrays by cell name without "
                f"the prime: {', '.join(f'`{k}`' for k in keys[:4])}"
                + (", ..." if len(keys) > 4 else "") + f" ({letters} of each trained array, "
                f"shaped like it), and `t`, the number of steps taken before this one. The test "
                f"hands `update` nncli's state before the step (zeros and t = 0 at step 1) and "
                f"checks the arrays your update leaves in `state` (`{keys[0]}'` in kit.json) "
                f"before the parameters.", ""]
    if model.weighted:
        out += ["**Row weights.** `loss` and `backward` get `weights=w`, each row's weight "
                "(class and sample weights; kit.json's `weights` of each step): the loss is "
                "Σ wᵢ·Lᵢ / Σ wᵢ.", ""]
    if model.dropout:
        out += ["**Dropout.** `forward` and `backward` get `masks=`, a list with one array "
                "(n, units) per layer, or None for a layer without dropout (kit.json's `masks` "
                "of each step): the next layer reads a ⊙ mask, and dL/da of the layer is "
                "multiplied by it; `activations` are the undropped a.", ""]
    if model.penalty is not None:
        out += [f"**Penalty.** `grads` are the gradient of L + penalty: dL/dW + l2 · W + l1 · "
                f"sign(W) with l2 = {model.l2:g}, l1 = {model.l1:g} (kit.json's `l2`, `l1`), "
                f"for the weights only.", ""]
    return out


def _data_csv(ex: Exercise) -> str:
    X, Y = ex.experiment.X_train, ex.experiment.Y_train
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([f"x{j + 1}" for j in range(X.shape[1])] + [f"y{j + 1}" for j in range(Y.shape[1])])
    for x, y in zip(X, Y):
        w.writerow([exact(v, X.dtype) for v in x] + [exact(v, Y.dtype) for v in y])
    return buf.getvalue()


def _initial_csv(ex: Exercise) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["cell", "value"])
    for key, value in ex.initial.items():
        for index, name in cell_names(key, "weights" if key[0] == "W" else "vector", value.shape):
            w.writerow([name, exact(value[index], value.dtype)])
    return buf.getvalue()


def _list(a: np.ndarray):
    return np.asarray(a, dtype=np.float64).tolist()
