"""A learner's module for a test kit (the signature of nncli/insight/kit/my_network.py),
written on nncli's own engine: Network.forward/backward (with the rows' weights, the dropout
masks and the penalty) and the update rules (engine.optim). `nncli export`'s generated test must
pass against it for every rule, and fail, naming the quantity, when a mistake is planted.

The config comes from NNCLI_REFERENCE_CONFIG (with NNCLI_REFERENCE_SET, ``;``-separated
``--set`` overrides); NNCLI_REFERENCE_BUG plants a mistake: ``half`` (every δ and gradient
halved: the ½ added to mse), ``bias`` (the biases not updated), ``pytorch`` (momentum in the
pytorch form whatever the config names).
"""

import os
import re
from pathlib import Path

import numpy as np

from nncli.config import load_config
from nncli.engine.optim import RULES
from nncli.training.experiment import prepare
from nncli.training.objective import penalty_for

CONFIG = Path(os.environ["NNCLI_REFERENCE_CONFIG"])
SETTINGS = [s for s in os.environ.get("NNCLI_REFERENCE_SET", "").split(";") if s]
BUG = os.environ.get("NNCLI_REFERENCE_BUG", "")
_experiment = prepare(load_config(CONFIG, SETTINGS), CONFIG)
_net, _loss = _experiment.network, _experiment.loss
_training = _experiment.config.training
_penalty = penalty_for(_net, _training)


def _run(params, x, masks=None):
    for name, p in _net.parameters().items():
        p[...] = params[name]
    ws = _net.workspace(len(x), keep_z=True, dropout=masks is not None)
    for i, mask in enumerate(masks or []):
        if mask is not None:
            ws.masks[i][...] = mask
    _net.forward(np.asarray(x, dtype=_net.dtype), ws)
    return ws


_last = {}  # the output layer's net input of the last forward pass: the engine's loss values
# of the cross-entropy losses are computed from it


def forward(params, x, masks=None):
    ws = _run(params, x, masks)
    _last["z"] = ws.z[-1].copy()
    return [z.copy() for z in ws.z], [a.copy() for a in ws.a]


def loss(output, y, weights=None):
    output, y = np.asarray(output), np.asarray(y)
    if weights is None:
        return _loss.value(output, y, _last["z"])
    return _loss.weighted(output, y, _last["z"], np.asarray(weights))


def backward(params, x, y, zs, activations, weights=None, masks=None):
    ws = _run(params, x, masks)
    _net.backward(np.asarray(x, dtype=_net.dtype), np.asarray(y, dtype=_net.dtype), _loss, ws,
                  weights=weights, penalty=_penalty)
    factor = 0.5 if BUG == "half" else 1.0
    return ([d * factor for d in ws.delta],
            {k: g * factor for k, g in _net.gradients(ws).items()})


def update(params, grads, lr, state):
    new = {k: np.array(v, dtype=float) for k, v in params.items()}
    # one flat vector, as the engine keeps them; an untrained array's gradient is zero
    theta = np.concatenate([p.ravel() for p in new.values()])
    grad = np.concatenate([np.zeros(p.size) if BUG == "bias" and k.startswith("b")
                           else np.array(grads[k], dtype=float).ravel()
                           for k, p in new.items()])
    hyper = {key: getattr(_training, key) for key in RULES[_training.update].hyper}
    if BUG == "pytorch":
        hyper["momentum_form"] = "pytorch"
    rule = RULES[_training.update](theta.size, theta.dtype, lr, **hyper)
    where = _layout(new)
    rule.load_state(state["t"], {k: _flat(state, k, where, theta.size) for k in rule.arrays})
    rule.step(theta, grad)
    for key in state:  # the rule's arrays, by name (vW1, mb2, ...), and the step count
        m = re.match(r"^([a-z]+)([Wb]\d+)$", key)
        if m:
            state[key] = rule.state[m.group(1)][where[m.group(2)]].reshape(new[m.group(2)].shape)
    state["t"] = rule.t
    for k, p in new.items():
        new[k] = theta[where[k]].reshape(p.shape)
    return new


def _layout(params):
    out, at = {}, 0
    for k, p in params.items():
        out[k] = slice(at, at + p.size)
        at += p.size
    return out


def _flat(state, letter, where, size):
    """A state array of the rule over the flat vector (zero where an array has none: frozen)."""
    flat = np.zeros(size)
    for name, at in where.items():
        if f"{letter}{name}" in state:
            flat[at] = np.ravel(state[f"{letter}{name}"])
    return flat
