"""nncli: train multilayer perceptrons from YAML config files on a plain NumPy engine."""

__version__ = "0.1.0"


def load_run(path):
    """Load a trained run directory: an object with ``.predict(X)`` and ``.predict_proba(X)``."""
    from .runs.load import load_run as _load_run
    return _load_run(path)
