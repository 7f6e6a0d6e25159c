"""Update rules: how one step moves the parameters, given their gradient.

Every rule works on the network's flat parameter vector ``theta`` and the workspace's flat
gradient ``grad`` (network.py), so a step is a few NumPy calls whatever the number of layers,
into buffers allocated once: no per-layer loop, no allocation per step. ``grad`` is consumed
(used as scratch). A rule's state (velocity, moments, step count) is flat arrays shaped like
``theta``; frozen parameters have their gradient zeroed before every step (:meth:`Rule.update`),
so they take no step and their state stays zero.

The registry :data:`RULES` is keyed by the YAML name (``training.update``); each rule names the
config keys it reads (``hyper``, with their defaults). Where textbooks and frameworks disagree
(momentum), the form is named in the config. :func:`for_network` is the one construction path
(training, trace and the tests all use it). ``learning_rate`` is the rate of the current epoch:
the schedule sets it.
"""

from __future__ import annotations

import math

import numpy as np


class Rule:
    name = ""
    hyper: dict[str, float | str] = {}  # config keys the rule reads, with their defaults
    arrays: tuple[str, ...] = ()  # its state, flat arrays like theta (all zero at the start)
    scratch: int = 0  # preallocated work buffers

    def __init__(self, size: int, dtype, learning_rate: float, frozen: tuple[slice, ...] = (),
                 **hyper):
        self.learning_rate = learning_rate
        self.frozen = tuple(frozen)
        for key, default in self.hyper.items():
            setattr(self, key, hyper[key] if hyper.get(key) is not None else default)
        self.state = {k: np.zeros(size, dtype) for k in self.arrays}
        self.buffers = [np.empty(size, dtype) for _ in range(self.scratch)]
        self.t = 0  # steps taken (adam's bias correction counts them)

    def update(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """One step; frozen parameters first get a zero gradient, so they do not move."""
        for where in self.frozen:
            grad[where] = 0
        self.step(theta, grad)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def formula(self) -> str:
        """The rule as trace prints it (g: the gradient, lr: this epoch's rate)."""
        return self.__doc__.strip().splitlines()[0]

    def effective_lr(self):
        """What multiplies the gradient (or its running average) in the last step: a number,
        or per parameter an array for the adaptive rules."""
        return self.learning_rate

    def shown(self) -> dict[str, np.ndarray]:
        """The arrays trace prints after a step: the state, and what the step derived."""
        return dict(self.state)

    def load_state(self, t: int, arrays: dict[str, np.ndarray]) -> None:
        self.t = t
        for k, target in self.state.items():
            np.copyto(target, arrays[k])


class Gradient(Rule):
    """w ← w − lr·g"""

    name = "gradient"

    def step(self, theta, grad):
        grad *= self.learning_rate
        theta -= grad


class Normalized(Rule):
    """w ← w − lr·g / ‖g‖  (‖g‖ the norm over all trainable gradients; no step when it is 0)"""

    name = "normalized"
    norm = 0.0  # ‖g‖ of the last step

    def step(self, theta, grad):
        self.norm = norm = math.sqrt(float(np.vdot(grad, grad)))
        if norm == 0.0:
            return
        scale = self.learning_rate
        scale /= norm
        grad *= scale
        theta -= grad

    def effective_lr(self):
        return self.learning_rate / self.norm if self.norm else 0.0


class Momentum(Rule):
    """Momentum in the form training.momentum_form names (mu = training.momentum):

    classic:  v ← μ·v − lr·g ;  w ← w + v          (Rumelhart et al., Keras, scikit-learn)
    pytorch:  v ← μ·v + g ;  w ← w − lr·v          (torch.optim.SGD, dampening 0)
    hagan:    v ← μ·v − (1−μ)·lr·g ;  w ← w + v    (Hagan et al., Neural Network Design, MOBP;
              v is the book's Δw)
    """

    name = "momentum"
    hyper = {"momentum": 0.9, "momentum_form": "classic"}
    arrays = ("v",)
    FORMS = {"classic": "v ← μ·v − lr·g ;  w ← w + v",
             "pytorch": "v ← μ·v + g ;  w ← w − lr·v",
             "hagan": "v ← μ·v − (1−μ)·lr·g ;  w ← w + v"}

    def __init__(self, size, dtype, learning_rate, frozen=(), **hyper):
        super().__init__(size, dtype, learning_rate, frozen, **hyper)
        if self.momentum_form not in self.FORMS:
            raise ValueError(f"{self.name} has no {self.momentum_form} form; "
                             f"forms: {', '.join(self.FORMS)}")
        self.step = getattr(self, f"_{self.momentum_form}")

    def formula(self):
        return f"{self.FORMS[self.momentum_form]}  (μ = {self.momentum:g})"

    def effective_lr(self):
        return (1 - self.momentum) * self.learning_rate if self.momentum_form == "hagan" \
            else self.learning_rate

    def _classic(self, theta, grad):
        v = self.state["v"]
        v *= self.momentum
        grad *= self.learning_rate
        v -= grad
        theta += v

    def _pytorch(self, theta, grad):
        v = self.state["v"]
        v *= self.momentum
        v += grad
        np.multiply(v, self.learning_rate, out=grad)
        theta -= grad

    def _hagan(self, theta, grad):
        v = self.state["v"]
        v *= self.momentum
        grad *= (1 - self.momentum) * self.learning_rate
        v -= grad
        theta += v


class Nesterov(Momentum):
    """Nesterov's momentum, looking ahead along the new velocity (mu = training.momentum):

    classic:  v ← μ·v − lr·g ;  w ← w + μ·v − lr·g       (scikit-learn, Keras)
    pytorch:  v ← μ·v + g ;  w ← w − lr·(g + μ·v)         (torch.optim.SGD, nesterov=True)
    hagan has no Nesterov form.
    """

    name = "nesterov"
    scratch = 1
    FORMS = {"classic": "v ← μ·v − lr·g ;  w ← w + μ·v − lr·g",
             "pytorch": "v ← μ·v + g ;  w ← w − lr·(g + μ·v)"}

    def _classic(self, theta, grad):
        v, ahead = self.state["v"], self.buffers[0]
        grad *= self.learning_rate
        v *= self.momentum
        v -= grad
        np.multiply(v, self.momentum, out=ahead)
        ahead -= grad
        theta += ahead

    def _pytorch(self, theta, grad):
        v, ahead = self.state["v"], self.buffers[0]
        v *= self.momentum
        v += grad
        np.multiply(v, self.momentum, out=ahead)
        ahead += grad
        ahead *= self.learning_rate
        theta -= ahead


class Adam(Rule):
    """m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g² ;  m̂ = m / (1−β1ᵗ) ;  v̂ = v / (1−β2ᵗ) ;
    w ← w − lr·m̂ / (√v̂ + ε)

    Kingma & Ba, Algorithm 1 (as torch.optim.Adam). scikit-learn and Keras use the paper's
    "efficient" form, w ← w − lr·√(1−β2ᵗ)/(1−β1ᵗ)·m / (√v + ε): the same but for where ε sits
    (theirs is ours with ε·√(1−β2ᵗ)).
    """

    name = "adam"
    hyper = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    arrays = ("m", "v")
    scratch = 2  # a work buffer, the denominator √v̂ + ε

    def formula(self):
        return (f"m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g² ;  m̂ = m / (1−β1ᵗ) ;  "
                f"v̂ = v / (1−β2ᵗ) ;  w ← w − lr·m̂ / (√v̂ + ε)  (β1 = {self.beta1:g}, "
                f"β2 = {self.beta2:g}, ε = {self.epsilon:g})")

    def step(self, theta, grad):
        # The bias corrections are folded into scalars, as torch computes them:
        # lr·m̂ = (lr / (1−β1ᵗ))·m and √v̂ = √v / √(1−β2ᵗ), two passes over the vectors fewer.
        self.t += 1
        m, v = self.state["m"], self.state["v"]
        work, denominator = self.buffers
        m *= self.beta1
        np.multiply(grad, 1 - self.beta1, out=work)
        m += work
        v *= self.beta2
        np.multiply(grad, grad, out=work)
        work *= 1 - self.beta2
        v += work
        np.sqrt(v, out=denominator)
        denominator *= 1 / math.sqrt(1 - self.beta2 ** self.t)
        denominator += self.epsilon
        np.multiply(m, self.learning_rate / (1 - self.beta1 ** self.t), out=grad)
        grad /= denominator
        theta -= grad

    def effective_lr(self):
        return self.learning_rate / self.buffers[1]  # lr / (√v̂ + ε), per parameter

    def shown(self):
        m, v = self.state["m"], self.state["v"]
        return {"m": m, "v": v, "m_hat": m / (1 - self.beta1 ** self.t),
                "v_hat": v / (1 - self.beta2 ** self.t)}


class RMSprop(Rule):
    """s ← ρ·s + (1−ρ)·g² ;  w ← w − lr·g / (√s + ε)

    As torch.optim.RMSprop (its alpha is ρ). Keras puts ε inside the root: √(s + ε).
    """

    name = "rmsprop"
    hyper = {"rho": 0.9, "epsilon": 1e-8}
    arrays = ("s",)
    scratch = 1

    def formula(self):
        return (f"s ← ρ·s + (1−ρ)·g² ;  w ← w − lr·g / (√s + ε)  (ρ = {self.rho:g}, "
                f"ε = {self.epsilon:g})")

    def step(self, theta, grad):
        s, denominator = self.state["s"], self.buffers[0]
        s *= self.rho
        np.multiply(grad, grad, out=denominator)
        denominator *= 1 - self.rho
        s += denominator
        _adaptive_step(theta, grad, s, denominator, self.learning_rate, self.epsilon)

    def effective_lr(self):
        return self.learning_rate / self.buffers[0]  # lr / (√s + ε), per parameter


class AdaGrad(Rule):
    """s ← s + g² ;  w ← w − lr·g / (√s + ε)

    As torch.optim.Adagrad (s starts at 0). Keras starts s at 0.1 and puts ε inside the root.
    """

    name = "adagrad"
    hyper = {"epsilon": 1e-8}
    arrays = ("s",)
    scratch = 1

    def formula(self):
        return f"s ← s + g² ;  w ← w − lr·g / (√s + ε)  (ε = {self.epsilon:g})"

    def step(self, theta, grad):
        s, denominator = self.state["s"], self.buffers[0]
        np.multiply(grad, grad, out=denominator)
        s += denominator
        _adaptive_step(theta, grad, s, denominator, self.learning_rate, self.epsilon)

    def effective_lr(self):
        return self.learning_rate / self.buffers[0]  # lr / (√s + ε), per parameter


def _adaptive_step(theta, grad, s, denominator, learning_rate, epsilon) -> None:
    """w ← w − lr·g / (√s + ε), the step rmsprop and adagrad share (``denominator``: a
    preallocated buffer; ``grad`` is consumed)."""
    np.sqrt(s, out=denominator)
    denominator += epsilon
    grad *= learning_rate
    grad /= denominator
    theta -= grad


RULES: dict[str, type[Rule]] = {
    rule.name: rule for rule in (Gradient, Normalized, Momentum, Nesterov, Adam, RMSprop, AdaGrad)
}
UPDATES = tuple(RULES)
MOMENTUM_FORMS = tuple(Momentum.FORMS)
#: Every config key some rule reads (training.momentum, .beta1, ...).
HYPERPARAMETERS = tuple(dict.fromkeys(k for rule in RULES.values() for k in rule.hyper))


def for_network(name: str, net, learning_rate: float, **hyper) -> Rule:
    """The rule ``name`` for ``net``'s flat vectors, its frozen arrays held still."""
    trainable = net.trainable()
    frozen = tuple(where for k, where in net.layout().items() if not trainable[k])
    return RULES[name](net.theta.size, net.dtype, learning_rate, frozen, **hyper)
