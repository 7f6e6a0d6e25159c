"""Pydantic models of the config's ``data:`` section, one per source, chosen by ``source``.

Counts are strict integers (``1.5``, ``"3"`` and ``true`` are refused); real-valued fields take
ints or floats but not strings, booleans or non-finite values. ``None`` in ``validation``,
``scale``, ``scale_target`` and ``task`` means "resolve from the data" (done by the caller after
loading).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from . import features

Count = Annotated[int, Field(strict=True, ge=1)]
Count0 = Annotated[int, Field(strict=True, ge=0)]
Real = Annotated[float, Field(strict=True, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
Column = Union[StrictStr, StrictInt]
Label = Union[StrictInt, Real, StrictStr]
LabelRow = Annotated[list[Label], Field(min_length=1)]


class _Common(BaseModel):
    """Fields every source accepts."""

    model_config = ConfigDict(extra="forbid")

    validation: Annotated[float, Field(strict=True, ge=0, lt=1)] | None = None
    scale: Literal["standard", "minmax", "none"] | None = None
    task: Literal["classification", "regression"] | None = None
    # Regression targets: the network trains on scaled targets, predictions come back in the
    # data's units. Default standard (none for inline); always none for classification.
    scale_target: Literal["standard", "minmax", "none"] | None = None


class BlobsData(_Common):
    """Gaussian blobs (sklearn ``make_blobs``); classification."""

    source: Literal["blobs"]
    n_samples: Count = 300
    n_features: Count = 2
    centers: Count = 3
    cluster_std: NonNeg = 1.0


class MoonsData(_Common):
    """Two interleaving half circles (sklearn ``make_moons``); classification."""

    source: Literal["moons"]
    n_samples: Count = 300
    noise: NonNeg = 0.1


class CirclesData(_Common):
    """A small circle inside a large one (sklearn ``make_circles``); classification."""

    source: Literal["circles"]
    n_samples: Count = 300
    noise: NonNeg = 0.05
    factor: Annotated[float, Field(strict=True, ge=0, lt=1)] = 0.5


class ClassificationData(_Common):
    """Random n-class problem (sklearn ``make_classification``); classification."""

    source: Literal["classification"]
    n_samples: Count = 300
    n_features: Count = 20
    n_informative: Count = 2
    n_redundant: Count0 = 2
    n_classes: Annotated[int, Field(strict=True, ge=2)] = 2
    n_clusters_per_class: Count = 2
    class_sep: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)] = 1.0
    flip_y: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.01

    @model_validator(mode="after")
    def _fits(self) -> "ClassificationData":
        if self.n_informative + self.n_redundant > self.n_features:
            raise ValueError(
                f"n_informative + n_redundant ({self.n_informative} + {self.n_redundant}) "
                f"must be <= n_features ({self.n_features})"
            )
        if self.n_classes * self.n_clusters_per_class > 2**self.n_informative:
            raise ValueError(
                f"n_classes * n_clusters_per_class "
                f"({self.n_classes} * {self.n_clusters_per_class}) "
                f"must be <= 2**n_informative ({2**self.n_informative})"
            )
        return self


class RegressionData(_Common):
    """Random linear regression problem (sklearn ``make_regression``); regression."""

    source: Literal["regression"]
    n_samples: Count = 300
    n_features: Count = 10
    n_informative: Count0 = 10
    n_targets: Count = 1
    noise: NonNeg = 0.0
    bias: Real = 0.0


class Friedman1Data(_Common):
    """Friedman #1 benchmark (sklearn ``make_friedman1``); regression."""

    source: Literal["friedman1"]
    n_samples: Count = 300
    n_features: Annotated[int, Field(strict=True, ge=5)] = 10
    noise: NonNeg = 0.0


class XorData(_Common):
    """XOR: the four truth-table rows (n_samples 0) or noisy draws from the corners."""

    source: Literal["xor"]
    n_samples: Count0 = 0
    noise: NonNeg = 0.0


class IrisData(_Common):
    """scikit-learn's bundled iris (150 rows, 4 features, 3 classes)."""

    source: Literal["iris"]


class DigitsData(_Common):
    """scikit-learn's bundled 8x8 digits (1797 rows, 64 features, 10 classes)."""

    source: Literal["digits"]


class WineData(_Common):
    """scikit-learn's bundled wine (178 rows, 13 features, 3 classes)."""

    source: Literal["wine"]


class BreastCancerData(_Common):
    """scikit-learn's bundled breast cancer (569 rows, 30 features, 2 classes)."""

    source: Literal["breast_cancer"]


class DiabetesData(_Common):
    """scikit-learn's bundled diabetes (442 rows, 10 features); regression."""

    source: Literal["diabetes"]


OneChar = Annotated[str, Field(strict=True, min_length=1, max_length=1)]
NA_VALUES = list(features.NA_VALUES)


class CsvData(_Common):
    """A CSV file; ``path`` is relative to the config file's folder.

    ``target``, ``features``, ``exclude`` and ``categorical`` name columns by header name or by
    0-based index (negative counts from the end). Default target: the last column; default
    features: every other column not in ``exclude``. Cells equal to one of ``na_values`` are
    missing; ``missing`` says what happens to a feature row with a missing cell.
    """

    source: Literal["csv"]
    path: Annotated[str, Field(strict=True, min_length=1)]
    target: Column | Annotated[list[Column], Field(min_length=1)] | None = None
    features: Annotated[list[Column], Field(min_length=1)] | None = None
    exclude: list[Column] = []
    categorical: list[Column] = []
    delimiter: OneChar = ","
    header: StrictBool = True
    na_values: list[StrictStr] = NA_VALUES
    missing: Literal["error", "drop", "mean", "median", "most_frequent"] = "error"
    skip_rows: Count0 = 0
    comment: OneChar | None = None
    quote_char: OneChar | Literal[False] = '"'
    sample_weight: Column | None = None  # a column of per-row weights (> 0), not a feature


class InlineData(_Common):
    """Data written in the config: ``x`` a list of rows, ``y`` a list of rows or scalars."""

    source: Literal["inline"]
    x: Annotated[list[Annotated[list[Real], Field(min_length=1)]], Field(min_length=1)]
    y: Annotated[list[Union[Label, LabelRow]], Field(min_length=1)]


DataConfig = Annotated[
    Union[
        BlobsData,
        MoonsData,
        CirclesData,
        ClassificationData,
        RegressionData,
        Friedman1Data,
        XorData,
        IrisData,
        DigitsData,
        WineData,
        BreastCancerData,
        DiabetesData,
        CsvData,
        InlineData,
    ],
    Field(discriminator="source"),
]

SOURCES: tuple[str, ...] = (
    "blobs",
    "moons",
    "circles",
    "classification",
    "regression",
    "friedman1",
    "xor",
    "iris",
    "digits",
    "wine",
    "breast_cancer",
    "diabetes",
    "csv",
    "inline",
)
