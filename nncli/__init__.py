"""nncli: train multilayer perceptrons from YAML config files on a plain NumPy engine."""

__version__ = "0.1.0"
