"""nncli's engine against scikit-learn's MLP and the bare-GEMM floor, on the six scenarios of
issue 5 and the momentum and adam scenarios of issue 15 (see docs/performance.md).

    python benchmarks/compare.py [SCENARIO ...] [--dtype float32|float64] [--repeats N]
                                 [--epochs E] [--profile] [--write-results]

Same work for both: same data, same initial weights (drawn by nncli, copied into
scikit-learn's ``coefs_``/``intercepts_``), same architecture, the same update rule (plain SGD,
or momentum in the classic form scikit-learn uses, or adam), no L2, constant rate, same batch
size and epochs, shuffled each epoch, every epoch run. Loss
conventions: scikit-learn's log-loss is nncli's cross_entropy (softmax) or
binary_cross_entropy (one sigmoid output); its squared_error is *half* the MSE, i.e. nncli's
half_sse for one output, so the regression scenario trains nncli with half_sse. Before timing,
both systems train a few unshuffled epochs on the same rows and their per-epoch losses are
compared ("check" column): equal up to rounding means the same arithmetic. Adam: scikit-learn
uses the "efficient" form, lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon);
nncli Kingma & Ba's Algorithm 1, lr * m_hat / (sqrt(v_hat) + epsilon). They differ only in
where epsilon sits, so the check of adam rows runs both with epsilon = 1e-30 (negligible in
both: the same arithmetic, up to rounding); the timed runs use epsilon = 1e-8 in both (each
form's usual value, the same operations per step), and the table gives that check too, in
brackets: how far the two forms drift apart over the check's epochs.

The floor is the matrix products forward and backward need, alone, with preallocated outputs:
per layer z = a @ W and dW = a_prev.T @ delta, and delta_prev = delta @ W.T for every layer
but the first (nothing needs the gradient of the inputs).

Each timed run is a fresh process (``--worker``); ``--repeats`` rounds each run every system
once, interleaved so that load from elsewhere falls on all alike; the table shows medians. Final loss and accuracy (or R²) are those of the final weights on the training
data, computed for both systems by the same nncli evaluation.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import BENCHMARKS, machine_description, median, report, run_worker  # noqa: E402
from scenarios import SCENARIOS, Scenario, load, save, weights_of  # noqa: E402

SYSTEMS = ("nncli", "sklearn", "floor")
SKLEARN_ACTIVATION = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}
TARGET_RATIO = 0.5  # nncli / scikit-learn, every scenario
TARGET_FLOOR_WIDE = 1.25  # nncli / floor on `wide`
CHECK_ROWS, CHECK_EPOCHS = 2000, 3
CHECK_TOLERANCE = {"float64": 1e-9, "float32": 1e-3}
ADAM_CHECK_EPSILON = 1e-30  # adam's two forms agree to rounding (and 1e-30 > 0 in float32)


# --- the three systems ---------------------------------------------------------------------

def nncli_network(s: Scenario, layers, dtype):
    from nncli.engine.activations import make_activation
    from nncli.engine.network import Layer, Network

    acts = [s.hidden] * (len(layers) - 1) + [s.output]
    return Network([Layer(np.array(W, dtype=dtype), np.array(b, dtype=dtype),
                          make_activation(a)) for (W, b), a in zip(layers, acts)])


def nncli_fit(s: Scenario, net, X, Y, epochs: int, shuffle: bool):
    from nncli.config import TrainingConfig
    from nncli.engine.losses import LOSSES
    from nncli.metrics import METRICS
    from nncli.training.loop import fit

    rule = {"momentum": {"momentum": s.momentum, "momentum_form": "classic"},
            "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": s.epsilon}}.get(s.update, {})
    training = TrainingConfig(batch="minibatch", batch_size=s.batch_size(len(X)), epochs=epochs,
                              learning_rate=s.learning_rate, shuffle=shuffle, update=s.update,
                              **rule)
    result = fit(net, LOSSES[s.loss], X, Y, training, rng=np.random.default_rng(0),
                 metric=METRICS[s.task])
    if result.status != "finished":
        raise RuntimeError(f"{s.name}: nncli training {result.status}: {result.reason}")
    return [h["loss"] for h in result.history]


def sklearn_target(s: Scenario, arrays: dict) -> np.ndarray:
    """What scikit-learn is given: labels (softmax over >2 classes, or one logistic output),
    the one-hot matrix for two-class softmax, values in the run's dtype for regression."""
    if s.task == "regression":
        return arrays["Y"].ravel()
    if s.output == "softmax" and s.sizes[-1] == 2:
        return arrays["Y"].astype(np.int64)
    return arrays["y"]


def sklearn_model(s: Scenario, X, y, layers, epochs: int, shuffle: bool):
    """A scikit-learn MLP built with the right shapes, holding ``layers`` as its weights."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    model = (MLPRegressor if s.task == "regression" else MLPClassifier)(
        hidden_layer_sizes=s.sizes[1:-1], activation=SKLEARN_ACTIVATION[s.hidden],
        solver="adam" if s.update == "adam" else "sgd", alpha=0.0,
        batch_size=s.batch_size(len(X)), learning_rate="constant",
        learning_rate_init=s.learning_rate, momentum=s.momentum, nesterovs_momentum=False,
        beta_1=0.9, beta_2=0.999, epsilon=s.epsilon,
        max_iter=1, shuffle=shuffle, random_state=0, tol=0.0, n_iter_no_change=np.inf,
        early_stopping=False, warm_start=True)
    # One epoch on a few rows (every class present) makes the structure; then the weights are
    # replaced and the bookkeeping reset, so the timed fit starts from ``layers``.
    rows = np.arange(min(len(X), 16))
    if s.task == "classification" and y.ndim == 1:
        rows = np.union1d(rows, np.unique(y, return_index=True)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[rows], y[rows])
    model.coefs_ = [np.array(W, dtype=X.dtype) for W, _ in layers]
    model.intercepts_ = [np.array(b, dtype=X.dtype) for _, b in layers]
    if s.output == "softmax":
        # Two classes given one-hot are "multilabel" to scikit-learn (logistic outputs):
        # make them the softmax and categorical log-loss nncli computes.
        model.out_activation_ = "softmax"
    model.loss_curve_, model.best_loss_, model._no_improvement_count = [], np.inf, 0
    model.n_iter_, model.t_ = 0, 0
    model.set_params(max_iter=epochs)
    return model


def sklearn_fit(model, X, y, epochs: int) -> list[float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
        model.fit(X, y)
    if model.n_iter_ != epochs:
        raise RuntimeError(f"scikit-learn stopped after {model.n_iter_} of {epochs} epochs")
    return list(model.loss_curve_)


def floor_epochs(s: Scenario, n: int, dtype, epochs: int) -> None:
    """Only the matrix products of ``epochs`` epochs, on preallocated arrays of random values."""
    bs = s.batch_size(n)
    full, rest = divmod(n, bs)
    batches = [bs] * full + ([rest] if rest else [])
    rng = np.random.default_rng(0)
    sizes = s.sizes
    W = [(rng.standard_normal((i, o)) / np.sqrt(i)).astype(dtype)
         for i, o in zip(sizes[:-1], sizes[1:])]
    a = [rng.standard_normal((bs, u)).astype(dtype) for u in sizes]  # a[0]: the inputs
    delta = [rng.standard_normal((bs, u)).astype(dtype) for u in sizes[1:]]
    dW = [np.empty_like(w) for w in W]
    last = len(W) - 1
    for _ in range(epochs):
        for m in batches:
            for i in range(last + 1):
                np.matmul(a[i][:m], W[i], out=a[i + 1][:m])
            for i in range(last, -1, -1):
                np.matmul(a[i][:m].T, delta[i][:m], out=dW[i])
                if i > 0:
                    np.matmul(delta[i][:m], W[i].T, out=delta[i - 1][:m])


def worker(system: str, s: Scenario, data: Path, dtype: str, epochs: int, out: Path) -> None:
    """Time one run of one system; report its seconds and save its final weights."""
    arrays = load(data, dtype)
    X, layers = arrays["X"], weights_of(arrays)
    final = None
    if system == "nncli":
        net = nncli_network(s, layers, dtype)
        started = time.perf_counter()
        nncli_fit(s, net, X, arrays["Y"], epochs, shuffle=True)
        seconds = time.perf_counter() - started
        final = [(l.W, l.b) for l in net.layers]
    elif system == "sklearn":
        y = sklearn_target(s, arrays)
        model = sklearn_model(s, X, y, layers, epochs, shuffle=True)
        started = time.perf_counter()
        sklearn_fit(model, X, y, epochs)
        seconds = time.perf_counter() - started
        final = list(zip(model.coefs_, model.intercepts_))
    else:
        started = time.perf_counter()
        floor_epochs(s, len(X), dtype, epochs)
        seconds = time.perf_counter() - started
    if final is not None:
        np.savez(out, **{f"{k}{i}": v for i, (W, b) in enumerate(final, start=1)
                         for k, v in (("W", W), ("b", b))})
    report({"seconds": seconds})


# --- the parent: check, run the workers, tabulate -------------------------------------------

def check_same_work(s: Scenario, arrays: dict, dtype: str) -> float:
    """Max relative difference of per-epoch losses, nncli vs scikit-learn, both unshuffled
    (adam: with a negligible epsilon, where its two forms are the same arithmetic)."""
    if s.update == "adam":
        s = dataclasses.replace(s, epsilon=ADAM_CHECK_EPSILON)
    return loss_difference(s, arrays, dtype)


def loss_difference(s: Scenario, arrays: dict, dtype: str) -> float:
    rows = slice(0, min(len(arrays["X"]), CHECK_ROWS))
    X, Y = arrays["X"][rows], arrays["Y"][rows]
    y = sklearn_target(s, arrays)[rows]
    layers = weights_of(arrays)
    ours = nncli_fit(s, nncli_network(s, layers, dtype), X, Y, CHECK_EPOCHS, shuffle=False)
    theirs = sklearn_fit(sklearn_model(s, X, y, layers, CHECK_EPOCHS, shuffle=False), X, y,
                         CHECK_EPOCHS)
    return max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, theirs))


def final_quality(s: Scenario, arrays: dict, weights_file: Path, dtype: str):
    """(loss, accuracy or R²) of saved final weights on the training data, by nncli."""
    from nncli.engine.losses import LOSSES
    from nncli.metrics import METRICS
    from nncli.engine.network import evaluate

    with np.load(weights_file) as z:
        layers = weights_of({k: z[k] for k in z.files})
    net = nncli_network(s, layers, dtype)
    loss, metric, _ = evaluate(net, LOSSES[s.loss], arrays["X"], arrays["Y"], METRICS[s.task].fn)
    return loss, metric


def measure(s: Scenario, data: Path, work: Path, dtype: str, epochs: int, repeats: int,
            threads: int | None) -> dict:
    """Medians of ``repeats`` rounds; each round runs every system once, in a fresh process,
    so that a burst of load from elsewhere falls on all systems alike."""
    arrays = load(data, dtype)
    row = {"scenario": s, "epochs": epochs, "check": check_same_work(s, arrays, dtype)}
    if s.update == "adam":  # how far the forms drift apart with the timed epsilon
        row["check_timed"] = loss_difference(s, arrays, dtype)
    weights = {system: work / f"{s.name}-{dtype}-{system}.npz" for system in SYSTEMS}
    times = {system: [] for system in SYSTEMS}
    for _ in range(repeats):
        for system in SYSTEMS:
            got = run_worker([__file__, "--worker", system, s.name, "--data", str(data),
                              "--dtype", dtype, "--epochs", str(epochs),
                              "--out", str(weights[system])], threads=threads)
            times[system].append(got["seconds"])
    # How far apart the rounds were: max / min run time, worst system (1.00 = steady).
    row["spread"] = max(max(t) / min(t) for t in times.values())
    for system in SYSTEMS:
        row[system] = median(times[system]) / epochs
        if system != "floor":
            row[f"{system}_quality"] = final_quality(s, arrays, weights[system], dtype)
    return row


def fmt_time(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def table(rows: list[dict]) -> str:
    head = ("| scenario | network, batch | epochs | nncli s/epoch | scikit-learn | floor "
            "| nncli / sklearn | nncli / floor | loss nncli | loss sklearn "
            "| acc/R² nncli | acc/R² sklearn | check | spread |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        s = r["scenario"]
        batch = "full" if s.batch == 0 else s.batch
        rule = "" if s.update == "gradient" else f", {s.update}"
        ratio, floor_ratio = r["nncli"] / r["sklearn"], r["nncli"] / r["floor"]
        floor_missed = s.name == "wide" and floor_ratio > TARGET_FLOOR_WIDE
        (ln, mn), (ls, ms) = r["nncli_quality"], r["sklearn_quality"]
        lines.append(
            f"| {s.name} | {s.network}, {batch}{rule} | {r['epochs']} | {fmt_time(r['nncli'])} "
            f"| {fmt_time(r['sklearn'])} | {fmt_time(r['floor'])} "
            f"| {ratio:.2f}{' (missed)' if ratio > TARGET_RATIO else ''} "
            f"| {floor_ratio:.2f}{' (missed)' if floor_missed else ''} "
            f"| {ln:.5g} | {ls:.5g} | {mn:.4f} | {ms:.4f} | {r['check']:.0e}"
            + (f" ({r['check_timed']:.0e})" if "check_timed" in r else "") +
            f" | {r['spread']:.2f} |")
    return "\n".join(lines)


def run(names: list[str], dtype: str, repeats: int, epochs: int | None, threads: int | None,
        work: Path, data: dict[str, Path]) -> list[dict]:
    rows = []
    for name in names:
        s = SCENARIOS[name]
        print(f"  {dtype} {name} ...", file=sys.stderr, flush=True)
        rows.append(measure(s, data[name], work, dtype, epochs or s.epochs, repeats, threads))
    return rows


def limits(rows: list[dict]) -> str:
    """floor / scikit-learn: the lowest nncli / scikit-learn any engine on these GEMMs can reach."""
    return ", ".join(f"{r['scenario'].name} {r['floor'] / r['sklearn']:.2f}" for r in rows)


def check_tolerance(s: Scenario, dtype: str) -> float:
    """Equal up to rounding. Momentum and adam carry each step's rounding into the next
    ones (momentum takes steps 1 / (1 - mu) = 10 times as long), so in float32 their losses
    drift apart further over the check's epochs than plain SGD's; float64 shows the arithmetic
    is the same (1e-15)."""
    tol = CHECK_TOLERANCE[dtype]
    return tol * 10 if dtype == "float32" and s.update != "gradient" else tol


def failed_checks(rows: list[dict], dtype: str) -> list[str]:
    return [r["scenario"].name for r in rows
            if not r["check"] <= check_tolerance(r["scenario"], dtype)]


def profile(s: Scenario, data: Path, dtype: str, epochs: int) -> None:
    """cProfile of one nncli run of ``s``: the functions where the time goes."""
    import cProfile
    import pstats

    arrays = load(data, dtype)
    net = nncli_network(s, weights_of(arrays), dtype)
    # cProfile does not see ufunc calls: a named wrapper makes the matrix products show up on
    # their own line (at a fraction of a microsecond per call).
    real_matmul = np.matmul

    def matmul(*args, **kwargs):
        return real_matmul(*args, **kwargs)

    prof = cProfile.Profile()
    np.matmul = matmul
    try:
        prof.enable()
        nncli_fit(s, net, arrays["X"], arrays["Y"], epochs, shuffle=True)
        prof.disable()
    finally:
        np.matmul = real_matmul
    print(f"\n## profile: nncli on {s.name} ({dtype}, {epochs} epochs)\n")
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(18)


def results_markdown(tables: dict[str, list[dict]], repeats: int, threads: int | None,
                     command: str) -> str:
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = ["# Benchmark results", "",
           f"Measured {when} with `{command}` (medians of {repeats} interleaved rounds; "
           "every run a fresh process). How to read this: docs/performance.md.", "",
           "## Machine", "", *machine_description(),
           f"- BLAS threads of the measured processes: {threads or 'library default'}", "",
           "Targets (issue 5): nncli / scikit-learn at most 0.5 everywhere; on `wide` nncli at "
           "most 1.25 x the floor; float32 at least 1.6 x faster than float64 on `wide`.",
           "Loss conventions: scikit-learn's log-loss = nncli's cross_entropy / "
           "binary_cross_entropy; its squared_error = half the MSE = nncli's half_sse (one "
           "output), which `regress` uses. \"check\": max relative difference of the per-epoch "
           f"losses of both systems over {CHECK_EPOCHS} unshuffled epochs on the first "
           f"{CHECK_ROWS} rows (same arithmetic up to rounding). \"spread\": the slowest / fastest "
           "run of the rounds, for the least steady system (well above 1: load from elsewhere "
           "disturbed that row; rerun it).", ""]
    for dtype, rows in tables.items():
        out += [f"## {dtype}", "", table(rows), "",
                f"Lowest reachable nncli / scikit-learn (floor / scikit-learn): {limits(rows)}.",
                ""]
    if {"float32", "float64"} <= set(tables):
        speed = []
        for r64, r32 in zip(tables["float64"], tables["float32"]):
            speed.append(f"{r64['scenario'].name} {r64['nncli'] / r32['nncli']:.2f}")
        out += ["## float32 speed-up of nncli (float64 time / float32 time)", "",
                ", ".join(speed) + " (target on `wide`: at least 1.6)", ""]
    return "\n".join(out)


def results_section(tables: dict[str, list[dict]], repeats: int, threads: int | None,
                    command: str, names: list[str]) -> str:
    """The results of some scenarios only, as a section of RESULTS.md between markers (so a
    later run of the same scenarios replaces it, and the other rows stay as measured)."""
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [section_marker(names), f"## Scenarios {', '.join(names)}", "",
           f"Measured {when} with `{command}` (medians of {repeats} interleaved rounds; every "
           f"run a fresh process), apart from the tables above, on:", "",
           *machine_description(),
           f"- BLAS threads of the measured processes: {threads or 'library default'}", ""]
    for dtype, rows in tables.items():
        out += [f"### {dtype}", "", table(rows), "",
                f"Lowest reachable nncli / scikit-learn (floor / scikit-learn): {limits(rows)}.",
                ""]
    return "\n".join(out + [SECTION_END])


def section_marker(names: list[str]) -> str:
    return f"<!-- compare.py section: {' '.join(names)} -->"


SECTION_END = "<!-- end of section -->"


def write_section(path: Path, section: str, names: list[str]) -> None:
    """Put ``section`` into the file at ``path``: in place of the section of the same
    scenarios, or at the end."""
    text = path.read_text() if path.exists() else ""
    start = text.find(section_marker(names))
    if start >= 0:
        end = text.index(SECTION_END, start) + len(SECTION_END)
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help=f"some of: {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--repeats", type=int, default=3,
                   help="rounds; each runs every system once in a fresh process (median)")
    p.add_argument("--epochs", type=int, help="epochs for every scenario (default: per scenario)")
    p.add_argument("--threads", type=int,
                   help="BLAS/OpenMP threads of every worker (default: the libraries' own)")
    p.add_argument("--profile", action="store_true",
                   help="print a cProfile of nncli on each scenario instead of comparing")
    p.add_argument("--write-results", action="store_true",
                   help="run float64 and float32 and write benchmarks/RESULTS.md (with "
                        "SCENARIOs named: their own section of it, replaced on the next run "
                        "of the same scenarios)")
    p.add_argument("--worker", nargs=2, metavar=("SYSTEM", "SCENARIO"), help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        system, name = args.worker
        worker(system, SCENARIOS[name], args.data, args.dtype, args.epochs, args.out)
        return 0
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    names = args.scenarios or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="nncli-bench-") as tmp:
        work = Path(tmp)
        data = {n: save(SCENARIOS[n], work) for n in names}
        if args.profile:
            for n in names:
                profile(SCENARIOS[n], data[n], args.dtype, args.epochs or SCENARIOS[n].epochs)
            return 0
        dtypes = ("float64", "float32") if args.write_results else (args.dtype,)
        tables = {d: run(names, d, args.repeats, args.epochs, args.threads, work, data)
                  for d in dtypes}
    for dtype, rows in tables.items():
        print(f"\n{dtype}\n\n{table(rows)}")
        print(f"\nlowest reachable nncli / scikit-learn (floor / scikit-learn): {limits(rows)}")
        bad = failed_checks(rows, dtype)
        if bad:
            print(f"\nwarning: nncli and scikit-learn losses differ beyond rounding "
                  f"({CHECK_TOLERANCE[dtype]:g}, 10 x that for momentum and adam in float32) "
                  f"on {', '.join(bad)}: not the same work")
    if args.write_results:
        command = "python benchmarks/compare.py " + " ".join(sys.argv[1:])
        path = BENCHMARKS / "RESULTS.md"
        if args.scenarios:  # a subset: its own section; the other rows stay as measured
            write_section(path, results_section(tables, args.repeats, args.threads, command,
                                                names), names)
        else:
            path.write_text(results_markdown(tables, args.repeats, args.threads, command))
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
