"""Pictures of a run: which are written, what they show (read back from the matplotlib
objects before saving), that they are the same bytes every time, and `nncli plot`."""

import csv
import struct
import zlib

import numpy as np
import pytest

from conftest import CONFIGS, Cli, hooks, write_config

from nncli import plots
from nncli.plots.network import shown_neurons
from nncli.plots.scale import spans_decades
from nncli.training.reproduce import run_points
from nncli.training.train import train_from_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

REGRESSION_1D = """\
name: wave
data: {source: regression, n_samples: 60, n_features: 1, noise: 5}
network:
  layers: [{units: 8, activation: tanh}, {units: 1, activation: linear}]
training: {epochs: 20, batch_size: 16, learning_rate: 0.02}
"""
BLOBS_3D = """\
name: blobs3d
data: {source: blobs, n_samples: 60, n_features: 3, centers: 3}
network:
  layers: [{units: 20, activation: relu}, {units: 3, activation: softmax}]
training: {epochs: 3, batch_size: 16}
"""


def png_info(path):
    """(width, height, chunk types) of a PNG file, read from its bytes."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append(kind.decode())
        pos += 12 + length
    width, height = struct.unpack(">II", data[16:24])
    return width, height, chunks


def history(run_dir):
    with (run_dir / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0]}


def lines_by_gid(ax):
    return {line.get_gid(): line for line in ax.get_lines()}


def collection(ax, gid):
    (found,) = [c for c in ax.collections if c.get_gid() == gid]
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four small runs trained by `nncli train` (pictures on, as by default)."""
    base = tmp_path_factory.mktemp("plots")
    configs = {
        "blobs": (CONFIGS / "blobs.yaml", ["--set", "training.epochs=4"]),
        "xor": (CONFIGS / "xor-mlp.yaml", ["--set", "training.epochs=60"]),
        "wave": (write_config(base, REGRESSION_1D, "wave.yaml"), []),
        "blobs3d": (write_config(base, BLOBS_3D, "blobs3d.yaml"), []),
    }
    out = {}
    for key, (config, extra) in configs.items():
        cli = Cli(base / key)
        r = cli.train(config, *extra, plots=True)
        assert r.exit_code == 0, r.output
        (out[key],) = cli.run_dirs()
    return out


@pytest.mark.parametrize("key,expected", [
    ("blobs", {"loss.png", "decision_boundary.png", "network.png", "boundary.gif", "units.png",
               "layers.png"}),
    ("xor", {"loss.png", "decision_boundary.png", "network.png", "boundary.gif", "units.png",
             "layers.png"}),
    ("wave", {"loss.png", "fit.png", "network.png", "fit.gif", "layers.png"}),
    # 3 features: no boundary, no animation, no unit maps; classification: no fit
    ("blobs3d", {"loss.png", "network.png", "layers.png"}),
])
def test_each_picture_is_written_when_it_applies(runs, key, expected):
    assert {p.name for p in runs[key].glob("*.*")
            if p.suffix in (".png", ".gif")} == expected
    assert not list(runs[key].glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize("key,name,size", [
    ("blobs", "loss.png", (1050, 380)),  # two panels, 10.5 x 3.8 in at 100 dpi
    ("blobs", "decision_boundary.png", (640, 520)),
    ("xor", "network.png", (800, 340)),  # 3 columns: 2.2 * 3 + 1.4 in wide; 4 slots: 3.4 in
    ("wave", "fit.png", (640, 460)),
    ("blobs3d", "network.png", (720, 940)),  # 16 slots: 0.5 * 16 + 1.4 in high; no labels
])
def test_pictures_are_valid_pngs_of_sensible_size(runs, key, name, size):
    path = runs[key] / name
    width, height, chunks = png_info(path)
    assert (width, height) == size
    assert 3_000 < path.stat().st_size < 200_000
    # nothing that changes between two drawings: no time, no software version
    assert set(chunks) <= {"IHDR", "PLTE", "tRNS", "IDAT", "IEND"}


def test_loss_curves_hold_the_history(runs):
    run = plots.load(runs["blobs"])
    h = history(runs["blobs"])
    fig = plots.draw(run, "loss")
    loss_ax, metric_ax = fig.axes
    lines = lines_by_gid(loss_ax)
    assert set(lines) == {"loss", "val_loss"}
    for name in ("loss", "val_loss"):
        np.testing.assert_array_equal(lines[name].get_xdata(), [1, 2, 3, 4])
        np.testing.assert_array_equal(lines[name].get_ydata(), h[name])  # exactly the CSV
    metric = lines_by_gid(metric_ax)
    np.testing.assert_array_equal(metric["accuracy"].get_ydata(), h["accuracy"])
    np.testing.assert_array_equal(metric["val_accuracy"].get_ydata(), h["val_accuracy"])
    assert [l.get_label() for l in loss_ax.get_legend().get_lines()] == ["train", "validation"]
    assert fig._suptitle.get_text() == "blobs: 4 epochs"
    assert loss_ax.get_xlabel() == "epoch" and metric_ax.get_title() == "accuracy"


def test_log_scale_exactly_when_the_loss_spans_a_decade(runs):
    for key in ("blobs", "xor", "wave"):
        h = history(runs[key])
        values = np.concatenate([h["loss"], h.get("val_loss", [])])
        ax = plots.draw(plots.load(runs[key]), "loss").axes[0]
        assert (ax.get_yscale() == "log") == (values.max() >= 10 * values.min())
        assert ("log scale" in ax.get_title()) == (ax.get_yscale() == "log")
    # the wave's mse falls from thousands: log; 4 epochs of blobs do not span a decade: linear
    assert plots.draw(plots.load(runs["wave"]), "loss").axes[0].get_yscale() == "log"
    assert plots.draw(plots.load(runs["blobs"]), "loss").axes[0].get_yscale() == "linear"


def test_spans_decades():
    assert spans_decades([1.0, 0.1])
    assert not spans_decades([1.0, 0.11])
    assert not spans_decades([5.0, 0.0])  # zero cannot go on a log axis
    assert not spans_decades([])
    assert spans_decades([None, float("nan"), 20.0, 2.0])


def test_no_validation_curves_without_validation_and_no_panel_for_an_undefined_metric(tmp_path):
    config = write_config(tmp_path, "data: {source: inline, x: [[0], [1], [2]], y: [0, 1, 4]}\n"
                                    "network: {layers: [{units: 1, activation: linear}]}\n"
                                    "training: {batch: full, epochs: 3}\n")
    outcome = train_from_config(config, out=tmp_path / "runs")
    loss_ax, r2_ax = plots.draw(plots.load(outcome.run_dir), "loss").axes
    assert set(lines_by_gid(loss_ax)) == {"loss"} and set(lines_by_gid(r2_ax)) == {"r2"}
    assert r2_ax.get_title() == "R²"
    # worked example B: one row, so R² is undefined in every epoch: the loss panel alone
    outcome = train_from_config(CONFIGS / "example-b-two-layers.yaml", out=tmp_path / "b",
                                plots=True)
    assert outcome.plot_problems == []
    (ax,) = plots.draw(plots.load(outcome.run_dir), "loss").axes
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [9213.25] and line.get_marker() == "o"  # one epoch: a dot
    assert png_info(outcome.run_dir / "loss.png")[:2] == (550, 380)


def test_decision_boundary_shows_the_points_and_the_predicted_classes(runs):
    run = plots.load(runs["blobs"])
    points = run_points(run.path)
    fig = plots.draw(run, "boundary", points)
    ax = fig.axes[0]
    for split, idx in (("train", points.train_idx), ("validation", points.val_idx)):
        for c, label in enumerate(run.model.classes):
            rows = idx[points.y[idx] == label]
            drawn = collection(ax, f"{split}:{c}").get_offsets()
            np.testing.assert_array_equal(drawn, points.X[rows])
    (image,) = ax.get_images()
    assert image.get_gid() == "regions"
    x0, x1, y0, y1 = image.get_extent()
    assert x0 < points.X[:, 0].min() and x1 > points.X[:, 0].max()
    assert y0 < points.X[:, 1].min() and y1 > points.X[:, 1].max()
    regions = np.asarray(image.get_array())
    gx, gy = np.linspace(x0, x1, 200), np.linspace(y0, y1, 200)
    corners = np.array([[gx[0], gy[0]], [gx[-1], gy[0]], [gx[0], gy[-1]], [gx[-1], gy[-1]]])
    expected = np.argmax(run.model.predict_proba(corners), axis=1)
    assert [regions[0, 0], regions[0, -1], regions[-1, 0], regions[-1, -1]] == list(expected)
    assert len(np.unique(regions)) == 3
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")


def test_two_classes_shade_the_probability(runs):
    run = plots.load(runs["xor"])
    points = run_points(run.path)
    ax = plots.draw(run, "boundary", points).axes[0]
    (image,) = ax.get_images()
    assert image.get_gid() == "probability"
    p = np.asarray(image.get_array())
    x0, x1, y0, y1 = image.get_extent()
    xx, yy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    expected = run.model.predict_proba(np.column_stack([xx.ravel(), yy.ravel()]))[:, 1]
    np.testing.assert_allclose(p, expected.reshape(200, 200))
    # the four XOR rows, all training points (no validation split with 4 rows)
    offsets = np.concatenate([collection(ax, f"train:{c}").get_offsets() for c in (0, 1)])
    assert sorted(map(tuple, offsets)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert not [c for c in ax.collections if str(c.get_gid()).startswith("validation")]


def test_fit_draws_the_data_and_the_network_curve(runs):
    run = plots.load(runs["wave"])
    points = run_points(run.path)
    ax = plots.draw(run, "fit", points).axes[0]
    curve = lines_by_gid(ax)["curve:0"]
    x = curve.get_xdata()
    assert len(x) == 400 and x[0] < points.X.min() and x[-1] > points.X.max()
    np.testing.assert_array_equal(curve.get_ydata(), run.model.predict(x[:, None])[:, 0])
    train = collection(ax, "train:0").get_offsets()
    np.testing.assert_array_equal(train, np.column_stack([points.X[points.train_idx, 0],
                                                          points.y[points.train_idx, 0]]))
    assert len(collection(ax, "validation:0").get_offsets()) == 12  # 20% of 60


def test_network_diagram_draws_every_weight_by_sign_and_size(runs):
    run = plots.load(runs["xor"])  # 2-4-1: every neuron shown
    ax = plots.draw(run, "network").axes[0]
    edges = collection(ax, "weights")
    layers = run.model.network.layers
    weights = np.concatenate([layer.W.ravel() for layer in layers])
    assert len(edges.get_segments()) == 2 * 4 + 4 * 1
    np.testing.assert_array_equal(np.sort(edges.get_array()), np.sort(weights))
    widths = edges.get_linewidths()
    drawn = np.asarray(edges.get_array())
    assert widths[np.argmax(np.abs(drawn))] == pytest.approx(4.0)  # the largest |weight|
    assert np.all(np.diff(np.abs(drawn)) >= 0)  # strongest drawn last, on top
    np.testing.assert_array_equal(collection(ax, "neurons:1").get_array(), layers[0].b)
    labels = {t.get_text() for t in ax.texts}
    assert {"input\n2 features", "hidden 1\n4 tanh", "output\n1 sigmoid", "x1", "x2",
            "P(1)"} <= labels


def test_wide_layers_are_shortened(runs):
    assert shown_neurons(16) == (list(range(16)), list(range(16)))
    assert shown_neurons(20) == ([0, 1, 2, 3, 4, 5, 6, 7, 13, 14, 15, 16, 17, 18, 19],
                                 [0, 1, 2, 3, 4, 5, 6, 7, None, 13, 14, 15, 16, 17, 18, 19])
    run = plots.load(runs["blobs3d"])  # 3-20-3
    ax = plots.draw(run, "network").axes[0]
    assert len(collection(ax, "weights").get_segments()) == 3 * 15 + 15 * 3
    assert "… 5 more" in {t.get_text() for t in ax.texts}


def test_same_bytes_every_time_and_from_nncli_plot(runs, tmp_path):
    """`nncli plot --out DIR` redraws what training wrote, byte for byte."""
    cli = Cli(tmp_path)
    r = cli("plot", runs["blobs"], "--out", tmp_path)
    assert r.exit_code == 0, r.output
    names = ["loss.png", "decision_boundary.png", "network.png", "boundary.gif", "units.png",
             "layers.png"]
    assert r.stdout.splitlines() == [str(tmp_path / n) for n in names]
    for name in names:
        assert (tmp_path / name).read_bytes() == (runs["blobs"] / name).read_bytes(), name
    out = tmp_path / "wave-fit.png"
    r = cli("plot", runs["wave"], "--what", "fit", "--out", out)
    assert r.exit_code == 0 and r.stdout == f"{out}\n"
    assert out.read_bytes() == (runs["wave"] / "fit.png").read_bytes()


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_other_formats_are_deterministic_too(runs, tmp_path, suffix):
    cli = Cli(tmp_path)
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    for out in (first, second):
        assert cli("plot", runs["xor"], "--what", "loss", "--out", out).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[:5] == (b"<?xml" if suffix == ".svg" else b"%PDF-")


def test_no_plots_writes_no_pictures(tmp_path):
    cli = Cli(tmp_path / "runs")
    r = cli.train(CONFIGS / "xor-mlp.yaml", "--set", "training.epochs=2", "--no-plots")
    assert r.exit_code == 0, r.output
    (run,) = cli.run_dirs()
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml", "history.csv", "layers.csv", "metrics.json", "model.json",
        "snapshots.npz", "weights.npz"]


def test_the_library_draws_only_when_asked_and_never_for_an_interrupted_run(tmp_path):
    config = CONFIGS / "xor-mlp.yaml"
    plain = train_from_config(config, ["training.epochs=2"], tmp_path / "a")
    assert not list(plain.run_dir.glob("*.png"))
    stopped = train_from_config(config, ["training.epochs=5"], tmp_path / "b", plots=True,
                                hooks=hooks(stop=lambda: True))
    assert stopped.metrics["status"] == "interrupted"
    assert not list(stopped.run_dir.glob("*.png"))


def test_a_failing_picture_is_a_warning_and_the_run_is_kept(tmp_path, monkeypatch):
    import nncli.plots.boundary

    def broken(run, points):
        raise RuntimeError("no ink")

    monkeypatch.setattr(nncli.plots.boundary, "boundary_figure", broken)
    cli = Cli(tmp_path / "runs")
    r = cli.train(CONFIGS / "xor-mlp.yaml", "--set", "training.epochs=2", plots=True)
    assert r.exit_code == 0, r.output
    assert "warning: decision_boundary.png not written: RuntimeError: no ink" in r.stderr
    (run,) = cli.run_dirs()
    assert {p.name for p in run.glob("*.png")} == {"loss.png", "network.png", "units.png",
                                                     "layers.png"}
    assert (run / "metrics.json").exists()


def test_training_draws_from_memory_without_reading_the_run_or_its_data_again(tmp_path,
                                                                            monkeypatch):
    import nncli.plots.run
    import nncli.runs.load
    import nncli.training.reproduce

    def reload(*args):
        raise AssertionError("read back from disk")

    monkeypatch.setattr(nncli.training.reproduce, "reproduce", reload)
    monkeypatch.setattr(nncli.plots.run, "load_run", reload)
    monkeypatch.setattr(nncli.runs.load, "load_run", reload)
    monkeypatch.setattr(nncli.plots.run, "read_history", reload)
    outcome = train_from_config(CONFIGS / "xor-mlp.yaml", ["training.epochs=2"], tmp_path,
                                plots=True)
    assert outcome.plot_problems == []
    assert {p.name for p in outcome.run_dir.glob("*.png")} == {
        "loss.png", "decision_boundary.png", "network.png", "units.png", "layers.png"}
    assert (outcome.run_dir / "boundary.gif").exists()


def test_a_diverged_run_still_gets_its_pictures(tmp_path):
    cli = Cli(tmp_path / "runs")
    config = write_config(tmp_path, "data: {source: inline, x: [[1.0e30], [2.0]], y: [1, 2]}\n"
                                    "network: {layers: [{units: 1, activation: linear}]}\n"
                                    "training: {batch: full, epochs: 50}\n")
    r = cli.train(config, plots=True)
    assert r.exit_code == 1
    assert "warning" not in r.stderr and "Warning" not in r.stderr
    (run,) = cli.run_dirs()
    assert {p.name for p in run.glob("*.png")} == {"loss.png", "fit.png", "network.png",
                                                     "layers.png"}


# --- nncli plot ---------------------------------------------------------------------------

def test_plot_all_redraws_into_the_run_directory(runs, tmp_path):
    import shutil
    run = tmp_path / runs["xor"].name
    shutil.copytree(runs["xor"], run)
    for p in [*run.glob("*.png"), *run.glob("*.gif")]:
        p.unlink()
    r = Cli(tmp_path)("plot", run)
    assert r.exit_code == 0, r.output
    names = ("loss.png", "decision_boundary.png", "network.png", "boundary.gif", "units.png",
             "layers.png")
    assert r.stdout.splitlines() == [str(run / n) for n in names]
    for name in names:
        assert (run / name).read_bytes() == (runs["xor"] / name).read_bytes()


def test_plot_compares_several_runs(runs, tmp_path):
    out = tmp_path / "compare.png"
    r = Cli(tmp_path)("plot", runs["blobs"], runs["blobs3d"], "--out", out)
    assert r.exit_code == 0, r.output
    fig = plots.draw_comparison([plots.load(runs["blobs"]), plots.load(runs["blobs3d"])],
                                ["two", "three"])
    assert png_info(out)[1] == 380 and png_info(out)[0] > 1050  # the legend beside the panels
    lines = fig.axes[0].get_lines()
    assert [l.get_label() for l in lines] == [
        "two train", "two validation", "three train", "three validation"]
    np.testing.assert_array_equal(lines[2].get_ydata(), history(runs["blobs3d"])["loss"])
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert lines[1].get_linestyle() == "--"


def test_plot_compares_into_the_current_folder_by_default(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = Cli(tmp_path)("plot", runs["blobs"], runs["xor"])
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{tmp_path / 'loss-comparison.png'}\n"
    assert png_info(tmp_path / "loss-comparison.png")[0] > 1050


@pytest.mark.parametrize("args,message", [
    (["{wave}", "--what", "boundary"], "no decision boundary: it needs a classification run with "
                                       "2 input features (this run: regression, 1 features)"),
    (["{blobs3d}", "--what", "fit"], "no fitted curve: it needs a regression run with 1 input"),
    (["{blobs}", "{xor}", "--what", "network"], "several runs are compared by their loss curves"),
    (["{blobs}", "{xor}", "--label", "a"], "--label: 1 labels for 2 runs; give one per run"),
    (["{blobs}", "--out", "{tmp}/x.png"], "--out {tmp}/x.png: 6 pictures do not fit in one file"),
    (["{blobs}", "--what", "loss", "--out", "{tmp}/x.jpg"], "unknown picture format '.jpg'"),
    (["{blobs}", "--what", "loss", "--out", "{tmp}/nowhere/x.png"], "does not exist"),
    (["{tmp}"], "no model.json"),
    (["{tmp}/missing"], "missing: no such run directory"),
])
def test_plot_refuses_bad_input_with_exit_2(runs, tmp_path, args, message):
    fill = {**{k: str(v) for k, v in runs.items()}, "tmp": str(tmp_path)}
    r = Cli(tmp_path)("plot", *[a.format(**fill) for a in args])
    assert r.exit_code == 2, r.output
    assert message.format(**fill) in r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.output
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.jpg"))


def test_plot_refuses_a_run_without_epochs(runs, tmp_path):
    import shutil
    run = tmp_path / "empty"
    shutil.copytree(runs["xor"], run)
    for p in [*run.glob("*.png"), *run.glob("*.gif")]:
        p.unlink()
    (run / "history.csv").write_text("epoch,loss,accuracy\n")
    r = Cli(tmp_path)("plot", run, "--what", "loss")
    assert r.exit_code == 2 and "no loss curve: the run has no finished epoch" in r.stderr
    r = Cli(tmp_path)("plot", run)  # all that apply: the rest is drawn
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in run.glob("*.png")) == [
        "decision_boundary.png", "layers.png", "network.png", "units.png"]
    (run / "history.csv").write_text("epoch,loss\n1,abc\n")
    r = Cli(tmp_path)("plot", run)
    assert r.exit_code == 2 and "history.csv: line 2: loss is not a number: 'abc'" in r.stderr


# --- issue 16: the model as it learns, hidden units, corrected pictures ----------------------

def gif_frames(path):
    from PIL import Image

    with Image.open(path) as im:
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
        return im.n_frames, im.size, durations


def test_the_animation_has_a_frame_per_snapshot_with_epoch_and_loss(runs):
    from nncli.runs.snapshots import snapshot_epochs

    frames, size, durations = gif_frames(runs["xor"] / "boundary.gif")
    assert frames == len(snapshot_epochs(60)) == 34
    assert size == (520, 380)
    assert durations == [250] * 33 + [2000]  # the last frame stays
    frames, _, _ = gif_frames(runs["wave"] / "fit.gif")  # regression: the fitted curve
    assert frames == 20
    assert not (runs["blobs3d"] / "boundary.gif").exists()  # three features: no animation


def test_each_frame_is_drawn_from_its_snapshot(runs):
    """The frame function draws snapshot k's model, titled with its epoch and loss."""
    from nncli.plots.learning import _boundary_frames, snapshot_model

    run = plots.load(runs["xor"])
    points = run_points(run.path)
    fig, moving, update = _boundary_frames(run, points)
    image, title = moving[0], moving[-1]
    update(len(run.snapshots.epochs) - 1)
    assert title.get_text() == f"xor-mlp: epoch 60, loss {run.history['loss'][-1]:.4g}"
    last = snapshot_model(run, len(run.snapshots.epochs) - 1)
    # the last snapshot is the trained network
    for a, b in zip(last.network.layers, run.model.network.layers):
        np.testing.assert_array_equal(a.W, b.W)
    x0, x1, y0, y1 = image.get_extent()
    grid = np.column_stack([np.linspace(x0, x1, 100), np.full(100, y0)])
    np.testing.assert_allclose(np.asarray(image.get_array())[0],
                               run.model.predict_proba(grid)[:, 1], rtol=1e-12)


def test_unit_maps_show_each_hidden_units_activation(runs):
    run = plots.load(runs["xor"])  # 2-4-1: four tanh units
    points = run_points(run.path)
    fig = plots.draw(run, "units", points)
    maps = {im.get_gid(): im for ax in fig.axes for im in ax.get_images()}
    assert set(maps) == {f"unit:1:{j}" for j in range(1, 5)}
    x0, x1, y0, y1 = maps["unit:1:1"].get_extent()
    corner = np.array([[x0, y0]])
    layer = run.model.network.layers[0]
    expected = np.tanh(corner @ layer.W + layer.b)  # XOR is not scaled
    for j in range(4):
        assert np.asarray(maps[f"unit:1:{j + 1}"].get_array())[0, 0] == \
            pytest.approx(expected[0, j], rel=1e-9)
    assert plots.why_not(plots.load(runs["blobs3d"]), "units").startswith("no unit maps")


def test_network_writes_weights_and_biases_on_small_networks(runs):
    run = plots.load(runs["xor"])
    ax = plots.draw(run, "network").axes[0]
    layers = run.model.network.layers
    weights = sorted(t.get_text() for t in ax.texts if t.get_gid() == "weight-label")
    assert weights == sorted(f"{w:.3g}" for l in layers for w in l.W.ravel())
    biases = {t.get_gid(): t.get_text() for t in ax.texts
              if str(t.get_gid()).startswith("bias:")}
    assert biases == {f"bias:{l}:{n + 1}": f"{b:.3g}" for l, layer in enumerate(layers, 1)
                      for n, b in enumerate(layer.b)}
    widths = collection(ax, "weights").get_linewidths()
    assert min(widths) >= 0.8  # every edge visible
    big = plots.draw(plots.load(runs["blobs3d"]), "network").axes[0]  # 90 edges: no labels
    assert not [t for t in big.texts if t.get_gid() == "weight-label"]


def test_the_perceptron_draws_its_own_line_and_classes(tmp_path):
    outcome = train_from_config(CONFIGS / "xor-perceptron.yaml", [], tmp_path)
    run = plots.load(outcome.run_dir)
    fig = plots.draw(run, "boundary", run_points(run.path))
    (ax,) = fig.axes  # no colour bar: a step unit has no probability
    (line,) = [l for l in ax.get_lines() if l.get_gid() == "perceptron-line"]
    W, b = run.model.network.layers[0].W[:, 0], run.model.network.layers[0].b[0]
    xs, ys = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(W[0] * xs + W[1] * ys + b, 0, atol=1e-12)  # w·x + b = 0
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == \
        ["0 (w·x + b < 0)", "1 (w·x + b ≥ 0)", "w·x + b = 0"]
    # the history's accuracy is that of the end-of-epoch weights: the last is the summary's
    assert run.history["accuracy"][-1] == outcome.metrics["train"]["accuracy"] == 0.5


def test_comparisons_are_labelled_by_what_differs_with_the_legend_outside(tmp_path):
    config = write_config(tmp_path, "data: {source: xor}\nnetwork: {layers: [{units: 3, "
                                    "activation: tanh}, {units: 1, activation: sigmoid}]}\n"
                                    "training: {batch: full, epochs: 5}\n")
    a = train_from_config(config, ["training.learning_rate=0.1"], tmp_path / "a").run_dir
    b = train_from_config(config, ["training.learning_rate=0.01"], tmp_path / "b").run_dir
    fig = plots.draw_comparison([plots.load(a), plots.load(b)])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == \
        ["lr=0.1", "lr=0.01", "train", "validation"]
    assert all(ax.get_legend() is None for ax in fig.axes)  # none over the curves
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert all(box.x0 >= ax.get_window_extent().x1 for ax in fig.axes)  # right of the data
    labelled = plots.draw_comparison([plots.load(a), plots.load(b)], ["fast", "slow"])
    assert [t.get_text() for t in labelled.legends[0].get_texts()][:2] == ["fast", "slow"]


def test_plot_draws_the_animation_and_units_again_byte_for_byte(runs, tmp_path):
    cli = Cli(tmp_path)
    r = cli("plot", runs["xor"], "--what", "animation", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{tmp_path / 'boundary.gif'}\n"
    assert (tmp_path / "boundary.gif").read_bytes() == (runs["xor"] / "boundary.gif").read_bytes()
    r = cli("plot", runs["xor"], "--what", "units", "--out", tmp_path / "u.png")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "u.png").read_bytes() == (runs["xor"] / "units.png").read_bytes()
    r = cli("plot", runs["xor"], "--what", "animation", "--out", tmp_path / "a.png")
    assert r.exit_code == 2
    assert r.stderr == f"error: --out {tmp_path / 'a.png'}: the animation is a GIF; name the " \
                       f"file .gif\n"
