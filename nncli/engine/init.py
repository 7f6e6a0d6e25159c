"""Initial weights, drawn from the run's own ``np.random.Generator`` (never global state).

Biases start at zero under every scheme; explicit values in the config replace either.
"""

from __future__ import annotations

import numpy as np


def xavier(rng: np.random.Generator, fan_in: int, units: int) -> np.ndarray:
    """Glorot uniform: U(-r, r) with r = sqrt(6 / (fan_in + units))."""
    r = np.sqrt(6.0 / (fan_in + units))
    return rng.uniform(-r, r, size=(fan_in, units))


def he(rng: np.random.Generator, fan_in: int, units: int) -> np.ndarray:
    """He normal: N(0, 2 / fan_in), for relu and leaky_relu layers."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, units))


def normal(rng: np.random.Generator, fan_in: int, units: int) -> np.ndarray:
    """N(0, 0.1^2)."""
    return rng.normal(0.0, 0.1, size=(fan_in, units))


def uniform(rng: np.random.Generator, fan_in: int, units: int) -> np.ndarray:
    """U(-0.1, 0.1)."""
    return rng.uniform(-0.1, 0.1, size=(fan_in, units))


def zeros(rng: np.random.Generator, fan_in: int, units: int) -> np.ndarray:
    return np.zeros((fan_in, units))


INITS = {f.__name__: f for f in (xavier, he, normal, uniform, zeros)}
