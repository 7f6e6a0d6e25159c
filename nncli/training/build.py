"""Build the initial :class:`Network` of a config: every per-layer default resolved, explicit
weights checked, the rest drawn from the run's init stream."""

from __future__ import annotations

import numpy as np

from ..config import NetworkConfig
from ..engine.activations import ACTIVATIONS, make_activation
from ..engine.init import INITS
from ..engine.network import Layer, Network
from ..errors import InputError


def resolve_network(net: NetworkConfig, n_inputs: int) -> NetworkConfig:
    """The network config with every per-layer default filled in (bias, init, alpha)."""
    layers = []
    for layer in net.layers:
        activation = ACTIVATIONS[layer.activation]
        update = {
            "bias": net.bias if layer.bias is None else layer.bias,
            "init": layer.init or net.init or activation.default_init,
        }
        for key, default in activation.params.items():  # e.g. leaky_relu's alpha
            if getattr(layer, key) is None:
                update[key] = default
        layers.append(layer.model_copy(update=update))
    return net.model_copy(update={"input": n_inputs, "layers": layers})


def build_network(net: NetworkConfig, dtype: str, rng: np.random.Generator) -> Network:
    """Initial network for a resolved network config: explicit values where given, else drawn
    from ``rng`` layer by layer (in layer order, weights before biases)."""
    layers = []
    fan_in = net.input
    for i, spec in enumerate(net.layers):
        if spec.weights is not None:
            W = np.array(spec.weights, dtype=np.float64)
            if W.shape != (fan_in, spec.units):
                raise InputError(
                    f"network.layers[{i}] (layer {i + 1}).weights: expected shape "
                    f"({fan_in}, {spec.units}) (fan_in, units), got {W.shape}")
        else:
            W = INITS[spec.init](rng, fan_in, spec.units)
        b = None
        if spec.bias:
            b = np.zeros(spec.units) if spec.biases is None else np.array(spec.biases, np.float64)
        W, b = _cast(W, dtype, i, "weights"), None if b is None else _cast(b, dtype, i, "biases")
        activation = make_activation(spec.activation, alpha=spec.alpha)
        layers.append(Layer(W, b, activation, frozenset(spec.freeze), spec.dropout or 0.0))
        fan_in = spec.units
    return Network(layers)


def _cast(values: np.ndarray, dtype: str, i: int, what: str) -> np.ndarray:
    out = values.astype(dtype)
    if not np.all(np.isfinite(out)):
        raise InputError(f"network.layers[{i}] (layer {i + 1}).{what}: values are not finite "
                         f"in {dtype}")
    return out
