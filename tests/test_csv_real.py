"""Real CSV files as people have them (issue 13): missing values, categorical features, scaled
regression targets, messy headers, ID columns; trained, recorded in the run, and applied the
same way by predict and evaluate."""

import csv
import io
import json

import numpy as np
import pytest

import nncli
from nncli.errors import NncliWarning
from nncli.engine.network import evaluate
from nncli.training.train import train_from_config

from conftest import ROOT, read_json, weights, write_config

MESSY = ROOT / "datasets" / "penguins-messy.csv"  # title line, ID column, NA cells, text features
FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
            "sex"]


def penguins_config(tmp_path, *, missing="median", extra="", name="messy"):
    return write_config(tmp_path, f"""
name: {name}
data:
  source: csv
  path: {MESSY}
  target: species
  skip_rows: 1
  exclude: [sample_id]
  missing: {missing}
{extra}
network:
  layers:
    - {{units: 8, activation: tanh}}
    - {{units: 3, activation: softmax}}
training: {{batch_size: 16, learning_rate: 0.1, epochs: 15}}
""", f"{name}.yaml")


def messy_rows():
    with MESSY.open(newline="") as f:
        next(f)  # the title line
        return list(csv.DictReader(f))


def read_output(text):
    return list(csv.DictReader(io.StringIO(text)))


def assert_input_error(cli, result, message):
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], result.stderr
    assert not any(line.startswith("error: ") for line in lines[:-1])
    assert "Traceback" not in result.output
    assert not cli.out.exists() or not any(cli.out.iterdir())  # nothing written


@pytest.fixture(scope="module")
def median_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("median")
    with pytest.warns(NncliWarning, match=r"left out 2 rows whose target \(species\) is "
                                          r"missing"):
        return train_from_config(penguins_config(tmp), [], tmp / "runs")


# --- the shipped messy table, from its first error to a trained model ------------------------

def test_the_first_error_points_at_the_title_line(cli, tmp_path):
    path = penguins_config(tmp_path)
    r = cli.train(path, "--set", "data.skip_rows=0")
    assert_input_error(cli, r, f"{MESSY}: row 2 has 8 fields, but the header has 3; if the lines "
                               "before the header are a title or description, skip them with "
                               "data.skip_rows")


def test_missing_values_under_error_give_the_count_the_first_cell_and_the_options(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path, missing="error"))
    assert_input_error(cli, r, "data.missing: 44 feature values are missing, the first at "
                               f"{MESSY}: row 6, column 'sex'; choose what to do with them: "
                               "data.missing: drop, mean, median or most_frequent")
    assert "warning: data.target: left out 2 rows whose target (species) is missing" in r.stderr


def test_an_id_column_is_refused_until_excluded(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path), "--set", "data.exclude=[]")
    assert_input_error(cli, r, "data.features: column 'sample_id' holds 166 different texts in "
                               "166 training rows (an ID or free text?); leave it out with "
                               "data.exclude")


def test_the_run_records_every_choice(median_run):
    model = read_json(median_run.run_dir / "model.json")
    assert model["format_version"] == 2 and model["missing"] == "median"
    assert model["input"] == 9
    assert model["input_names"] == [
        "island=Biscoe", "island=Dream", "island=Torgersen", "bill_length_mm", "bill_depth_mm",
        "flipper_length_mm", "body_mass_g", "sex=FEMALE", "sex=MALE"]
    assert model["feature_names"] == FEATURES
    exp = median_run.experiment
    # Statistics come from the training rows only (the rows of train_idx).
    rows = [r for r in messy_rows() if r["species"] != "NA"]
    train = [rows[i] for i in exp.train_idx]

    def values(column, subset):
        return np.array([float(r[column]) for r in subset if r[column] != "NA"])

    columns = {c["name"]: c for c in model["columns"]}
    numeric = FEATURES[1:5]
    for name in numeric:
        assert columns[name] == {"name": name, "kind": "numeric",
                                 "fill": float(np.median(values(name, train)))}
    # (the medians of all rows differ: the validation rows are not used)
    assert [columns[n]["fill"] for n in numeric] != [np.median(values(n, rows)) for n in numeric]
    sexes = [r["sex"] for r in train if r["sex"] != "NA"]
    assert columns["sex"] == {"name": "sex", "kind": "categorical",
                              "categories": ["FEMALE", "MALE"],
                              "fill": max(["FEMALE", "MALE"], key=sexes.count)}
    assert columns["island"]["categories"] == ["Biscoe", "Dream", "Torgersen"]
    # Scaling applies to the numeric inputs only: one-hot inputs keep offset 0 and scale 1.
    scaler = model["scaler"]
    assert [scaler["offset"][k] for k in (0, 1, 2, 7, 8)] == [0.0] * 5
    assert [scaler["scale"][k] for k in (0, 1, 2, 7, 8)] == [1.0] * 5
    assert scaler["offset"][3] == pytest.approx(values("bill_length_mm", train).mean(), rel=0.01)
    config = read_json_yaml(median_run.run_dir / "config.yaml")["data"]
    assert (config["skip_rows"], config["exclude"], config["missing"]) == (1, ["sample_id"],
                                                                           "median")


def read_json_yaml(path):
    import yaml
    return yaml.safe_load(path.read_text())


def test_predictions_on_the_training_file_are_the_training_outputs_bit_for_bit(cli, median_run,
                                                                               tmp_path):
    # The rows of the file itself (title line and all; extra columns are ignored), predicted
    # through the CSV reader and model.json, against the network's outputs on the matrix
    # training built: the same preprocessing, the same numbers.
    r = cli("predict", median_run.run_dir, "-", "--proba", input=title_free(MESSY))
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    assert len(out) == 210  # every row, in order: rows without a species are predicted too
    exp = median_run.experiment
    _, _, outputs = evaluate(exp.network, exp.loss, exp.X, exp.Y, exp.metric.fn)
    kept = [i for i, row in enumerate(messy_rows()) if row["species"] != "NA"]
    order = np.concatenate([exp.train_idx, exp.val_idx])
    proba = np.array([[float(out[kept[i]][f"p_{c}"]) for c in exp.dataset.classes]
                      for i in order])
    assert np.array_equal(proba, outputs)


def title_free(path):
    return path.read_bytes().split(b"\n", 1)[1]


def test_evaluate_reproduces_the_validation_metrics(cli, median_run):
    r = cli("evaluate", median_run.run_dir, "--json")
    report = json.loads(r.stdout)
    summary = median_run.metrics["validation"]
    assert (report["loss"], report["accuracy"]) == (summary["loss"], summary["accuracy"])
    assert report["rows"] == len(median_run.experiment.val_idx) == 42


@pytest.mark.parametrize("missing", ["drop", "mean", "most_frequent"])
def test_every_missing_policy_trains_and_predicts_rows_in_place(cli, tmp_path, missing):
    r = cli.train(penguins_config(tmp_path, missing=missing), "--no-plots")
    assert r.exit_code == 0, r.output
    if missing == "drop":
        assert "warning: data.missing: drop: left out 40 rows with a missing feature value " \
               "(44 cells)" in r.stderr
    (run,) = cli.run_dirs()
    rows = messy_rows()[:40]
    source = io.StringIO()
    writer = csv.DictWriter(source, ["sample_id", *FEATURES], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    r = cli("predict", run, "-", input=source.getvalue())
    assert r.exit_code == 0, r.output
    out = read_output(r.stdout)
    assert len(out) == 40
    incomplete = [i for i, row in enumerate(rows) if "NA" in [row[c] for c in FEATURES]]
    assert len(incomplete) == 10
    if missing == "drop":  # the run fills nothing: those rows cannot be predicted
        assert [i for i, o in enumerate(out) if o["species"] == ""] == incomplete
        assert r.stderr == (
            "warning: <stdin>: 10 of 40 rows could not be predicted (a missing feature value, "
            "which the run does not fill (data.missing: drop); the first at row 5, column "
            "'sex'); their output cells are empty\n")
    else:
        assert all(o["species"] in ("Adelie", "Chinstrap", "Gentoo") for o in out)
        assert r.stderr == ""
    # The rows predicted are those of the input, in order: the same as predicting each alone
    # (through the Python API, with a mapping of feature name to values).
    model = nncli.load_run(run)

    def alone(row):
        values = {c: [None if row[c] == "NA" else row[c] if c in ("island", "sex")
                      else float(row[c])] for c in FEATURES}
        return model.predict(values)[0]

    checked = [i for i in (0, 5, incomplete[0]) if out[i]["species"]]
    assert [alone(rows[i]) for i in checked] == [out[i]["species"] for i in checked]
    assert len(checked) == (2 if missing == "drop" else 3)


def test_an_unseen_category_warns_once_and_predicts(cli, median_run, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex\n"
                    "Biscoe,47.1,14.9,215,5100,FEMALE\n"
                    "Anvers,39,18,190,3700,MALE\n"
                    "Anvers,48,18,195,3800,UNKNOWN\n")
    r = cli("predict", median_run.run_dir, path, "--proba")
    assert r.exit_code == 0, r.output
    assert r.stderr == "warning: 2 rows hold a category not seen in training (encoded as all " \
                       "zeros)\n"
    out = read_output(r.stdout)
    assert [o["species"] for o in out][0] == "Gentoo" and len(out) == 3
    # all zeros: the island inputs (and sex, in row 3) of the unseen values are all zero
    model = nncli.load_run(median_run.run_dir)
    encoded = model.inputs(model.columns([["Biscoe", 47.1, 14.9, 215, 5100, "FEMALE"],
                                          ["Anvers", 39.0, 18.0, 190.0, 3700.0, "MALE"],
                                          ["Anvers", 48.0, 18.0, 195.0, 3800.0, "UNKNOWN"]]))
    assert encoded.X[1:, :3].tolist() == [[0.0] * 3] * 2 and encoded.X[2, 7:].tolist() == [0, 0]
    assert encoded.unseen.tolist() == [False, True, True]
    p = model.forward(encoded.X)
    assert [[float(o[f"p_{c}"]) for c in model.classes] for o in out] == p.tolist()


def test_no_row_predicted_is_an_error(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path, missing="drop"), "--no-plots")
    (run,) = cli.run_dirs()
    path = tmp_path / "new.csv"
    path.write_text(",".join(FEATURES) + "\nDream,NA,18,190,3700,MALE\nBiscoe,47,15,NA,5000,\n")
    r = cli("predict", run, path)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (f"error: {path}: no row could be predicted: every row has a missing "
                        "feature value, which the run does not fill (data.missing: drop); the "
                        "first at row 2, column 'bill_length_mm'\n")


def test_evaluate_leaves_out_rows_it_cannot_score(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path, missing="drop"), "--no-plots")
    (run,) = cli.run_dirs()
    path = tmp_path / "labelled.csv"
    path.write_text(",".join(FEATURES) + ",species\n"
                    "Biscoe,47.1,14.9,215,5100,FEMALE,Gentoo\n"
                    "Dream,NA,18,190,3700,MALE,Adelie\n"
                    "Torgersen,39,18,190,3700,MALE,NA\n"
                    "Dream,49,18.5,196,3750,MALE,Chinstrap\n")
    r = cli("evaluate", run, "--data", path, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 2
    assert r.stderr.splitlines() == [
        f"warning: {path}: left out 1 rows whose target (species) is missing",
        f"warning: {path}: 1 of 4 rows could not be scored (a missing feature value, which the "
        "run does not fill (data.missing: drop); the first at row 3, column 'bill_length_mm')"]


# --- a missing target is never a class -------------------------------------------------------

def test_a_missing_target_is_never_a_class(cli, tmp_path):
    rows = [r for r in messy_rows()]
    path = tmp_path / "sex.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["bill_length_mm", "bill_depth_mm", "body_mass_g", "sex"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r for r in rows if "NA" not in (r["bill_length_mm"],
                                                         r["bill_depth_mm"], r["body_mass_g"]))
    config = write_config(tmp_path, f"""
data: {{source: csv, path: {path}}}
network: {{layers: [{{units: 3, activation: softmax}}]}}
training: {{epochs: 2}}
""")
    r = cli.train(config, "--no-plots")
    # 'sex' has NA cells: with them as a class there would be 3 classes and this would train
    assert_input_error(cli, r, "network.layers[0] (layer 1).units: the output layer has 3 "
                               "units but the data has 2 classes")
    assert "warning: data.target: left out 15 rows whose target (sex) is missing" in r.stderr
    r = cli.train(config, "--no-plots", "--set", "network.layers.0.units=2")
    assert r.exit_code == 0
    assert read_json(cli.run_dirs()[0] / "model.json")["classes"] == ["FEMALE", "MALE"]


# --- regression targets ----------------------------------------------------------------------

def houses(tmp_path, n=200):
    """A noisy linear table: price around 1.2e5 from area, age and quality, plus an ID."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 3)) * [10, 3, 1] + [50, 20, 0]
    y = (1.2e5 + 2e3 * (X[:, 0] - 50) - 3e3 * (X[:, 1] - 20) + 8e3 * X[:, 2]
         + rng.normal(0, 4e3, n))
    path = tmp_path / "houses.csv"
    with path.open("w") as f:
        f.write("id,area,age,quality,price\n")
        for i, (r, t) in enumerate(zip(X, y)):
            f.write(f"{1000 + i},{r[0]:.1f},{r[1]:.1f},{r[2]:.3f},{t:.0f}\n")
    return path


HOUSES = """
data: {{source: csv, path: {path}, target: price, exclude: [id]{extra}}}
network:
  layers:
    - {{units: 8, activation: relu}}
    - {{units: 1, activation: linear}}
training: {{batch_size: 16, learning_rate: 0.05, epochs: 60}}
"""


def test_a_standard_scaled_target_around_1e5_is_learned(cli, tmp_path):
    path = houses(tmp_path)
    r = cli.train(write_config(tmp_path, HOUSES.format(path=path, extra="")), "--no-plots",
                  "--json")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout.splitlines()[-1])
    assert metrics["validation"]["r2"] > 0.9 and metrics["train"]["r2"] > 0.9
    assert 2e3 < metrics["validation"]["rmse"] < 8e3  # the noise is 4e3, in the price's units
    assert metrics["validation"]["loss"] < 0.1  # the loss is in the scaled target's units
    run = cli.run_dirs()[0]
    assert read_json_yaml(run / "config.yaml")["data"]["scale_target"] == "standard"
    scaler = read_json(run / "model.json")["target_scaler"]
    assert scaler["kind"] == "standard" and 1.1e5 < scaler["offset"][0] < 1.3e5
    # predict gives prices (the scaling undone), evaluate gives errors in prices
    r = cli("predict", run, path)
    prices = [float(o["price"]) for o in read_output(r.stdout)]
    truth = [float(row["price"]) for row in csv.DictReader(path.open())]
    assert np.corrcoef(prices, truth)[0, 1] > 0.95 and abs(np.mean(prices) - 1.2e5) < 5e3
    report = json.loads(cli("evaluate", run, "--json").stdout)
    assert [report[k] for k in ("r2", "rmse", "mae")] == \
        [metrics["validation"][k] for k in ("r2", "rmse", "mae")]


def test_an_unscaled_large_target_diverges_with_a_hint_that_names_it(cli, tmp_path):
    path = houses(tmp_path)
    config = write_config(tmp_path, HOUSES.format(path=path, extra=", scale_target: none"))
    r = cli.train(config, "--no-plots")
    assert r.exit_code == 1
    assert "the target 'price' reaches 1.8e+05 and is not scaled (data.scale_target: none): " \
           "set data.scale_target: standard" in r.stderr
    assert read_json(cli.run_dirs()[0] / "metrics.json")["status"] == "diverged"


def test_minmax_target_scaling_and_predictions_in_the_target_units(tmp_path):
    path = houses(tmp_path, n=60)
    config = write_config(tmp_path, HOUSES.format(path=path, extra=", scale_target: minmax"))
    outcome = train_from_config(config, ["training.epochs=5"], tmp_path / "runs")
    exp = outcome.experiment
    t = exp.T[:exp.n_train, 0]
    assert exp.Y_train.min() == 0.0 and exp.Y_train.max() == 1.0  # min and max of train rows
    assert exp.Y_train[:, 0] == pytest.approx((t - t.min()) / (t.max() - t.min()), abs=1e-15)
    model = nncli.load_run(outcome.run_dir)
    X = np.array([[50.0, 20.0, 0.0]])
    assert model.predict(X)[0, 0] == model.outputs(X)[0, 0] * (t.max() - t.min()) + t.min()


def test_inline_targets_keep_their_numbers(tmp_path):
    config = write_config(tmp_path, """
data: {source: inline, x: [[1.0], [2.0]], y: [300.0, 500.0]}
network: {layers: [{units: 1, activation: linear}]}
training: {batch: full, epochs: 1}
""")
    outcome = train_from_config(config, [], tmp_path / "runs")
    assert outcome.experiment.config.data.scale_target == "none"
    assert outcome.experiment.Y.tolist() == [[300.0], [500.0]]


def test_scale_target_on_a_classification_target_is_an_error(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path, extra="  scale_target: standard"))
    assert_input_error(cli, r, "data.scale_target: standard scales regression targets; this "
                               "target holds classes (leave scale_target out)")


# --- small data, codes, file quirks ---------------------------------------------------------

def test_a_batch_larger_than_the_training_set_is_one_full_batch(cli, tmp_path):
    path = houses(tmp_path, n=16)  # 13 training rows, as in the economics table of the issue
    base = HOUSES.format(path=path, extra="").replace("epochs: 60", "epochs: 5")
    r = cli.train(write_config(tmp_path, base, "mini.yaml"), "--no-plots")
    assert r.exit_code == 0
    assert "warning: training.batch_size: 16 is larger than the training set (13 rows); " \
           "training on one batch of all 13 rows" in r.stderr
    full = base.replace("batch_size: 16", "batch: full")
    assert cli.train(write_config(tmp_path, full, "full.yaml"), "--no-plots").exit_code == 0
    a, b = (weights(d) for d in cli.run_dirs())
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_integer_codes_as_categories(tmp_path):
    rows = "".join(f"{(i % 3) + 1},{i % 2},{'ab'[((i % 3) == 1) ^ (i % 2)]}\n" for i in range(60))
    (tmp_path / "codes.csv").write_text("grade,flag,y\n" + rows)
    config = write_config(tmp_path, """
data: {source: csv, path: codes.csv, categorical: [grade], validation: 0}
network: {layers: [{units: 2, activation: softmax}]}
training: {epochs: 1}
""")
    outcome = train_from_config(config, [], tmp_path / "runs")
    model = read_json(outcome.run_dir / "model.json")
    assert model["input_names"] == ["grade=1", "grade=2", "grade=3", "flag"]
    assert model["columns"][0]["categories"] == [1.0, 2.0, 3.0]
    loaded = nncli.load_run(outcome.run_dir)
    assert loaded.inputs(loaded.columns([[3, 1], ["2", 0]])).X[:, :3].tolist() == \
        [[0, 0, 1], [0, 1, 0]]


def test_comment_lines_and_quote_char_from_the_config(tmp_path):
    (tmp_path / "q.csv").write_text("# exported by hand\n"
                                    "a;b;label\n"
                                    + "".join(f"{i};{i % 5};'x; {i % 2}'\n" for i in range(20))
                                    + "# the end\n")
    config = write_config(tmp_path, """
data: {source: csv, path: q.csv, comment: '#', quote_char: "'", delimiter: ';'}
network: {layers: [{units: 2, activation: softmax}]}
training: {epochs: 1, batch: full}
""")
    outcome = train_from_config(config, [], tmp_path / "runs")
    assert outcome.experiment.dataset.classes == ["x; 0", "x; 1"]
    assert read_json(outcome.run_dir / "model.json")["csv"] == {
        "na_values": ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"], "comment": "#",
        "quote_char": "'"}


# --- bad input: one line, exit 2, nothing written --------------------------------------------

@pytest.mark.parametrize("extra,message", [
    ("  features: [island, bil_length_mm]",
     "data.features: no column named 'bil_length_mm' in "),
    ("  categorical: [Island]", "did you mean 'island'?"),
    ("  features: [island, sample_id]",
     "data.features: column 'sample_id' is also in data.exclude"),
])
def test_bad_column_choices(cli, tmp_path, extra, message):
    assert_input_error(cli, cli.train(penguins_config(tmp_path, extra=extra)), message)


def test_unknown_columns_get_a_did_you_mean(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path), "--set", "data.target=specie")
    assert_input_error(cli, r, "data.target: no column named 'specie' in "
                               f"{MESSY}; did you mean 'species'? columns: 'sample_id', ")
    r = cli.train(penguins_config(tmp_path), "--set", "data.exclude=[sampleid]")
    assert_input_error(cli, r, "data.exclude: no column named 'sampleid' in "
                               f"{MESSY}; did you mean 'sample_id'?")


def test_a_bad_policy_name(cli, tmp_path):
    r = cli.train(penguins_config(tmp_path, missing="impute"))
    assert_input_error(cli, r, "data.missing: Input should be 'error', 'drop', 'mean', "
                               "'median' or 'most_frequent' (got 'impute')")


def test_a_binary_data_file(cli, tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")
    config = write_config(tmp_path, "data: {source: csv, path: data.xlsx}\n"
                                    "network: {layers: [{units: 1, activation: linear}]}\n")
    assert_input_error(cli, cli.train(config), f"{tmp_path / 'data.xlsx'}: not a text CSV file "
                                               "(it holds NUL bytes")


@pytest.mark.parametrize("text", ["", "\n  \n", "# nothing yet\n"])
def test_an_empty_config_file(cli, tmp_path, text):
    path = write_config(tmp_path, text)
    assert_input_error(cli, cli.train(path), f"{path}: the config file is empty; it needs at "
                                             "least data: and network: (see configs/ for "
                                             "examples)")


def test_mean_of_a_column_that_is_missing_in_every_training_row(cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},NA,{i % 2}\n" for i in range(20)))
    config = write_config(tmp_path, "data: {source: csv, path: d.csv, missing: mean}\n"
                                    "network: {layers: [{units: 2, activation: softmax}]}\n")
    assert_input_error(cli, cli.train(config), "data: column 'b' has no value in the training "
                                               "rows to compute its mean from")


def test_a_stray_text_in_a_numeric_column(cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n"
                                                        for i in range(20)) + "3,n/a,1\n")
    config = write_config(tmp_path, "data: {source: csv, path: d.csv, task: classification}\n"
                                    "network: {layers: [{units: 2, activation: softmax}]}\n")
    assert_input_error(cli, cli.train(config), f"{tmp_path / 'd.csv'}: row 22, column 'b': "
                       "'n/a' is not a number, but most of the column are; if it marks a missing "
                       "value add it to data.na_values, or list the column in data.categorical")
    r = cli.train(config, "--set", "data.na_values=[n/a]", "--set", "data.missing=mean",
                  "--no-plots")
    assert r.exit_code == 0, r.output


# --- evaluate: a bad cell past the first megabyte (issue 12) -------------------------------

def test_evaluate_names_the_row_of_a_bad_cell_past_the_first_megabyte(cli, tmp_path):
    path = houses(tmp_path, n=40)
    config = write_config(tmp_path, HOUSES.format(path=path, extra="").replace("epochs: 60",
                                                                               "epochs: 2"))
    assert cli.train(config, "--no-plots").exit_code == 0
    (run,) = cli.run_dirs()
    big = tmp_path / "big.csv"
    lines = ["area,age,quality,price"] + ["50.5,20.25,0.125,120000"] * 60_000
    lines[55_000] = "50.5,20.25,0.125,12O000"  # a letter O
    big.write_text("\n".join(lines) + "\n")
    assert big.stat().st_size > 1.2 * 2**20
    r = cli("evaluate", run, "--data", big)
    assert r.exit_code == 2
    assert r.stderr == f"error: {big}: row 55001, column 'price': '12O000' is not a number\n"


# --- the shipped file and config -------------------------------------------------------------

def test_the_messy_file_is_made_by_the_script_in_datasets_readme(tmp_path):
    import subprocess
    import sys

    text = (ROOT / "datasets" / "README.md").read_text()
    code = text.split("## penguins-messy.csv")[1].split("```python\n")[1].split("```")[0]
    (tmp_path / "make.py").write_text(code)
    subprocess.run([sys.executable, "make.py"], cwd=tmp_path, check=True)
    assert (tmp_path / "penguins-messy.csv").read_bytes() == MESSY.read_bytes()


def test_the_shipped_messy_config_learns_the_species(cli, configs):
    r = cli.train(configs / "penguins-messy.yaml", "--no-plots", "--json")
    assert r.exit_code == 0, r.output
    assert r.stderr == "warning: data.target: left out 2 rows whose target (species) is " \
                       "missing\n"
    assert json.loads(r.stdout.splitlines()[-1])["validation"]["accuracy"] > 0.95


def test_the_resolved_config_retrains_the_same_weights(tmp_path, median_run):
    with pytest.warns(NncliWarning, match="left out 2 rows"):
        again = train_from_config(median_run.run_dir / "config.yaml", [], tmp_path / "again")
    a, b = weights(median_run.run_dir), weights(again.run_dir)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert read_json(again.run_dir / "model.json") == read_json(median_run.run_dir /
                                                                "model.json")
