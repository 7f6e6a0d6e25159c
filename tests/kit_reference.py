"""A learner's module for a test kit (the signature of nncli/insight/kit/my_network.py),
written on nncli's own engine: Network.forward/backward and the update rules (engine.optim). `nncli export`'s generated
test must pass against it, and fail, naming the quantity, when a mistake is planted.

The config comes from NNCLI_REFERENCE_CONFIG; NNCLI_REFERENCE_BUG plants a mistake:
``half`` (every δ and gradient halved: the ½ added to mse), ``bias`` (the biases not updated).
"""

import os
from pathlib import Path

import numpy as np

from nncli.config import load_config
from nncli.engine.optim import RULES
from nncli.training.experiment import prepare

CONFIG = Path(os.environ["NNCLI_REFERENCE_CONFIG"])
BUG = os.environ.get("NNCLI_REFERENCE_BUG", "")
_experiment = prepare(load_config(CONFIG, []), CONFIG)
_net, _loss = _experiment.network, _experiment.loss
_rule = _experiment.config.training.update


def _run(params, x):
    for name, p in _net.parameters().items():
        p[...] = params[name]
    ws = _net.workspace(len(x), keep_z=True)
    _net.forward(np.asarray(x, dtype=_net.dtype), ws)
    return ws


_last = {}  # the output layer's net input of the last forward pass: the engine's loss values
# of the cross-entropy losses are computed from it


def forward(params, x):
    ws = _run(params, x)
    _last["z"] = ws.z[-1].copy()
    return [z.copy() for z in ws.z], [a.copy() for a in ws.a]


def loss(output, y):
    return _loss.value(np.asarray(output), np.asarray(y), _last["z"])


def backward(params, x, y, zs, activations):
    ws = _run(params, x)
    _net.backward(np.asarray(x, dtype=_net.dtype), np.asarray(y, dtype=_net.dtype), _loss, ws)
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
    RULES[_rule](theta.size, theta.dtype, lr).step(theta, grad)
    at = 0
    for k, p in new.items():
        new[k] = theta[at:at + p.size].reshape(p.shape)
        at += p.size
    return new
