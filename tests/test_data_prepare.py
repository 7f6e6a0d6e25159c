"""Splitting, scaling and target encoding, with the numbers worked out by hand."""

import json

import numpy as np
import pytest

from nncli.data.prepare import Scaler, decode_outputs, encode_targets, split_indices, target_matrix
from nncli.data.sources import Dataset
from nncli.errors import InputError


def rng(seed=0):
    return np.random.default_rng(seed)


# --- split ---------------------------------------------------------------------------------

def test_fraction_zero_keeps_everything_for_training():
    train, val = split_indices(np.array([0, 1, 0, 1]), "classification", 0.0, rng())
    assert train.tolist() == [0, 1, 2, 3] and val.size == 0


def test_stratified_counts_are_exact():
    # a: 10 rows, b: 6, c: 4; 25% -> a: 2.5 -> 3 (half up), b: 1.5 -> 2, c: 1.0 -> 1
    y = np.array(["a"] * 10 + ["b"] * 6 + ["c"] * 4)
    y = y[rng(5).permutation(len(y))]
    train, val = split_indices(y, "classification", 0.25, rng())
    assert [int((y[val] == c).sum()) for c in "abc"] == [3, 2, 1]
    assert len(train) == 14 and len(val) == 6
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)  # sorted ascending
    assert sorted(train.tolist() + val.tolist()) == list(range(20))


def test_each_class_keeps_a_training_row():
    # b has one row: round(0.5 * 1) = 1, clamped to 0 so that b stays in training
    y = np.array([0, 0, 0, 0, 1])
    train, val = split_indices(y, "classification", 0.5, rng())
    assert 4 in train.tolist() and (y[val] == 0).sum() == 2


def test_tiny_fraction_still_takes_one_row_from_the_largest_class():
    # 0.1 * 3 = 0.3 -> 0 and 0.1 * 2 -> 0: nothing, so one row of the largest class (0) goes
    y = np.array([1, 0, 1, 0, 0])
    train, val = split_indices(y, "classification", 0.1, rng())
    assert len(val) == 1 and y[val[0]] == 0


def test_one_row_per_class_cannot_give_validation_rows():
    with pytest.raises(InputError, match=r"data.validation"):
        split_indices(np.array([0, 1]), "classification", 0.2, rng())


def test_regression_split_counts_and_errors():
    y = np.zeros((10, 1))
    train, val = split_indices(y, "regression", 0.25, rng())
    assert len(val) == 3 and len(train) == 7  # 2.5 -> 3
    with pytest.raises(InputError, match=r"leaves no rows for training"):
        split_indices(np.zeros((2, 1)), "regression", 0.9, rng())


def test_split_is_driven_by_the_generator():
    y = np.repeat([0, 1, 2], 20)
    a = split_indices(y, "classification", 0.2, rng(1))[1]
    b = split_indices(y, "classification", 0.2, rng(1))[1]
    c = split_indices(y, "classification", 0.2, rng(2))[1]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# --- scaler --------------------------------------------------------------------------------

X_TRAIN = np.array([[1.0, 10.0], [3.0, 10.0]])
X_OTHER = np.array([[5.0, 12.0]])


def test_standard_scaler_numbers():
    # mean (2, 10), std (1, 0 -> 1): (5 - 2) / 1 = 3, (12 - 10) / 1 = 2
    s = Scaler.fit(X_TRAIN, "standard")
    assert s.offset.tolist() == [2.0, 10.0] and s.scale.tolist() == [1.0, 1.0]
    assert s.transform(X_OTHER).tolist() == [[3.0, 2.0]]
    assert s.transform(X_TRAIN).tolist() == [[-1.0, 0.0], [1.0, 0.0]]


def test_minmax_scaler_numbers():
    # min (1, 10), range (2, 0 -> 1): (5 - 1) / 2 = 2, (12 - 10) / 1 = 2
    s = Scaler().fit(X_TRAIN, "minmax")
    assert s.transform(X_OTHER).tolist() == [[2.0, 2.0]]
    assert s.transform(X_TRAIN).tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_none_scaler_is_identity_and_casts():
    s = Scaler.fit(X_TRAIN, "none")
    out = s.transform(X_OTHER, np.float32)
    assert out.dtype == np.float32 and out.tolist() == [[5.0, 12.0]]


def test_scaler_is_fitted_on_the_training_rows_only():
    X = np.array([[0.0], [2.0], [4.0], [100.0]])
    train, val = np.array([0, 1, 2]), np.array([3])
    s = Scaler.fit(X[train], "standard")
    assert s.offset.tolist() == [2.0]  # the mean of 0, 2, 4, not of all four rows
    assert np.isclose(s.scale[0], np.sqrt(8 / 3))
    assert np.isclose(s.transform(X[val])[0, 0], 98 / np.sqrt(8 / 3))


def test_scaler_round_trips_through_json():
    from nncli.runs.model_file import ScalerFile

    s = Scaler.fit(np.array([[1.0, 5.0], [2.0, 9.0], [4.0, 1.0]]), "standard")
    back = ScalerFile.model_validate(json.loads(json.dumps(s.to_dict()))).scaler()
    assert back.kind == "standard"
    assert np.array_equal(back.transform(X_OTHER), s.transform(X_OTHER))


def test_scaler_errors():
    s = Scaler.fit(X_TRAIN, "none")
    with pytest.raises(InputError, match=r"expected 2 feature columns, got 3"):
        s.transform(np.zeros((1, 3)))
    assert np.isinf(s.transform(np.array([[1e39, 0.0]]), np.float32)[0, 0])  # caller checks
    with pytest.raises(InputError, match=r"data.scale"):
        Scaler.fit(X_TRAIN, "robust")
    with pytest.raises(InputError, match=r"data.scale_target: expected standard"):
        Scaler.fit(X_TRAIN, "robust", what="data.scale_target")


def test_scaler_leaves_one_hot_columns_alone():
    X = np.array([[1.0, 0.0, 10.0], [3.0, 1.0, 30.0], [5.0, 1.0, 20.0]])
    s = Scaler.fit(X, "standard", numeric=np.array([True, False, True]))
    assert s.offset.tolist() == [3.0, 0.0, 20.0]
    assert s.scale[1] == 1.0 and np.isclose(s.scale[0], np.sqrt(8 / 3))
    assert s.transform(X)[:, 1].tolist() == [0.0, 1.0, 1.0]


# --- targets -------------------------------------------------------------------------------

def test_one_hot_in_sorted_class_order():
    Y = encode_targets(np.array(["dog", "cat", "bird"], dtype=object), ["bird", "cat", "dog"], 3)
    assert Y.tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0]]


def test_binary_single_column_positive_is_the_larger_label():
    assert encode_targets(np.array([7, 3, 7]), [3, 7], 1).tolist() == [[1], [0], [1]]
    Y = encode_targets(np.array(["yes", "no"], dtype=object), ["no", "yes"], 1, np.float32)
    assert Y.dtype == np.float32 and Y.tolist() == [[1], [0]]
    assert encode_targets(np.array([3, 7]), [3, 7], 2).tolist() == [[1, 0], [0, 1]]


def test_wrong_number_of_output_units():
    with pytest.raises(InputError, match=r"must have 1 unit \(binary, sigmoid\) or 2 units"):
        encode_targets(np.array([0, 1]), [0, 1], 3)
    with pytest.raises(InputError, match=r"3 classes, so it must have 3 units"):
        encode_targets(np.array([0, 1, 2]), [0, 1, 2], 1)


def test_unknown_label():
    with pytest.raises(InputError, match=r"label 'cow' is not one of the classes"):
        encode_targets(np.array(["cow"], dtype=object), ["cat", "dog"], 2)


def test_decode_round_trips_labels():
    labels = np.array(["b", "a", "c", "a"], dtype=object)
    classes = ["a", "b", "c"]
    back = decode_outputs(encode_targets(labels, classes, 3), classes)
    assert back.tolist() == labels.tolist()
    ints = np.array([3, 7, 7])
    assert decode_outputs(encode_targets(ints, [3, 7], 1), [3, 7]).tolist() == [3, 7, 7]


def test_decode_threshold_and_argmax():
    out = decode_outputs(np.array([[0.49], [0.5], [0.9]]), ["no", "yes"])
    assert out.tolist() == ["no", "yes", "yes"]
    out = decode_outputs(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]), [10, 20, 30])
    assert out.dtype == np.int64 and out.tolist() == [20, 10]
    assert all(type(v) is str for v in decode_outputs(np.array([[0.9]]), ["no", "yes"]))
    with pytest.raises(InputError, match=r"2 outputs for 3 classes"):
        decode_outputs(np.zeros((1, 2)), [0, 1, 2])


def test_target_matrix_for_regression_checks_the_width():
    ds = Dataset(np.zeros((2, 1)), np.array([[1.0], [2.0]]), "regression", ["x1"], ["target"], [])
    Y = target_matrix(ds, ds.y[::-1], 1, np.float32)
    assert Y.dtype == np.float32 and Y.tolist() == [[2.0], [1.0]]  # the rows asked for
    with pytest.raises(InputError, match=r"has 2 units, but the data has 1 target column"):
        target_matrix(ds, ds.y, 2)
