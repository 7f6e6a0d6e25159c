"""scikit-learn estimators on nncli: :class:`MLPClassifier` and :class:`MLPRegressor`.

Their parameters are nncli's config keys in scikit-learn's style (``hidden_layers=(16,)`` for
``network.layers``, ``learning_rate`` for ``training.learning_rate``, ...), with nncli's
defaults; ``fit`` builds the config and trains it with ``nncli.train`` in memory (the one
training path), so an estimator and ``nncli train`` on the same config give the same weights.
They follow scikit-learn's conventions: nothing happens in ``__init__``, ``fit`` checks its
input with scikit-learn's ``validate_data`` (NaN and inf refused, ``n_features_in_``,
``feature_names_in_``), ``seed`` makes every fit the same, and bad parameters are errors that
are both nncli's :class:`~nncli.errors.InputError` and the ``ValueError`` scikit-learn
expects. docs/python.md lists the parameters and the scikit-learn checks they pass.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .api import train
from .errors import InputError

__all__ = ["MLPClassifier", "MLPRegressor"]

# Parameters that are keys of the config's ``training:`` section, under the same names.
TRAINING_KEYS = ("loss", "update", "batch", "batch_size", "learning_rate", "epochs", "shuffle",
                 "momentum", "momentum_form", "beta1", "beta2", "rho", "epsilon", "l2", "l1",
                 "schedule", "early_stopping", "class_weight")
DTYPES = (np.float64, np.float32)  # X as scikit-learn hands it over; the run's dtype decides


class EstimatorInputError(InputError, ValueError):
    """Bad input or parameters: nncli's InputError (the command line's message), and the
    ValueError that scikit-learn's conventions (and GridSearchCV's error_score) expect."""


class _NncliEstimator(BaseEstimator):
    """What both estimators share: the config they train, fit, and the fitted run."""

    _task: str

    def fit(self, X, y, sample_weight=None):
        """Train on X (n, features) and y; ``sample_weight`` weighs each row's loss (rows of
        weight 0 are left out)."""
        X, y = validate_data(self, X, y, dtype=DTYPES, **self._target_checks)
        targets = self._targets(y)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                           ensure_non_negative=True)
            keep = weights > 0
            if not keep.all():
                X, targets, weights = X[keep], targets[keep], weights[keep]
        try:
            run = train(self._config(targets), X, targets, sample_weight=weights)
        except InputError as e:
            raise EstimatorInputError(*e.problems) from None
        self.run_ = run._without_data()  # a fitted estimator pickles without its data
        self.loss_curve_ = run.history["loss"].tolist()
        self.n_iter_ = run.metrics["epochs_run"]
        return self

    def _config(self, targets: np.ndarray) -> dict:
        """The nncli config of these parameters, for these targets."""
        hidden = (list(self.hidden_layers) if np.iterable(self.hidden_layers)
                  else [self.hidden_layers])
        dropout = (list(self.dropout) if np.iterable(self.dropout)
                   else [self.dropout] * len(hidden))
        if len(dropout) != len(hidden):
            raise EstimatorInputError(f"dropout: {len(dropout)} values for {len(hidden)} hidden "
                                      f"layers (give one value, or one per hidden layer)")
        layers = [{"units": units, "activation": self.activation,
                   **({"dropout": rate} if rate is not None else {})}
                  for units, rate in zip(hidden, dropout)]
        network = {"layers": layers + [self._output_layer(targets)]}
        if self.init is not None:
            network["init"] = self.init
        training = {key: getattr(self, key, None) for key in TRAINING_KEYS}
        if training["early_stopping"] is True:
            training["early_stopping"] = {}  # nncli's defaults (patience 10)
        elif training["early_stopping"] is False:
            training["early_stopping"] = None
        data = {"validation": self.validation, "scale": self.scale, "task": self._task}
        if self._task == "regression":
            data["scale_target"] = self.scale_target
        return {"name": type(self).__name__, "seed": self.seed, "dtype": self.dtype,
                "data": data, "network": network,
                "training": {k: v for k, v in training.items() if v is not None}}

    def _inputs(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=DTYPES)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False  # missing values: an imputer in a Pipeline
        return tags


class MLPClassifier(ClassifierMixin, _NncliEstimator):
    """A multilayer perceptron classifier trained by nncli.

    The output layer is one sigmoid unit for two classes (binary cross-entropy), else a
    softmax unit per class (cross-entropy); ``classes_`` holds the labels, sorted.
    Parameters: see docs/python.md; each names the nncli config key it sets.
    """

    _task = "classification"
    _target_checks: dict = {}

    def __init__(self, hidden_layers=(16,), activation="relu", *, loss=None,
                 update="gradient", learning_rate=0.01, batch="minibatch", batch_size=32,
                 epochs=100, shuffle=True, seed=0, momentum=None, momentum_form=None,
                 beta1=None, beta2=None, rho=None, epsilon=None, l2=0.0, l1=0.0,
                 schedule="constant", early_stopping=None, dropout=None, init=None,
                 class_weight=None, scale="standard", validation=0.0, dtype="float64"):
        _set_params(self, locals())

    def _targets(self, y) -> np.ndarray:
        """Class indexes 0..k-1 into ``classes_``: whatever the labels are (text, integers,
        floats, booleans), nncli trains on their positions."""
        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise EstimatorInputError(f"y: the classifier needs at least 2 classes; the data "
                                      f"has 1 class ({self.classes_[0]!r})")
        return index

    def _config(self, targets: np.ndarray) -> dict:
        config = super()._config(targets)
        weights = self.class_weight
        if isinstance(weights, dict):  # labels -> the class indexes nncli trains on
            position = {_plain_label(c): k for k, c in enumerate(self.classes_)}
            unknown = [c for c in weights if _plain_label(c) not in position]
            if unknown:
                raise EstimatorInputError(f"class_weight: {unknown[0]!r} is not a class of y; "
                                          f"classes: {', '.join(map(repr, self.classes_))}")
            config["training"]["class_weight"] = {position[_plain_label(c)]: w
                                                  for c, w in weights.items()}
        return config

    def _output_layer(self, targets: np.ndarray) -> dict:
        k = len(self.classes_)
        return ({"units": 1, "activation": "sigmoid"} if k == 2
                else {"units": k, "activation": "softmax"})

    def predict(self, X) -> np.ndarray:
        """The class of each row (labels from ``classes_``)."""
        X = self._inputs(X)
        return self.classes_[self.run_.predict(X)]

    def predict_proba(self, X) -> np.ndarray:
        """(n, classes) probabilities, columns in the order of ``classes_``."""
        X = self._inputs(X)
        return self.run_.predict_proba(X)


class MLPRegressor(RegressorMixin, _NncliEstimator):
    """A multilayer perceptron regressor trained by nncli: a linear output unit per target
    (y may have several columns), trained on targets scaled by ``scale_target``.
    Parameters: see docs/python.md; each names the nncli config key it sets.
    """

    _task = "regression"
    _target_checks = {"multi_output": True, "y_numeric": True}

    def __init__(self, hidden_layers=(16,), activation="relu", *, loss=None,
                 update="gradient", learning_rate=0.01, batch="minibatch", batch_size=32,
                 epochs=100, shuffle=True, seed=0, momentum=None, momentum_form=None,
                 beta1=None, beta2=None, rho=None, epsilon=None, l2=0.0, l1=0.0,
                 schedule="constant", early_stopping=None, dropout=None, init=None,
                 scale="standard", scale_target="standard", validation=0.0, dtype="float64"):
        _set_params(self, locals())

    def _targets(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return y

    def _output_layer(self, targets: np.ndarray) -> dict:
        return {"units": self.n_outputs_, "activation": "linear"}

    def predict(self, X) -> np.ndarray:
        """(n,) predictions for one target, (n, targets) for several."""
        X = self._inputs(X)
        out = self.run_.predict(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one output unit per column of y
        return tags


def _set_params(estimator, arguments: dict) -> None:
    """``__init__``: each argument as the attribute of its name, and nothing else (scikit-learn's
    convention: validation and work happen in ``fit``)."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _plain_label(label):
    """A label as np.unique's classes compare: NumPy scalars as Python values."""
    if isinstance(label, np.generic):
        return label.item()
    if isinstance(label, Integral):
        return int(label)
    return label
