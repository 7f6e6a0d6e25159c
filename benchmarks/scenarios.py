"""The benchmark scenarios: the six of issue 5 (plain SGD), and the update rules of issue 15
(momentum and adam) on the same data: data, network, batch size, learning rate, epochs, rule.

Data and initial weights are made once by the parent process (scikit-learn's generators and
bundled digits, features standardised; weights drawn by nncli's own initialisers: He for relu
layers, Glorot/Xavier otherwise, biases zero) and saved to a work folder, so that every system
starts from exactly the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Scenario:
    name: str
    sizes: tuple[int, ...]  # inputs, hidden..., outputs
    hidden: str  # hidden activation (nncli name); scikit-learn uses one for all hidden layers
    output: str  # softmax | sigmoid | linear
    loss: str  # nncli loss name; the one that equals scikit-learn's loss for this output
    batch: int  # 0 = full batch
    learning_rate: float
    epochs: int  # chosen so one scikit-learn run takes about 1-3 s here
    data: str  # description for the table
    update: str = "gradient"  # gradient | momentum (classic form) | adam
    momentum: float = 0.0
    epsilon: float = 1e-8  # adam
    base: str | None = None  # the scenario whose data and initial weights this one uses

    @property
    def data_name(self) -> str:
        return self.base or self.name

    @property
    def task(self) -> str:
        return "regression" if self.output == "linear" else "classification"

    def batch_size(self, n: int) -> int:
        return n if self.batch == 0 else self.batch

    @property
    def network(self) -> str:
        return "-".join(map(str, self.sizes)) + f" {self.hidden}/{self.output}"


SCENARIOS = {s.name: s for s in (
    Scenario("digits", (64, 128, 10), "relu", "softmax", "cross_entropy", 32, 0.05, 60,
             "load_digits (1,797 x 64)"),
    Scenario("blobs-large", (20, 64, 64, 5), "relu", "softmax", "cross_entropy", 256, 0.05, 6,
             "make_blobs 100,000 x 20, 5 centers"),
    Scenario("wide", (256, 512, 512, 10), "relu", "softmax", "cross_entropy", 128, 0.01, 2,
             "make_classification 20,000 x 256, 10 classes"),
    Scenario("sgd-tiny", (2, 16, 16, 2), "tanh", "softmax", "cross_entropy", 1, 0.01, 4,
             "make_moons 2,000, noise 0.2"),
    Scenario("fullbatch", (2, 32, 1), "sigmoid", "sigmoid", "binary_cross_entropy", 0, 0.5,
             2000, "make_moons 1,000, noise 0.2"),
    Scenario("regress", (10, 64, 64, 1), "relu", "linear", "half_sse", 64, 0.001, 15,
             "make_friedman1 20,000 x 10, noise 1"),
    # Issue 15: the same data and networks with momentum and adam.
    Scenario("digits-momentum", (64, 128, 10), "relu", "softmax", "cross_entropy", 32, 0.01,
             60, "load_digits (1,797 x 64)", update="momentum", momentum=0.9, base="digits"),
    Scenario("digits-adam", (64, 128, 10), "relu", "softmax", "cross_entropy", 32, 0.001, 60,
             "load_digits (1,797 x 64)", update="adam", base="digits"),
    Scenario("regress-adam", (10, 64, 64, 1), "relu", "linear", "half_sse", 64, 0.001, 15,
             "make_friedman1 20,000 x 10, noise 1", update="adam", base="regress"),
)}


def make_data(s: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(X standardised float64 (n, features), y): int labels, or float64 (n,) targets."""
    from sklearn import datasets

    name = s.data_name
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif name == "blobs-large":
        X, y = datasets.make_blobs(n_samples=100_000, n_features=20, centers=5, random_state=0)
    elif name == "wide":
        X, y = datasets.make_classification(n_samples=20_000, n_features=256, n_informative=32,
                                            n_redundant=0, n_classes=10, random_state=0)
    elif name == "sgd-tiny":
        X, y = datasets.make_moons(n_samples=2_000, noise=0.2, random_state=0)
    elif name == "fullbatch":
        X, y = datasets.make_moons(n_samples=1_000, noise=0.2, random_state=0)
    elif name == "regress":
        X, y = datasets.make_friedman1(n_samples=20_000, n_features=10, noise=1.0, random_state=0)
    else:
        raise KeyError(name)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std == 0, 1.0, std)
    return np.ascontiguousarray(X), y


def targets(s: Scenario, y: np.ndarray) -> np.ndarray:
    """nncli's 2-D targets: one-hot for softmax, one 0/1 column for sigmoid, values for linear."""
    if s.output == "softmax":
        return np.eye(s.sizes[-1])[y]
    return np.asarray(y, dtype=np.float64).reshape(-1, 1)


def initial_weights(s: Scenario, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (fan_in, units), b (units,)), ...] in float64, drawn by nncli's initialisers."""
    from nncli.engine.init import he, xavier

    rng = np.random.default_rng(seed)
    layers = []
    activations = [s.hidden] * (len(s.sizes) - 2) + [s.output]
    for fan_in, units, act in zip(s.sizes[:-1], s.sizes[1:], activations):
        draw = he if act == "relu" else xavier
        layers.append((draw(rng, fan_in, units), np.zeros(units)))
    return layers


def save(s: Scenario, folder: Path) -> Path:
    """Write the scenario's data and initial weights to ``folder/<name>.npz``."""
    X, y = make_data(s)
    arrays = {"X": X, "y": y, "Y": targets(s, y)}
    for i, (W, b) in enumerate(initial_weights(s), start=1):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    path = folder / f"{s.name}.npz"
    np.savez(path, **arrays)
    return path


def load(path: Path, dtype: str) -> dict[str, np.ndarray]:
    """The saved arrays, floats cast to ``dtype`` (labels ``y`` kept as they are)."""
    with np.load(path, allow_pickle=False) as z:
        out = {}
        for k in z.files:
            a = z[k]
            if k == "y" and a.dtype.kind in "iu":
                out[k] = a
            else:
                out[k] = np.ascontiguousarray(a, dtype=dtype)
        return out


def weights_of(arrays: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    layers, i = [], 1
    while f"W{i}" in arrays:
        layers.append((arrays[f"W{i}"], arrays[f"b{i}"]))
        i += 1
    return layers
