"""nncli: train multilayer perceptrons from YAML config files on a plain NumPy engine.

From Python::

    import nncli
    run = nncli.train({"network": {"layers": [...]}}, X, y)   # or a config file's path
    run.predict(X)

``nncli.train`` and ``nncli.load_run`` give the same :class:`nncli.api.Run`; scikit-learn
estimators are in :mod:`nncli.sklearn`. Importing nncli imports nothing else: the trainer,
scikit-learn and matplotlib are imported when used.
"""

__version__ = "0.1.0"


def train(config, X=None, y=None, *, overrides=(), out=None, plots=False, progress=False,
          sample_weight=None):
    """Train the network ``config`` describes and return its :class:`~nncli.api.Run`.

    ``config``: a dict (as the YAML would read) or the path of a config file. ``X``, ``y``:
    the data, replacing the config's ``data`` source (NumPy arrays, or a DataFrame and Series
    with column names; ``data`` may then say only validation, scale, scale_target, task,
    missing and categorical); ``sample_weight``: a weight > 0 per row of X. ``overrides``:
    ``["training.learning_rate=0.05", ...]`` as ``--set`` takes them. ``out``: write the run
    directory under this folder, as ``nncli train --out`` does; without it, nothing is
    written (``run.save(dir)`` writes it later). ``plots``: the run directory gets its
    pictures. ``progress``: show training's progress on stderr, as ``nncli train`` does.

    Bad input raises :class:`nncli.errors.InputError`, divergence
    :class:`nncli.errors.TrainingFailed` (its ``run`` holds what training kept), each with
    the command line's message; warnings are :class:`nncli.errors.NncliWarning`.
    """
    from .api import train as train_run

    if not progress:
        return train_run(config, X, y, overrides=overrides, out=out, plots=plots,
                         sample_weight=sample_weight)
    from .cli.progress import ProgressHooks, TrainingProgress  # rich lives in the CLI

    with TrainingProgress() as bar:
        return train_run(config, X, y, overrides=overrides, out=out, plots=plots,
                         sample_weight=sample_weight, hooks=ProgressHooks(bar))


def load_run(path):
    """Load a trained run directory: a :class:`~nncli.api.Run` (``predict``,
    ``predict_proba``, ``evaluate``, ``plot``, ``history``, ``metrics``)."""
    from .api import load_run as load

    return load(path)


def __getattr__(name):
    """``nncli.sklearn`` and ``nncli.Run`` on first use (scikit-learn is imported then)."""
    if name == "sklearn":
        import importlib

        return importlib.import_module(".sklearn", __name__)
    if name == "Run":
        from .api import Run

        return Run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
