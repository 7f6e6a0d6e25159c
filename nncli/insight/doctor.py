"""`nncli doctor`: what went wrong in a run, in plain words, with the evidence and a fix.

Each rule reads what a run keeps (its resolved config, history, layer statistics and final
metrics) and a few facts about its data (reproduced from the config: feature spreads, class
counts), and returns a :class:`Finding`: what, the evidence (numbers and epochs), and a fix as
``--set`` overrides that ``nncli train CONFIG`` accepts as they are. ``--verify`` trains the
fixed config beside the original (into a temporary folder; the run itself is never touched)
and says which did better.

| finding | when |
|---|---|
| diverged | the run's status is diverged |
| oscillating | the loss rose by more than 5% (and by more than a tenth of its descent so far) in at least a quarter of the last half of the epochs, at least 3 times |
| flat | the loss changed by less than 2% over the run (at least 10 epochs) and is not near 0; vanishing gradients when layer 1's gradient RMS is below 1/1000 of the last layer's (at least 3 layers) |
| dead_relu | at least half of a hidden relu layer's units output 0 on every training row with the final weights (counted exactly, over all rows), and on every sampled row in each of the last epochs (up to 5) of layers.csv |
| saturated | at least half of a hidden sigmoid or tanh layer's sampled outputs lie in the flat part, in each of the last epochs (up to 5) |
| overfitting | val_loss ended at least 10% (and 0.02) above its lowest value while the loss kept falling |
| underfitting | classification: train accuracy at the end within 0.05 of always answering the most common class; regression: train R² below 0.1 (at least 10 epochs) |
| unscaled_inputs | data.scale none and an input's spread (std) above 10, or spreads 100 times apart |
| unscaled_target | regression with scale_target none and a target std above 10 |
| class_imbalance | the rarest class has less than a quarter of the most common one's training rows, and no class_weight |

A run with too little to judge (one row, a single epoch) is judged only on what it has: the
trend rules need at least 10 epochs, the data rules at least 10 training rows.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..config import Config, load_config
from ..errors import InputError
from ..runs.formats import read_history, read_layers, read_metrics

RISE = 0.05  # a loss step up by more than this fraction counts as a rise
FLAT = 0.02  # a loss that changed by less than this fraction over the run is flat
LAST = 5  # epochs whose layer statistics must all show the problem


@dataclass
class Finding:
    code: str
    title: str
    evidence: str
    fix: list[str]  # --set assignments
    why: str = ""  # what the fix does

    def command(self, config: str) -> str:
        """The command line that tries the fix."""
        sets = " ".join(f"--set {_quote(s)}" for s in self.fix)
        return f"nncli train {config} {sets}".rstrip()


@dataclass
class Facts:
    """What the rules read: the run's config, metrics, history and layer statistics, and
    facts about its training data."""

    config: Config
    metrics: dict
    history: list[dict]
    layers: list[dict]
    task: str
    feature_std: list[float] = field(default_factory=list)  # per input, as trained on
    input_names: list[str] = field(default_factory=list)
    class_counts: dict = field(default_factory=dict)  # label -> training rows
    target_std: list[float] = field(default_factory=list)  # regression, in the data's units
    n_train: int = 0
    # per layer: how many units output 0 on every training row with the final weights (None
    # for layers whose units cannot die: not hidden, or not relu)
    dead_units: list = field(default_factory=list)


def data_facts(experiment) -> dict:
    """The facts about an experiment's training data the rules use (kept small: a few
    numbers per input)."""
    X = experiment.X_train
    facts = {"n_train": len(X), "task": experiment.dataset.task,
             "input_names": list(experiment.preprocessing.input_names),
             "feature_std": [float(v) for v in (X.std(axis=0) if len(X) else [])]}
    if experiment.dataset.task == "classification":
        Y = experiment.Y_train
        index = np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(int)
        counts = np.bincount(index, minlength=len(experiment.dataset.classes))
        facts["class_counts"] = {str(c): int(k) for c, k in
                                 zip(experiment.dataset.classes, counts)}
    elif experiment.T is not None:
        T = experiment.T[:experiment.n_train]
        facts["target_std"] = [float(v) for v in T.std(axis=0)] if len(T) else []
    return facts


def facts_of_run(run_dir: Path) -> Facts:
    """The facts of a run directory: its files, and its data reproduced from config.yaml."""
    from ..training.reproduce import reproduce

    run_dir = Path(run_dir)
    config = load_config(run_dir / "config.yaml")
    metrics = read_metrics(run_dir / "metrics.json")
    history = read_history(run_dir / "history.csv", thin=True)
    layers_file = run_dir / "layers.csv"
    layers = read_layers(layers_file, thin=True) if layers_file.exists() else []
    experiment = reproduce(run_dir, "the data facts doctor checks")
    facts = Facts(config, metrics, history, layers, **data_facts(experiment))
    from ..runs.load import load_run  # its trained network (a damaged one: an input error)

    facts.dead_units = dead_units(load_run(run_dir).network, experiment.X_train)
    return facts


def dead_units(net, X: np.ndarray) -> list:
    """Per layer, the number of units that output 0 on every row of X (None for a layer whose
    units cannot die): exact, over all rows, in bounded memory (the one forward pass)."""
    last = len(net.layers) - 1
    watched = [i for i, layer in enumerate(net.layers) if i < last and layer.activation.dies]
    alive = {i: np.zeros(net.layers[i].units, bool) for i in watched}
    ws = net.workspace(max(1, min(len(X), 4096)))
    for rows, _ in net.forward_chunks(X, ws):
        m = rows.stop - rows.start
        for i in watched:
            alive[i] |= np.logical_or.reduce(ws.a[i][:m] > 0, axis=0)
    return [int(np.count_nonzero(~alive[i])) if i in alive else None
            for i in range(len(net.layers))]


# --- the rules ------------------------------------------------------------------------------

def diagnose(facts: Facts) -> list[Finding]:
    """Every finding the rules make of a run, most severe first."""
    found = []
    for rule in RULES:
        finding = rule(facts)
        if finding is not None:
            found.append(finding)
    codes = {f.code for f in found}
    if codes & {"dead_relu", "saturated"}:  # they say why the loss is flat, and what to do
        found = [f for f in found if f.code != "flat"]
    return found


def _lr(facts: Facts) -> float:
    return facts.config.training.learning_rate


def _nice(x: float) -> str:
    return f"{x:.2g}"


def _diverged(f: Facts) -> Finding | None:
    if f.metrics.get("status") != "diverged":
        return None
    fix = [f"training.learning_rate={_nice(_lr(f) / 10)}"]
    why = "a rate ten times lower"
    if f.config.data.scale == "none" and _spread_problem(f):
        fix.append("data.scale=standard")
        why += ", and standardised inputs"
    return Finding("diverged", "Training diverged", f.metrics.get("reason", ""), fix, why)


def _loss(f: Facts) -> list[float]:
    return [r["loss"] for r in f.history if r.get("loss") is not None]


def _oscillating(f: Facts) -> Finding | None:
    loss = _loss(f)
    if len(loss) < 10 or f.metrics.get("status") == "diverged":
        return None
    window = loss[len(loss) // 2 - 1:]
    epochs = [r["epoch"] for r in f.history][len(loss) // 2 - 1:]
    # a rise counts when it is large for the loss and for the descent so far (the noise of
    # minibatches near convergence is neither)
    floor = 0.1 * (loss[0] - min(loss))
    rises = [(epochs[i + 1], a, b) for i, (a, b) in enumerate(zip(window, window[1:]))
             if a > 0 and b - a > max(a * RISE, floor)]
    if len(rises) < 3 or len(rises) < 0.25 * (len(window) - 1):
        return None
    worst = max(rises, key=lambda r: r[2] / r[1])
    evidence = (f"in the last {len(window) - 1} epochs the loss rose by more than "
                f"{RISE:.0%} {len(rises)} times (worst: epoch {worst[0]}, "
                f"{worst[1]:.4g} -> {worst[2]:.4g})")
    return Finding("oscillating", "The loss oscillates: the learning rate is too high",
                   evidence, [f"training.learning_rate={_nice(_lr(f) / 3)}"],
                   "a rate three times lower")


def _grad_ratio(f: Facts) -> float | None:
    """Layer 1's gradient RMS over the last layer's, in the last epoch."""
    if not f.layers:
        return None
    last = f.layers[-1]["epoch"]
    rows = [r for r in f.layers if r["epoch"] == last]
    if len(rows) < 3:
        return None
    first, top = rows[0]["grad_rms"], rows[-1]["grad_rms"]
    if not first and not top or top is None or first is None or top == 0:
        return None
    return first / top


def _flat(f: Facts) -> Finding | None:
    loss = _loss(f)
    if len(loss) < 10 or f.metrics.get("status") == "diverged":
        return None
    start, end = loss[0], loss[-1]
    if start <= 0 or abs(end - start) >= FLAT * start or end < 1e-3:
        return None
    epochs = f.history[-1]["epoch"]
    evidence = (f"the loss went from {start:.4g} to {end:.4g} in {epochs} epochs "
                f"({(end - start) / start:+.2%})")
    ratio = _grad_ratio(f)
    if ratio is not None and ratio < 1e-3:
        hidden = [i for i, l in enumerate(f.config.network.layers[:-1])
                  if l.activation in ("sigmoid", "tanh")]
        fix = [f"network.layers.{i}.activation=relu" for i in hidden] or \
            [f"training.learning_rate={_nice(_lr(f) * 10)}"]
        return Finding("flat", "The loss is flat: the gradient vanishes before layer 1",
                       evidence + f"; layer 1's gradient RMS is {ratio:.2g} of the last "
                       f"layer's", fix, "relu hidden layers pass the gradient through")
    return Finding("flat", "The loss is flat: the learning rate is too low", evidence,
                   [f"training.learning_rate={_nice(_lr(f) * 10)}"], "a rate ten times higher")


def _persistent(f: Facts, column: str) -> tuple[int, list[dict]] | None:
    """The first layer whose ``column`` (dead, saturated) is at least one half in each of the
    last (up to LAST) epochs, with those epochs' rows."""
    epochs = sorted({r["epoch"] for r in f.layers})[-LAST:]
    by_layer: dict[int, list[dict]] = {}
    for r in f.layers:
        if r["epoch"] in epochs:
            by_layer.setdefault(r["layer"], []).append(r)
    for layer, rows in by_layer.items():
        if all(r[column] is not None and r[column] >= 0.5 for r in rows):
            return layer, rows
    return None


def _dead(f: Facts) -> Finding | None:
    # layers.csv's sample says since when; the final weights over every row say whether
    found = _persistent(f, "dead")
    if found is None:
        return None
    layer, rows = found
    units = f.config.network.layers[layer - 1].units
    dead = f.dead_units[layer - 1] if layer - 1 < len(f.dead_units) else None
    if dead is None or dead < 0.5 * units:
        return None
    evidence = (f"{dead} of the {units} relu units of layer {layer} output 0 on every "
                f"training row with the final weights; on every sampled row in each of the "
                f"last {len(rows)} epochs (to epoch {rows[-1]['epoch']})")
    return Finding("dead_relu", "Dead ReLU units", evidence,
                   [f"network.layers.{layer - 1}.activation=leaky_relu"],
                   "leaky_relu keeps a small slope below 0, so units can come back")


def _saturated(f: Facts) -> Finding | None:
    found = _persistent(f, "saturated")
    if found is None:
        return None
    layer, rows = found
    activation = f.config.network.layers[layer - 1].activation
    evidence = (f"{rows[-1]['saturated']:.0%} of layer {layer}'s {activation} outputs lie in "
                f"the flat part (where the gradient all but vanishes), in each of the last "
                f"{len(rows)} epochs (to epoch {rows[-1]['epoch']})")
    if f.config.data.scale == "none":
        fix, why = ["data.scale=standard"], "inputs of spread 1 keep units in range"
    else:
        fix, why = ([f"training.learning_rate={_nice(_lr(f) / 3)}"],
                    "smaller steps keep the weights from growing into saturation")
    return Finding("saturated", "Saturated units", evidence, fix, why)


def _overfitting(f: Facts) -> Finding | None:
    rows = [r for r in f.history if r.get("val_loss") is not None]
    if len(rows) < 10:
        return None
    best = min(rows, key=lambda r: r["val_loss"])
    end = rows[-1]
    rise = end["val_loss"] - best["val_loss"]
    if rise < 0.02 or end["val_loss"] < 1.1 * best["val_loss"] or end["loss"] >= best["loss"]:
        return None
    evidence = (f"val_loss was lowest at epoch {best['epoch']} ({best['val_loss']:.4g}) and "
                f"rose to {end['val_loss']:.4g} by epoch {end['epoch']}, while the loss fell "
                f"from {best['loss']:.4g} to {end['loss']:.4g}")
    patience = max(5, min(20, best["epoch"]))
    return Finding("overfitting", "Overfitting: the network learns the training rows' noise",
                   evidence, [f"training.early_stopping={{patience: {patience}}}"],
                   "stop when val_loss stops improving and keep the best epoch's weights "
                   "(or try training.l2=0.01, or dropout on the hidden layers)")


def _underfitting(f: Facts) -> Finding | None:
    train = (f.metrics.get("train") or {})
    if len(f.history) < 10 and f.metrics.get("epochs_run", 0) < 10:
        return None
    if f.metrics.get("status") == "diverged":
        return None
    if f.task == "classification":
        accuracy = train.get("accuracy")
        counts = list(f.class_counts.values())
        if accuracy is None or not counts or sum(counts) == 0:
            return None
        chance = max(counts) / sum(counts)
        if accuracy > chance + 0.05:
            return None
        evidence = (f"train accuracy {accuracy:.3g} after {f.metrics['epochs_run']} epochs; "
                    f"always answering the most common class gives {chance:.3g}")
    else:
        r2 = train.get("r2")
        if r2 is None or r2 >= 0.1:
            return None
        evidence = f"train R² {r2:.3g} after {f.metrics['epochs_run']} epochs"
    return Finding("underfitting", "Underfitting: the network has not learned the data",
                   evidence, *_capacity_fix(f))


def _capacity_fix(f: Facts) -> tuple[list[str], str]:
    layers = f.config.network.layers
    if len(layers) == 1:  # no hidden layer: a line (or plane) cannot fit
        out = layers[0]
        if out.activation == "step":
            return ([f"network.layers=[{{units: 8, activation: tanh}}, "
                     f"{{units: {out.units}, activation: sigmoid}}]",
                     "training.loss=binary_cross_entropy"],
                    "a hidden layer (a single unit draws one straight line)")
        return ([f"network.layers=[{{units: 16, activation: tanh}}, "
                 f"{{units: {out.units}, activation: {out.activation}}}]"],
                "a hidden layer (a single layer draws straight boundaries only)")
    return ([f"training.epochs={f.config.training.epochs * 3}"], "three times the epochs")


def _spread_problem(f: Facts) -> str | None:
    std = [s for s in f.feature_std if s > 0]
    if f.n_train < 10 or not std:
        return None
    big = max(range(len(f.feature_std)), key=lambda j: f.feature_std[j])
    name = f.input_names[big] if big < len(f.input_names) else f"input {big + 1}"
    if max(std) > 10:
        return f"input {name!r} has a standard deviation of {max(std):.4g}"
    if max(std) / min(std) > 100:
        return (f"the inputs' standard deviations range from {min(std):.3g} to "
                f"{max(std):.3g} ({name!r})")
    return None


def _unscaled_inputs(f: Facts) -> Finding | None:
    if f.config.data.scale != "none":
        return None
    problem = _spread_problem(f)
    if problem is None:
        return None
    return Finding("unscaled_inputs", "Unscaled inputs", f"data.scale is none and {problem}",
                   ["data.scale=standard"], "each input standardised on the training rows")


def _unscaled_target(f: Facts) -> Finding | None:
    if f.task != "regression" or f.n_train < 10 or not f.target_std:
        return None
    if getattr(f.config.data, "scale_target", "none") != "none" or max(f.target_std) <= 10:
        return None
    return Finding("unscaled_target", "Unscaled regression target",
                   f"the target's standard deviation is {max(f.target_std):.4g} and "
                   f"data.scale_target is none", ["data.scale_target=standard"],
                   "the network learns a target of spread 1 (predictions come back in its "
                   "units)")


def _imbalance(f: Facts) -> Finding | None:
    if f.task != "classification" or f.n_train < 10 or len(f.class_counts) < 2:
        return None
    if f.config.training.class_weight is not None:
        return None
    rare = min(f.class_counts, key=f.class_counts.get)
    common = max(f.class_counts, key=f.class_counts.get)
    if f.class_counts[rare] >= 0.25 * f.class_counts[common]:
        return None
    total = sum(f.class_counts.values())
    evidence = (f"class {rare}: {f.class_counts[rare]} of {total} training rows, class "
                f"{common}: {f.class_counts[common]}")
    return Finding("class_imbalance", "Imbalanced classes", evidence,
                   ["training.class_weight=balanced"],
                   "each class weighs in the loss as much as the others")


RULES = [_diverged, _oscillating, _flat, _dead, _saturated, _overfitting, _underfitting,
         _unscaled_inputs, _unscaled_target, _imbalance]


# --- --verify -------------------------------------------------------------------------------

@dataclass
class Verdict:
    code: str
    fix: list[str]
    original: dict  # the run's metrics.json
    fixed: dict  # the fixed run's metrics.json
    better: bool
    measure: str  # what was compared
    run_dir: str | None = None  # where the fixed run is kept (--out), else None


def verify(run_dir: Path, findings: list[Finding], out: Path | None = None) -> list[Verdict]:
    """Train each finding's fix from the run's config, into ``out`` (kept) or a temporary
    folder (removed), and compare the fixed run's final metrics with the run's."""
    from ..training.train import train_from_config

    run_dir = Path(run_dir)
    check_verify_out(run_dir, out)
    original = read_metrics(run_dir / "metrics.json")
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="nncli-doctor-"))
    verdicts = []
    try:
        for finding in findings:
            outcome = train_from_config(run_dir / "config.yaml", finding.fix, folder)
            measure, better = _compare(original, outcome.metrics)
            verdicts.append(Verdict(finding.code, finding.fix, original, outcome.metrics,
                                    better, measure,
                                    str(outcome.run_dir) if out is not None else None))
    finally:
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
    return verdicts


def _compare(a: dict, b: dict) -> tuple[str, bool]:
    """Which metrics decide, and whether ``b`` did better: validation loss when both have
    it, else training loss; a diverged run is worse than a finished one."""
    if (a["status"] == "diverged") != (b["status"] == "diverged"):
        return "status", a["status"] == "diverged"
    part = "validation" if a.get("validation") and b.get("validation") else "train"
    la, lb = (a.get(part) or {}).get("loss"), (b.get(part) or {}).get("loss")
    name = "val_loss" if part == "validation" else "loss"
    if la is None or lb is None:
        return name, lb is not None
    return name, lb < la


def findings_json(findings: list[Finding], config: str) -> list[dict]:
    return [{**asdict(f), "command": f.command(config)} for f in findings]


def _quote(assignment: str) -> str:
    return f'"{assignment}"' if any(c in assignment for c in " {}[],") else assignment


def config_arg(run_dir: Path) -> str:
    return str(Path(run_dir) / "config.yaml")


def check_verify_out(run_dir: Path, out: Path | None) -> None:
    """Where --verify keeps the fixed runs: never inside the run it diagnoses (the run itself
    is never changed)."""
    from ..runs.directory import is_inside

    if out is not None and is_inside(out, run_dir):
        raise InputError(f"--out {out}: inside the run being diagnosed ({run_dir}); the run is "
                         f"never changed, so keep the fixed runs elsewhere")


def check_run(run_dir: Path) -> None:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: " + ("not a directory" if run_dir.exists()
                                           else "no such run directory"))
    if not (run_dir / "config.yaml").is_file():
        raise InputError(f"{run_dir}: no config.yaml (not an nncli run directory)")

