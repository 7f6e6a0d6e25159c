"""model.json: what a trained run needs to turn raw rows into predictions, declared once.

The pydantic models below *are* the format: :func:`model_description` writes a run's model.json
through them, :func:`read_model_file` checks a file against them (strictly: ``"16"`` is not a
number and ``true`` is not a count) before any of it is used, and :func:`preprocessing` turns
the checked file into the data layer's :class:`~nncli.data.features.Preprocessing`.

Format versions:

- 1 (nncli before issue 13): numeric features only; ``scaler`` per feature.
- 2: adds ``columns`` (per feature column: numeric or categorical with its sorted categories,
  and the value a missing cell gets), ``input_names`` (the network's inputs: ``island=Biscoe``),
  ``missing`` (the policy), ``target_scaler`` (regression) and ``csv`` (the reader's
  ``na_values``, ``comment``, ``quote_char``). ``scaler`` is per network input, identity on
  one-hot inputs.

A version 1 file reads as version 2 with every feature numeric, nothing filled, no target
scaling and the default CSV dialect, so it predicts exactly what it predicted before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, \
    model_validator

from .. import __version__
from ..data.features import MISSING, NA_VALUES, Encoding, Preprocessing
from ..data.prepare import Scaler
from ..engine.activations import ACTIVATIONS
from ..engine.losses import LOSSES
from ..errors import InputError
from ..files import read_json

FORMAT_VERSION = 2

Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]
OneChar = Annotated[str, Field(min_length=1, max_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LayerFile(_Strict):
    units: Count
    activation: Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
    bias: bool
    alpha: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None


class ScalerFile(_Strict):
    """``(x - offset) / scale`` per column."""

    kind: Literal["standard", "minmax", "none"]
    offset: list[Finite]
    scale: list[Finite]

    @model_validator(mode="after")
    def _check(self):
        if len(self.offset) != len(self.scale):
            raise ValueError("offset and scale must have one value per column each")
        if any(v == 0 for v in self.scale):
            raise ValueError("a scale of 0 would divide by zero")
        return self

    def scaler(self) -> Scaler:
        return Scaler(self.kind, np.asarray(self.offset, dtype=np.float64),
                      np.asarray(self.scale, dtype=np.float64))


class ColumnFile(_Strict):
    """One feature column: how it becomes network inputs."""

    name: StrictStr
    kind: Literal["numeric", "categorical"] = "numeric"
    fill: Union[Finite, StrictStr, None] = None  # the value a missing cell gets; null: none
    categories: Optional[Union[list[StrictStr], list[Finite]]] = None

    @model_validator(mode="after")
    def _check(self):
        if self.kind == "numeric":
            if self.categories is not None:
                raise ValueError("a numeric column has no categories")
            if isinstance(self.fill, str):
                raise ValueError("a numeric column is filled with a number")
            return self
        if not self.categories or len(set(self.categories)) != len(self.categories):
            raise ValueError("a categorical column needs a list of distinct categories")
        if self.fill is not None and self.fill not in self.categories:
            raise ValueError("fill must be one of the categories")
        return self

    def encoding(self) -> Encoding:
        return Encoding(self.name, self.kind, self.fill, self.categories)


class CsvFile(_Strict):
    """How the training file was read: the same cells are missing in predict's input."""

    na_values: list[StrictStr] = list(NA_VALUES)
    comment: OneChar | None = None
    quote_char: OneChar | None = '"'


class ModelFile(_Strict):
    """model.json."""

    format_version: Annotated[int, Field(ge=1, le=FORMAT_VERSION)]
    nncli_version: StrictStr
    name: StrictStr | None = None
    dtype: Literal["float32", "float64"]
    task: Literal["classification", "regression"]
    loss: Literal[tuple(LOSSES)]  # type: ignore[valid-type]
    input: Count
    layers: Annotated[list[LayerFile], Field(min_length=1)]
    feature_names: list[StrictStr]
    target_names: list[StrictStr]
    classes: Union[list[StrictInt], list[StrictStr]]
    scaler: ScalerFile
    # format 2
    input_names: list[StrictStr] | None = None
    columns: list[ColumnFile] | None = None
    missing: Literal[MISSING] = "error"  # type: ignore[valid-type]
    target_scaler: ScalerFile | None = None
    csv: CsvFile = CsvFile()

    @model_validator(mode="after")
    def _consistent(self):
        if self.columns is None:  # format 1: every feature is one numeric input
            self.columns = [ColumnFile(name=name) for name in self.feature_names]
        if [c.name for c in self.columns] != self.feature_names:
            raise ValueError(f"feature_names: expected the names of the columns "
                             f"({', '.join(c.name for c in self.columns)}), got "
                             f"{json.dumps(self.feature_names)[:80]}")
        _distinct(self.feature_names, "feature_names")
        names = [n for c in self.columns for n in c.encoding().input_names]
        if self.input_names is None:
            self.input_names = names
        if len(self.input_names) != self.input:
            raise ValueError(f"the {len(self.input_names)} inputs of input_names (from columns) "
                             f"do not match input ({self.input})")
        if len(self.scaler.offset) != self.input:
            raise ValueError(f"scaler: expected one offset and scale per input ({self.input})")
        outputs = self.layers[-1].units
        if self.task == "classification":
            if len(self.target_names) != 1:
                raise ValueError("target_names: a classification run has one target")
            k = len(self.classes)
            if k < 2 or len(set(self.classes)) != k:
                raise ValueError("classes: expected at least 2 distinct labels")
            if not (outputs == k or (outputs == 1 and k == 2)):
                raise ValueError(f"classes: {k} classes do not fit an output layer of "
                                 f"{outputs} units")
        else:
            if self.classes:
                raise ValueError("classes: a regression run has none")
            if len(self.target_names) != outputs:
                raise ValueError(f"target_names: expected one per output ({outputs})")
            _distinct(self.target_names, "target_names")
            if self.target_scaler is not None and len(self.target_scaler.offset) != outputs:
                raise ValueError(f"target_scaler: expected one offset and scale per output "
                                 f"({outputs})")
        return self

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """weights.npz member -> shape, in order W1, b1, W2, ..."""
        shapes: dict[str, tuple[int, ...]] = {}
        fan_in = self.input
        for i, layer in enumerate(self.layers, start=1):
            shapes[f"W{i}"] = (fan_in, layer.units)
            if layer.bias:
                shapes[f"b{i}"] = (layer.units,)
            fan_in = layer.units
        return shapes

    def preprocessing(self) -> Preprocessing:
        outputs = self.layers[-1].units
        target = (self.target_scaler.scaler() if self.target_scaler is not None
                  else Scaler("none", np.zeros(outputs), np.ones(outputs)))
        return Preprocessing([c.encoding() for c in self.columns], self.scaler.scaler(),
                             target, self.missing)

    def dialect(self, delimiter: str = ","):
        """The reader of predict's and evaluate's input: the training file's missing cells,
        comment and quote characters, and the given delimiter."""
        from ..data.csvfile import Dialect  # pyarrow: only when a CSV file is read

        return Dialect(delimiter=delimiter, na_values=tuple(self.csv.na_values),
                       comment=self.csv.comment, quote_char=self.csv.quote_char)


def _distinct(names: list[str], key: str) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"{key}: names must be distinct")


# --- writing -----------------------------------------------------------------------------

def model_description(experiment) -> dict:
    """model.json of a prepared experiment (nncli.training.experiment.Experiment)."""
    cfg, ds, prep = experiment.config, experiment.dataset, experiment.preprocessing
    data = cfg.data
    csv = {}
    if data.source == "csv":
        csv = {"csv": {"na_values": list(data.na_values), "comment": data.comment,
                       "quote_char": data.quote_char or None}}
    target = {}
    if ds.task == "regression":
        target = {"target_scaler": prep.target_scaler.to_dict()}
    model = ModelFile.model_validate({
        "format_version": FORMAT_VERSION,
        "nncli_version": __version__,
        "name": cfg.name,
        "dtype": cfg.dtype,
        "task": ds.task,
        "loss": cfg.training.loss,
        "input": cfg.network.input,
        "layers": [{"units": l.units, "activation": l.activation, "bias": l.bias,
                    **({"alpha": l.alpha} if l.alpha is not None else {})}
                   for l in cfg.network.layers],
        "feature_names": list(ds.feature_names),
        "input_names": prep.input_names,
        "columns": [{"name": e.name, "kind": e.kind, "fill": _plain(e.fill),
                     "categories": None if e.categories is None
                     else [_plain(c) for c in e.categories]} for e in prep.columns],
        "missing": prep.missing,
        "target_names": list(ds.target_names),
        "classes": [_plain(c) for c in ds.classes],
        "scaler": prep.scaler.to_dict(),
        **target,
        **csv,
    })
    return model.model_dump(mode="json", exclude_none=True)


def _plain(value):
    """numpy scalars to the Python values JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


# --- reading -----------------------------------------------------------------------------

def read_model_file(file: Path, raw: dict | None = None) -> ModelFile:
    """model.json, checked against :class:`ModelFile`; any problem is an InputError.
    ``raw``, if given, receives the JSON object as it was read."""
    data = read_json(file, "model description", in_run="not a finished nncli run")
    model = check_model_file(data, file)
    if raw is not None:
        raw.update(data)
    return model


def check_model_file(raw, file: Path) -> ModelFile:
    if not isinstance(raw, dict):
        raise InputError(f"{file}: expected a JSON object")
    version = raw.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise InputError(f"{file}: written in run format {version} by a newer nncli "
                         f"(nncli {raw.get('nncli_version', '?')}); this nncli reads format "
                         f"{FORMAT_VERSION} and older: upgrade nncli to use this run")
    try:
        return ModelFile.model_validate(raw)
    except ValidationError as e:
        raise InputError(f"{file}: {describe(e)}") from None
    except RecursionError:
        raise InputError(f"{file}: not a model description (nested too deeply)") from None


def describe(e: ValidationError) -> str:
    """'layers[0].units: Input should be ... (got "16")' from a pydantic error."""
    err = e.errors()[0]
    path = ""
    for part in err["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" not in part and part not in ("str", "int", "float", "bool"):
            path += ("." if path else "") + part  # (union branches name their type: skipped)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"missing key {path!r}"
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown key"
    if err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        msg = "expected an object"
    got = err.get("input")
    shown = ""
    if not err["type"].startswith("value_error") and not isinstance(got, dict):
        shown = f" (got {json.dumps(got)[:80]})"
    return f"{path}: {msg}{shown}" if path else f"{msg}{shown}"
