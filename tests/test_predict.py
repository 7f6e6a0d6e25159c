"""`nncli predict` end to end: exact predictions, labels, probabilities, pipes and bad input."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

import nncli
from nncli.data.prepare import decode_outputs
from nncli.training.train import train_from_config
from nncli.engine.network import evaluate

from conftest import CONFIGS, PENGUINS, assert_input_error, read_json, write_config
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def train(out, config=CONFIGS / "penguins-csv.yaml", *overrides):
    return train_from_config(config, ["training.epochs=20", *overrides], out)


def penguin_rows():
    with PENGUINS.open(newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, columns):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_output(text):
    return list(csv.DictReader(io.StringIO(text)))


# --- exact predictions -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predictions_on_the_validation_rows_equal_training_exactly(cli, tmp_path, dtype):
    outcome = train(tmp_path / "runs", CONFIGS / "penguins-csv.yaml", f"dtype={dtype}")
    exp = outcome.experiment
    # What training computed for the validation split (metrics.json comes from this call).
    _, _, outputs = evaluate(exp.network, exp.loss, exp.X_val, exp.Y_val, exp.metric.fn)
    expected = decode_outputs(outputs, exp.dataset.classes)

    # The same rows as raw CSV, columns shuffled, plus columns predict must ignore.
    rows = [penguin_rows()[i] | {"id": f"row{i}"} for i in exp.val_idx]
    columns = ["id", "species", *reversed(FEATURES)]
    path = write_csv(tmp_path / "val.csv", rows, columns)

    r = cli("predict", outcome.run_dir, "--input", path, "--proba", "-o", tmp_path / "out.csv")
    assert r.exit_code == 0, r.output
    assert r.stderr == f"wrote {len(rows)} predictions to {tmp_path / 'out.csv'}\n"
    out = read_output((tmp_path / "out.csv").read_text())
    assert list(out[0]) == ["species", "p_Adelie", "p_Chinstrap", "p_Gentoo"]
    assert [o["species"] for o in out] == list(expected)
    probs = np.array([[float(o[f"p_{c}"]) for c in exp.dataset.classes] for o in out])
    assert np.array_equal(probs.astype(dtype), outputs)  # shortest round-trip text: exact

    correct = np.mean([o["species"] == row["species"] for o, row in zip(out, rows)])
    assert correct == read_json(outcome.run_dir / "metrics.json")["validation"]["accuracy"]


def test_python_api_equals_the_cli(cli, penguins, tmp_path):
    model = nncli.load_run(penguins.run_dir)
    rows = penguin_rows()
    X = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    r = cli("predict", penguins.run_dir, "--input", PENGUINS, "--proba")
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    assert [o["species"] for o in out] == list(model.predict(X))
    p = model.predict_proba(X)
    assert np.array_equal(np.array([[float(v) for v in list(o.values())[1:]] for o in out]), p)


def test_many_chunks_give_the_same_predictions_in_order(cli, penguins, tmp_path):
    # About 2.4 MB: pyarrow streams it in several chunks of about 1 MB.
    rng = np.random.default_rng(0)
    base = np.array([[float(r[f]) for f in FEATURES] for r in penguin_rows()])
    X = base[rng.integers(0, len(base), 60_000)] * rng.uniform(0.95, 1.05, (60_000, 4))
    path = tmp_path / "big.csv"
    np.savetxt(path, X, delimiter=",", header=",".join(FEATURES), comments="", fmt="%.17g")
    r = cli("predict", penguins.run_dir, path)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "species" and len(lines) == 60_001
    assert lines[1:] == list(nncli.load_run(penguins.run_dir).predict(X))


# --- labels and probabilities ----------------------------------------------------------------

def test_labels_that_need_quotes_round_trip(cli, tmp_path):
    config = write_config(tmp_path, """
data:
  source: inline
  task: classification
  x: [[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [2, 3]]
  y: ['a,b', 'a,b', 'say "hi"', 'say "hi"', plain, plain]
network:
  layers: [{units: 3, activation: softmax}]
training: {batch: full, learning_rate: 0.5, epochs: 200}
""")
    outcome = train_from_config(config, [], tmp_path / "runs")
    model = nncli.load_run(outcome.run_dir)
    assert model.classes == ["a,b", "plain", 'say "hi"']
    path = write_csv(tmp_path / "x.csv", [{"x1": a, "x2": b} for a, b in
                                          [(0, 0), (1, 1), (2, 3)]], ["x1", "x2"])
    r = cli("predict", outcome.run_dir, path, "--proba")
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    assert list(out[0]) == ["target", "p_a,b", "p_plain", 'p_say "hi"']
    assert [o["target"] for o in out] == list(model.predict([[0, 0], [1, 1], [2, 3]]))
    assert [o["target"] for o in out] == ["a,b", 'say "hi"', "plain"]  # it learned this much


def test_integer_labels_and_probabilities_sum_to_one(cli, tmp_path):
    outcome = train_from_config(CONFIGS / "blobs.yaml", ["training.epochs=3"], tmp_path / "runs")
    rows = [{"x1": x1, "x2": x2} for x1, x2 in np.random.default_rng(1).normal(0, 5, (50, 2))]
    path = write_csv(tmp_path / "x.csv", rows, ["x2", "x1"])
    r = cli("predict", outcome.run_dir, "-i", path, "--proba")
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    assert list(out[0]) == ["target", "p_0", "p_1", "p_2"]
    p = np.array([[float(o[f"p_{k}"]) for k in range(3)] for o in out])
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=0, atol=1e-12)
    assert [int(o["target"]) for o in out] == list(np.argmax(p, axis=1))


def test_one_sigmoid_output_gives_both_probabilities(cli, tmp_path):
    outcome = train_from_config(CONFIGS / "moons.yaml", ["training.epochs=3",
                                "network.layers.2.units=1", "network.layers.2.activation=sigmoid",
                                "training.loss=binary_cross_entropy"], tmp_path / "runs")
    path = write_csv(tmp_path / "x.csv", [{"x1": 0.5, "x2": 0.25}, {"x1": -1, "x2": 1}],
                     ["x1", "x2"])
    r = cli("predict", outcome.run_dir, path, "--proba")
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    p1 = nncli.load_run(outcome.run_dir).outputs([[0.5, 0.25], [-1, 1]])[:, 0]
    assert [float(o["p_1"]) for o in out] == list(p1)
    assert [float(o["p_0"]) for o in out] == list(1 - p1)
    assert [o["target"] for o in out] == [str(int(p >= 0.5)) for p in p1]


def test_regression_writes_one_column_per_target(cli, tmp_path):
    csv_path = tmp_path / "houses.csv"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    with csv_path.open("w") as f:
        f.write("a,b,price,rent\n")
        for (a, b) in X:
            f.write(f"{a},{b},{a + b},{a - b}\n")
    config = write_config(tmp_path, f"""
data: {{source: csv, path: {csv_path}, target: [price, rent]}}
network:
  layers: [{{units: 2, activation: linear}}]
training: {{batch: full, epochs: 3}}
""")
    outcome = train_from_config(config, [], tmp_path / "runs")
    r = cli("predict", outcome.run_dir, csv_path)
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    assert list(out[0]) == ["price", "rent"]
    expected = nncli.load_run(outcome.run_dir).predict(X)
    assert np.array_equal(np.array([[float(o["price"]), float(o["rent"])] for o in out]),
                          expected)
    r = cli("predict", outcome.run_dir, csv_path, "--proba")
    assert_input_error(r, "--proba: probabilities need a classification run; "
                          f"{outcome.run_dir} is a regression run")


def test_delimiter_option(cli, penguins, tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text(PENGUINS.read_text().replace(",", ";"))
    r = cli("predict", penguins.run_dir, path, "--delimiter", ";")
    assert r.exit_code == 0, r.output
    assert r.stdout == cli("predict", penguins.run_dir, PENGUINS).stdout


# --- stdin, stdout and the output file -------------------------------------------------------

def test_stdin_to_stdout_pipeline_in_a_subprocess(penguins, tmp_path):
    cat = subprocess.Popen(["cat", str(PENGUINS)], stdout=subprocess.PIPE)
    proc = subprocess.run([sys.executable, "-m", "nncli", "predict", str(penguins.run_dir), "-",
                           "--proba"], stdin=cat.stdout, capture_output=True, cwd=tmp_path)
    cat.wait()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    model = nncli.load_run(penguins.run_dir)
    X = np.array([[float(r[f]) for f in FEATURES] for r in penguin_rows()])
    out = read_output(proc.stdout.decode())
    assert [o["species"] for o in out] == list(model.predict(X))
    assert np.array_equal([float(o["p_Gentoo"]) for o in out], model.predict_proba(X)[:, 2])


def test_stdin_through_the_cli_runner(cli, penguins):
    r = cli("predict", penguins.run_dir, "-", input=PENGUINS.read_bytes())
    assert r.exit_code == 0, r.output
    assert r.stdout == cli("predict", penguins.run_dir, PENGUINS).stdout


def test_output_file_is_replaced_whole_and_left_alone_on_error(cli, penguins, tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    r = cli("predict", penguins.run_dir, PENGUINS, "-o", target)
    assert r.exit_code == 0, r.output
    assert target.read_text().splitlines()[:2] == ["species", "Gentoo"]
    assert len(target.read_text().splitlines()) == 151

    target.write_text("old\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(FEATURES) + "\n1,2,3,4\n1,2,x,4\n")
    r = cli("predict", penguins.run_dir, bad, "-o", target)
    assert_input_error(r, f"{bad}: row 3, column 'flipper_length_mm': 'x' is not a number")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "out.csv"]  # no leftovers


def test_output_problems(cli, penguins, tmp_path):
    r = cli("predict", penguins.run_dir, PENGUINS, "-o", tmp_path / "no" / "out.csv")
    assert_input_error(r, f"--output {tmp_path / 'no' / 'out.csv'}: directory "
                          f"{tmp_path / 'no'} does not exist")
    r = cli("predict", penguins.run_dir, PENGUINS, "-o", tmp_path)
    assert_input_error(r, f"--output {tmp_path}: is a directory")


def test_input_arguments(cli, penguins, tmp_path):
    assert_input_error(cli("predict", penguins.run_dir),
                       "no input: give --input FILE (or - to read stdin)")
    assert_input_error(cli("predict", penguins.run_dir, "a.csv", "--input", "b.csv"),
                       "two inputs given (a.csv and --input b.csv); give one")
    assert_input_error(cli("predict", penguins.run_dir, tmp_path / "none.csv"),
                       f"{tmp_path / 'none.csv'}: file not found")


# --- bad input: one clear message, exit 2 ----------------------------------------------------

def test_missing_column(cli, penguins, tmp_path):
    rows = penguin_rows()[:3]
    path = write_csv(tmp_path / "x.csv", rows, ["bill_length_mm", "body_mass_g", "species"])
    assert_input_error(cli("predict", penguins.run_dir, path),
                       f"{path}: missing feature column(s) 'bill_depth_mm', 'flipper_length_mm';"
                       " the run needs 'bill_length_mm', 'bill_depth_mm', 'flipper_length_mm', "
                       "'body_mass_g'")


@pytest.mark.parametrize("cell,message", [
    ("abc", "'abc' is not a number"),
    ("inf", "inf is not a finite number"),
])
def test_bad_cell(cli, penguins, tmp_path, cell, message):
    path = tmp_path / "x.csv"
    path.write_text(",".join(FEATURES) + f"\n1,2,3,4\n5,{cell},7,8\n")
    assert_input_error(cli("predict", penguins.run_dir, path),
                       f"{path}: row 3, column 'bill_depth_mm': {message}")


def test_bad_cell_in_a_later_chunk_names_its_row(cli, penguins, tmp_path):
    # 80,000 rows of 22 bytes: row 70001 is past the first megabyte (the reader's block).
    path = tmp_path / "x.csv"
    lines = [",".join(FEATURES)] + ["40.5,17.25,190,3900.5"] * 80_000
    lines[70_000] = "40.5,17.25,x,3900.5"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 1.5 * 2**20
    assert_input_error(cli("predict", penguins.run_dir, path),
                       f"{path}: row 70001, column 'flipper_length_mm': 'x' is not a number")


def test_a_missing_cell_gives_an_empty_prediction_in_its_place(cli, penguins, tmp_path):
    path = tmp_path / "x.csv"
    lines = [",".join(FEATURES)] + ["40.5,17.25,190,3900.5"] * 80_000
    lines[70_000] = "40.5,17.25,,3900.5"
    lines[70_002] = "40.5,NA,190,3900.5"
    path.write_text("\n".join(lines) + "\n")
    r = cli("predict", penguins.run_dir, path)
    assert r.exit_code == 0
    assert r.stderr == (f"warning: {path}: 2 of 80000 rows could not be predicted (a missing "
                        "feature value, which the run does not fill (data.missing: error); the "
                        "first at row 70001, column 'flipper_length_mm'); their output cells "
                        "are empty\n")
    out = r.stdout.splitlines()
    assert len(out) == 80_001 and out[0] == "species"
    # (an empty cell alone on its line is written "", so that it stays a row for CSV readers)
    assert out[70_000] == out[70_002] == '""' and out[70_001] == out[1] != ""
    assert len(read_output(r.stdout)) == 80_000


@pytest.mark.parametrize("text,message", [
    ("", "file is empty"),
    (",".join(FEATURES) + "\n", "no data rows after the header"),
])
def test_empty_input(cli, penguins, tmp_path, text, message):
    path = tmp_path / "x.csv"
    path.write_text(text)
    assert_input_error(cli("predict", penguins.run_dir, path), f"{path}: {message}")
    assert_input_error(cli("predict", penguins.run_dir, "-", input=text.encode()),
                       f"<stdin>: {message}")


def test_run_directory_without_weights(cli, penguins, tmp_path):
    import shutil
    run = shutil.copytree(penguins.run_dir, tmp_path / "run")
    (run / "weights.npz").unlink()
    assert_input_error(cli("predict", run, PENGUINS),
                       f"{run}: no weights.npz (not a finished nncli run)")
    assert_input_error(cli("predict", tmp_path / "nothing", PENGUINS),
                       f"{tmp_path / 'nothing'}: no such run directory")


def test_npz_with_a_pickled_object_array(cli, penguins, tmp_path):
    import shutil
    run = shutil.copytree(penguins.run_dir, tmp_path / "run")
    with np.load(run / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    w["b2"] = np.array([{"a": 1}, None, "x"], dtype=object)
    np.savez(run / "weights.npz", **w)
    assert_input_error(cli("predict", run, PENGUINS),
                       f"{run / 'weights.npz'}: b2: dtype object (expected float64, as "
                       "model.json says)")


def test_a_run_that_did_not_finish_gives_a_warning(cli, penguins, tmp_path):
    import shutil
    run = shutil.copytree(penguins.run_dir, tmp_path / "run")
    m = read_json(run / "metrics.json")
    (run / "metrics.json").write_text(json.dumps({**m, "status": "diverged"}))
    r = cli("predict", run, PENGUINS)
    assert r.exit_code == 0
    assert r.stderr == (f"warning: {run} did not finish training (status diverged); "
                        "predicting with its last saved weights\n")
    assert r.stdout == cli("predict", penguins.run_dir, PENGUINS).stdout


def test_help_describes_the_command(cli):
    r = cli("predict", "--help")
    assert r.exit_code == 0
    for option in ("--input", "--output", "--proba", "--delimiter"):
        assert option in r.stdout


def test_json_summary_needs_an_output_file(cli, penguins, tmp_path):
    out = tmp_path / "pred.csv"
    r = cli("predict", penguins.run_dir, PENGUINS, "-o", out, "--proba", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary == {"run_dir": str(penguins.run_dir), "input": str(PENGUINS), "output": str(out),
                       "rows": 150, "columns": ["species", "p_Adelie", "p_Chinstrap", "p_Gentoo"]}
    assert len(read_output(out.read_text())) == 150
    assert_input_error(cli("predict", penguins.run_dir, PENGUINS, "--json"),
                       "--json prints its summary on stdout, so the predictions need --output FILE")


def test_a_header_longer_than_the_readers_block_is_read(cli, penguins, tmp_path):
    # 1.3 MB of header (the reader's block is 1 MB): once reported as "file is empty"
    extra = [f"an_unused_column_with_a_long_name_{j}" for j in range(32_000)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(extra + FEATURES) + "\n"
                    + ",".join(["0"] * len(extra) + ["40.5", "17.25", "190", "3900.5"]) + "\n")
    assert len(path.read_text().splitlines()[0]) > 1.2 * 2**20
    r = cli("predict", penguins.run_dir, path)
    assert r.exit_code == 0, r.output
    expected = nncli.load_run(penguins.run_dir).predict([[40.5, 17.25, 190, 3900.5]])
    assert read_output(r.stdout) == [{"species": expected[0]}]
