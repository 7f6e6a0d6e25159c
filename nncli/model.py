"""A trained run, loaded back from its directory: ``nncli.load_run(path).predict(X)``.

The run directory describes itself: model.json gives the layers, preprocessing and labels,
weights.npz the parameters (plain arrays, loaded with allow_pickle=False). Prediction uses the
engine's one forward pass, in chunks, exactly as training did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data.prepare import Scaler, decode_outputs
from .engine.activations import make_activation
from .engine.network import Layer, Network
from .errors import InputError

CHUNK_ROWS = 4096


@dataclass
class TrainedModel:
    path: Path
    network: Network
    scaler: Scaler
    task: str
    feature_names: list[str]
    target_names: list[str]
    classes: list
    description: dict  # model.json as loaded

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Raw network outputs for unscaled feature rows X (n, features)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.network.n_inputs:
            raise InputError(f"expected rows of {self.network.n_inputs} features "
                             f"({', '.join(self.feature_names)}), got shape {X.shape}")
        out = np.empty((len(X), self.network.n_outputs), dtype=self.network.dtype)
        ws = self.network.workspace(max(1, min(len(X), CHUNK_ROWS)))
        for start in range(0, len(X), ws.capacity):
            stop = min(start + ws.capacity, len(X))
            chunk = self.scaler.transform(X[start:stop], self.network.dtype)
            out[start:stop] = self.network.forward(chunk, ws)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (original values) for classification, (n, targets) values for regression."""
        outputs = self.outputs(X)
        if self.task == "classification":
            return decode_outputs(outputs, self.classes)
        return outputs

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, classes) class probabilities, columns in the order of ``classes``."""
        if self.task != "classification":
            raise InputError(f"{self.path}: probabilities need a classification run")
        outputs = self.outputs(X)
        if outputs.shape[1] == 1:  # one sigmoid/step unit: P(larger class)
            return np.hstack([1 - outputs, outputs])
        return outputs


def load_run(path: str | Path) -> TrainedModel:
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run directory")
    try:
        description = json.loads((path / "model.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no model.json (not a finished nncli run)") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}/model.json: unreadable: {e}") from None
    try:
        dtype = description["dtype"]
        with np.load(path / "weights.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise InputError(f"{path}: no weights.npz") from None
    except KeyError as e:
        raise InputError(f"{path}/model.json: missing key {e}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}/weights.npz: unreadable: {e}") from None
    layers = []
    for i, spec in enumerate(description["layers"], start=1):
        W = arrays[f"W{i}"].astype(dtype)
        b = arrays[f"b{i}"].astype(dtype) if spec["bias"] else None
        layers.append(Layer(W, b, make_activation(spec["activation"], spec.get("alpha", 0.01))))
    return TrainedModel(
        path=path, network=Network(layers), scaler=Scaler.from_dict(description["scaler"]),
        task=description["task"], feature_names=description["feature_names"],
        target_names=description["target_names"], classes=description["classes"],
        description=description)
