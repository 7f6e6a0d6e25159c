"""The experiment config: YAML in, one validated, typed object out.

Everything a config can say is declared here (and in ``data/schema.py`` for the data section);
the rest of nncli only sees these objects, never raw dicts. Validation is complete before any
work starts: unknown keys, wrong types, out-of-range values and contradictions between keys all
become one :class:`InputError` naming the key path (``training.learning_rate``) and what was
expected. Defaults that depend on the data (validation fraction, input size, task) are filled
later by ``experiment.prepare``.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_serializer,
                      field_validator, model_validator)

from .data.schema import DataConfig
from .engine.activations import ACTIVATIONS
from .engine.init import INITS
from .engine.losses import LOSSES, default_loss, loss_pairing_error
from .engine.optim import MOMENTUM_FORMS, UPDATES
from .errors import InputError
from .files import read_text

ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
InitName = Literal[tuple(INITS)]  # type: ignore[valid-type]
LossName = Literal[tuple(LOSSES)]  # type: ignore[valid-type]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, lt=1)]  # momentum, beta1, beta2, rho, dropout
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Patience = Annotated[int, Field(ge=1)]
# A run name is a plain file name: no "/", never "." or "..", so a run stays inside --out.
RUN_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"


class Strict(BaseModel):
    # strict: "5" is not an int and "yes" is not a bool; forbid: a typo is never ignored.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class LayerConfig(Strict):
    """One dense layer: z = a_prev @ W + b, a = activation(z)."""

    units: Annotated[int, Field(ge=1)]
    activation: ActivationName
    bias: bool | None = None
    init: InitName | None = None
    alpha: Annotated[float, Field(ge=0, lt=1)] | None = None
    weights: list[list[Finite]] | None = None
    biases: list[Finite] | None = None
    freeze: list[Literal["weights", "biases"]] = []
    dropout: Fraction | None = None  # inverted dropout on this hidden layer's output

    @model_validator(mode="after")
    def _check(self):
        if self.alpha is not None and "alpha" not in ACTIVATIONS[self.activation].params:
            with_alpha = [a for a, cls in ACTIVATIONS.items() if "alpha" in cls.params]
            raise ValueError(f"alpha applies to {', '.join(with_alpha)} layers only")
        if self.activation == "softmax" and self.units < 2:
            raise ValueError("softmax needs at least 2 units (use sigmoid for one output)")
        if self.weights is not None:
            widths = {len(row) for row in self.weights}
            if not self.weights or widths != {self.units}:
                raise ValueError(
                    f"weights must have shape (fan_in, {self.units}): every row needs "
                    f"{self.units} values (units)")
        if self.biases is not None and len(self.biases) != self.units:
            raise ValueError(f"biases must have {self.units} values (units), got {len(self.biases)}")
        return self


class NetworkConfig(Strict):
    """The layers, hidden ones first and the output layer last."""

    input: Annotated[int, Field(ge=1)] | None = None
    bias: bool = True
    init: InitName | None = None
    layers: Annotated[list[LayerConfig], Field(min_length=1)]

    @model_validator(mode="after")
    def _check(self):
        for i, layer in enumerate(self.layers):
            where = f"layers[{i}] (layer {i + 1})"
            if layer.activation == "step" and i != len(self.layers) - 1:
                raise ValueError(f"{where}: step is allowed only on the output layer")
            if layer.dropout and i == len(self.layers) - 1:
                raise ValueError(f"{where}.dropout: dropout applies to hidden layers only, "
                                 f"not to the output layer")
            has_bias = self.bias if layer.bias is None else layer.bias
            if not has_bias and layer.biases is not None:
                raise ValueError(f"{where}: biases given for a layer without bias")
            if not has_bias and "biases" in layer.freeze:
                raise ValueError(f"{where}: cannot freeze biases of a layer without bias")
            if i > 0 and layer.weights is not None:
                fan_in = self.layers[i - 1].units
                if len(layer.weights) != fan_in:
                    raise ValueError(
                        f"{where}: weights must have shape ({fan_in}, {layer.units}), "
                        f"got {len(layer.weights)} rows")
        return self


class ConstantSchedule(Strict):
    """lr_e = lr (written ``schedule: constant``)"""

    kind: Literal["constant"]


class StepSchedule(Strict):
    """lr_e = lr * factor^floor((e-1)/every)"""

    kind: Literal["step"]
    every: Patience = 10
    factor: Annotated[float, Field(gt=0, le=1)] = 0.5


class ExponentialSchedule(Strict):
    """lr_e = lr * factor^(e-1)"""

    kind: Literal["exponential"]
    factor: Annotated[float, Field(gt=0, le=1)] = 0.95


class PlateauSchedule(Strict):
    """Keras' ReduceLROnPlateau: the rate times ``factor`` after ``patience`` epochs without
    an improvement of the monitored value by more than ``min_delta``, never below ``min_lr``,
    then ``cooldown`` epochs before counting again."""

    kind: Literal["plateau"]
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.1
    patience: Patience = 10
    min_lr: NonNegative = 0.0
    monitor: str | None = None  # default: val_loss, or loss without a validation split
    min_delta: NonNegative = 1e-4
    cooldown: Annotated[int, Field(ge=0)] = 0


Schedule = Annotated[Union[ConstantSchedule, StepSchedule, ExponentialSchedule, PlateauSchedule],
                     Field(discriminator="kind")]
SCHEDULE_KINDS = ("constant", "step", "exponential", "plateau")


class EarlyStoppingConfig(Strict):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (Keras' EarlyStopping); ``restore_best`` keeps the best epoch's weights."""

    monitor: str | None = None  # default: val_loss, or loss without a validation split
    patience: Patience = 10
    min_delta: NonNegative = 0.0
    restore_best: bool = True


ClassLabel = Union[Annotated[int, Field(strict=True)], str]


class TrainingConfig(Strict):
    """How to train: loss, batching, learning rate, epochs, update rule and its settings,
    penalties, schedule, early stopping, class weights."""

    loss: LossName | None = None
    batch: Literal["full", "sgd", "minibatch"] = "minibatch"
    batch_size: Annotated[int, Field(ge=1)] = 32
    learning_rate: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.01
    epochs: Annotated[int, Field(ge=1)] = 100
    shuffle: bool = True
    update: Literal[UPDATES] = "gradient"  # type: ignore[valid-type]
    # The update rules' settings: None = the rule's default (engine/optim.py), filled in by
    # experiment.resolve for the rule in use only.
    momentum: Fraction | None = None
    momentum_form: Literal[MOMENTUM_FORMS] | None = None  # type: ignore[valid-type]
    beta1: Fraction | None = None
    beta2: Fraction | None = None
    rho: Fraction | None = None
    epsilon: Positive | None = None
    l2: NonNegative = 0.0
    l1: NonNegative = 0.0
    schedule: Schedule = ConstantSchedule(kind="constant")
    early_stopping: EarlyStoppingConfig | None = None
    class_weight: Literal["balanced"] | dict[ClassLabel, Positive] | None = None
    checkpoint_every: Annotated[int, Field(ge=0)] = 0  # epochs between checkpoints; 0 = none
    layer_stats: bool = True  # layers.csv: per-layer statistics of every epoch

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_name(cls, value):
        """``constant`` is written as a plain name; the other kinds are mappings."""
        if isinstance(value, str):
            if value != "constant":
                raise ValueError(f"expected constant, or a mapping with kind: "
                                 f"{', '.join(SCHEDULE_KINDS[1:])} (got {value!r})")
            return {"kind": "constant"}
        return value

    @field_serializer("schedule")
    def _schedule_out(self, schedule, info):
        return "constant" if schedule.kind == "constant" else schedule.model_dump(mode=info.mode)

    @field_validator("momentum_form")
    @classmethod
    def _nesterov_form(cls, form, info):
        if form == "hagan" and info.data.get("update") == "nesterov":
            raise ValueError("hagan has no Nesterov form; use classic or pytorch with update "
                             "nesterov (or update momentum)")
        return form

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_weights(cls, value):
        """One clear message for each way a class_weight can be wrong (a union's errors
        would name every branch)."""
        if value is None or value == "balanced":
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected balanced, or a mapping of class label to weight "
                             f"(got {value!r})")
        for label, weight in value.items():
            if isinstance(label, bool) or not isinstance(label, (int, str)):
                raise ValueError(f"class labels are integers or text (got {label!r})")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                    not math.isfinite(weight) or weight <= 0:
                raise ValueError(f"the weight of class {label!r} must be a number > 0 "
                                 f"(got {weight!r})")
        return value


class Config(Strict):
    """One experiment."""

    name: Annotated[str, Field(pattern=f"^{RUN_NAME}$", max_length=100)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    dtype: Literal["float64", "float32"] = "float64"
    data: DataConfig
    network: NetworkConfig
    training: TrainingConfig = TrainingConfig()

    @model_validator(mode="after")
    def _check(self):
        problem = loss_pairing_error(self.loss_name, self.output_activation)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def output_activation(self) -> str:
        return self.network.layers[-1].activation

    @property
    def loss_name(self) -> str:
        return self.training.loss or default_loss(self.output_activation)



def json_schema() -> dict:
    """The JSON Schema of a config file, for editors (``nncli schema``)."""
    schema = Config.model_json_schema()
    # training.schedule is written `constant`, or as a mapping with its kind (the validator
    # turns the name into the mapping; the schema says what a config file may hold)
    properties = schema["$defs"]["TrainingConfig"]["properties"]
    mapping = {k: v for k, v in properties["schedule"].items() if k != "default"}
    properties["schedule"] = {"anyOf": [{"const": "constant"}, mapping], "default": "constant",
                              "title": "Schedule"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nncli config"
    return schema


# ---------------------------------------------------------------------------------------------
# Loading


# A config is written by hand: PyYAML reads about 20,000 values a second (10 million inline
# weights would take minutes and gigabytes before anything could check them), so a config
# holds at most this many values, and a file larger than this is not read at all.
MAX_CONFIG_VALUES = 50_000
MAX_CONFIG_BYTES = 2_000_000


class _TooManyValues(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader (no object-constructing tags) that refuses duplicate keys and stops reading
    after MAX_CONFIG_VALUES values."""

    def __init__(self, stream):
        super().__init__(stream)
        self.values = 0

    def compose_node(self, parent, index):
        self.values += 1
        if self.values > MAX_CONFIG_VALUES:
            raise _TooManyValues
        return super().compose_node(parent, index)


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # `? [1, 2] : 3`: no config key
            raise yaml.MarkedYAMLError(problem="a key must be a plain name, not a list or "
                                       "mapping", problem_mark=key_node.start_mark)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r}", problem_mark=mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


class _FastUniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The same rules on libyaml's parser (ten times faster, no count of values: the file's
    size bounds it): for the config.yaml of every run that `nncli runs` lists."""


for _loader in (_UniqueKeyLoader, _FastUniqueKeyLoader):
    _loader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)
    # YAML 1.1 reads 1e-3 as a string; read it as the float everyone means (as YAML 1.2 does).
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"))


Positions = dict  # key path (tuple of keys and list indexes) -> (line, column), 1-based


def parse_yaml(text: str, where: str, fast: bool = False) -> Any:
    return parse_yaml_with_positions(text, where, fast)[0]


def parse_yaml_with_positions(text: str, where: str, fast: bool = False
                              ) -> tuple[Any, Positions]:
    """The YAML document, and where each key (or list item) of it is written. ``fast``: read
    with libyaml (for files nncli wrote; its messages may be worded differently)."""
    loader = None
    try:
        # its reader refuses control characters at once
        loader = (_FastUniqueKeyLoader if fast else _UniqueKeyLoader)(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        return loader.construct_document(node), _positions(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(f"{where}: invalid YAML{at}: {e.problem}") from None
    except yaml.YAMLError as e:  # e.g. a control character; one line, like every error
        raise InputError(f"{where}: invalid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:  # PyYAML recurses once per level: [[[[...]]]]
        raise InputError(f"{where}: invalid YAML: nested too deeply") from None
    except _TooManyValues:
        raise InputError(f"{where}: too large: more than {MAX_CONFIG_VALUES} values (a config "
                         f"holds at most that many; put large data in a CSV file)") from None
    finally:
        if loader is not None:
            loader.dispose()


def _positions(root) -> Positions:
    """(line, column) of every mapping key and list item below ``root``, by key path; keys
    that are not plain scalars (``? [1, 2]``) are left out. Iterative: depth costs no stack.
    A node reached again through an alias is not walked again: a self-referencing alias
    (``&a [*a]``) would never end, and an alias bomb would take exponential time."""
    found: Positions = {}
    stack = [((), root)]
    walked = set()
    while stack:
        path, node = stack.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = path + (key_node.value,)
                    found[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    stack.append((child, value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                found[path + (i,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((path + (i,), item))
    return found


def apply_override(raw: dict, assignment: str) -> tuple:
    """Apply one ``--set dotted.key=value`` (value parsed as YAML) to the raw config dict;
    returns the key path it set."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set {assignment!r}: expected KEY=VALUE, e.g. training.learning_rate=0.05")
    return set_value(raw, key, parse_yaml(text, f"--set {key}"), f"--set {key}")


def set_value(raw: dict, key: str, value: Any, where: str) -> tuple:
    """Put ``value`` (as parsed, not validated) at the dotted ``key`` of the raw config dict;
    ``where`` names the option in messages. Returns the key path it set."""
    parts = key.strip().split(".")
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        path = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(f"{where}: {path} is not an index of the list "
                                 f"(0..{len(node) - 1})")
            part = int(part)
        elif not isinstance(node, dict):
            raise InputError(f"{where}: {'.'.join(parts[:depth])} is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and node.get(part) is None:
                node[part] = {}
            node = node[part]
    return tuple(int(p) if p.isdigit() else p for p in parts)


def load_config(path: str | Path, overrides: list[str] = (), fast: bool = False) -> Config:
    """The validated config of a YAML file with ``--set`` overrides; every problem (up to
    MAX_PROBLEMS) is reported at once, each with the line and column where it is written."""
    raw, positions, overridden = load_raw(path, overrides, fast)
    return validate_config(raw, str(path), positions, overridden)


def load_raw(path: str | Path, overrides: list[str] = (), fast: bool = False
             ) -> tuple[dict, Positions, dict]:
    """The config file's mapping with the ``--set`` overrides applied, not validated yet; with
    where each key is written, and the key paths --set gave (for :func:`validate_config`)."""
    path = Path(path)
    with contextlib.suppress(OSError):  # a missing file is read_text's to report
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise InputError(f"{path}: too large: {path.stat().st_size} bytes; a config file "
                             f"holds at most {MAX_CONFIG_BYTES} (put large data in a CSV file)")
    text = read_text(path, "config file")
    if "\0" in text:
        raise InputError(f"{path}: not a text config file (it holds NUL bytes)")
    raw, positions = parse_yaml_with_positions(text, str(path), fast)
    if raw is None:  # nothing but blanks and comments
        raise InputError(f"{path}: the config file is empty; it needs at least data: and "
                         f"network: (see configs/ for examples)")
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the config must be a mapping of keys (name, data, network, ...)")
    overridden = {}
    for assignment in overrides:
        overridden[apply_override(raw, assignment)] = assignment
    return raw, positions, overridden


MAX_PROBLEMS = 20  # config errors reported at once


def validate_config(raw: dict, where: str, positions: Positions | None = None,
                    overridden: dict | None = None) -> Config:
    """``raw`` as a validated :class:`Config`, or an InputError with every problem found.

    ``where`` names the file; with ``positions`` (from :func:`parse_yaml_with_positions`) each
    problem says ``file:line:column``; a problem in a key set by ``--set`` (``overridden``: key
    path -> the assignment) names that option.
    """
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        errors = _explained(e.errors())
        problems = [_locate(err, where, positions or {}, overridden or {})
                    for err in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            problems.append(f"{where}: ... and {len(errors) - MAX_PROBLEMS} more problems")
        raise InputError(*problems) from None


def _explained(errors: list[dict]) -> list[dict]:
    """The errors worth reporting: a misspelt key is also a missing one, so a missing key that
    an unknown key beside it resembles is explained by the typo and left out."""
    typos = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            typos.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))
    kept = []
    for err in errors:
        if err["type"] == "missing":
            loc = tuple(err["loc"])
            near = typos.get(loc[:-1], [])
            if difflib.get_close_matches(str(loc[-1]), near, n=1):
                continue
        kept.append(err)
    # unknown keys first: they are the likeliest cause of the rest
    return sorted(kept, key=lambda err: err["type"] != "extra_forbidden")


def _locate(err: dict, where: str, positions: Positions, overridden: dict) -> str:
    """One problem as a message: where it is written, then what is wrong."""
    text = describe_error(err)
    path = tuple(user_path(err))
    for key, assignment in overridden.items():
        if path[:len(key)] == key:
            return f"{where}: {text} (from --set {assignment})"
    for n in range(len(path), 0, -1):
        if path[:n] in positions:
            line, column = positions[path[:n]]
            return f"{where}:{line}:{column}: {text}"
    return f"{where}: {text}"


# ---------------------------------------------------------------------------------------------
# Error messages


def model_path(err: dict) -> list:
    """The error's location through the models: unions' branch names (data.target.str,
    .list[...]) are left out, not being keys the user wrote; for an unknown key the last
    element is the user's own key, whatever it is called."""
    keep = err["loc"][-1:] if err["type"] == "extra_forbidden" else ()
    loc = [p for p in err["loc"][:len(err["loc"]) - len(keep)]
           if not (isinstance(p, str) and (p in ("str", "int", "float", "bool") or "[" in p))]
    return loc + list(keep)


def user_path(err: dict) -> list:
    """The error's location as the user wrote it: keys and list indexes."""
    loc = model_path(err)
    # A discriminated union puts the chosen source name into the path: data.blobs.centers
    # (and the schedule's kind: training.schedule.step.every).
    if len(loc) >= 2 and loc[0] == "data" and isinstance(loc[1], str) and _is_source(loc[1]):
        loc.pop(1)
    if len(loc) >= 3 and loc[:2] == ["training", "schedule"] and loc[2] in SCHEDULE_KINDS:
        loc.pop(2)
    return loc


def describe_error(err: dict) -> str:
    """'network.layers[0] (layer 1).units: Input should be ... (got 0)' from a pydantic error."""
    loc, models = user_path(err), model_path(err)
    path = _format_path(loc)
    kind = err["type"]
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(models[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        text = f"{path}: unknown key"
        if hint:
            text += f" (did you mean {hint[0]}?)"
        return text + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = err["ctx"]["discriminator"].strip("'")  # source, or a schedule's kind
        tags = _sources() if tag == "source" else SCHEDULE_KINDS[1:]
        problem = (f"unknown {tag} {err['input'].get(tag)!r}" if kind == "union_tag_invalid"
                   else "required key is missing")
        return f"{path}.{tag}: {problem}; expected one of: {', '.join(tags)}"
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or kind.startswith("value_error") \
        or kind == "assertion_error" else f" (got {got!r})"
    return f"{path}: {msg}{shown}" if path else f"{msg}{shown}"


def _format_path(loc: list) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            if i >= 1 and loc[i - 1] == "layers":
                out += f" (layer {part + 1})"
        else:
            out += ("." if out else "") + _key_name(str(part))
    return out


def _key_name(key: str) -> str:
    """A key as written when it is a plain name, else quoted, so that an odd key (empty, with
    spaces, dots or a newline) is visible and the message stays on one line."""
    return key if re.fullmatch(r"[^\s.\[\]'\"]+", key) else repr(key)


def _sources() -> list[str]:
    from .data.schema import SOURCES
    return list(SOURCES)


def _is_source(name: str) -> bool:
    return name in _sources()


def _allowed_keys(model_loc: list) -> list[str]:
    """The keys of the model found at ``model_loc`` below Config (for 'unknown key' errors)."""
    node: Any = Config
    for part in model_loc:
        node = _unwrap(node)
        if isinstance(part, int):
            args = typing.get_args(node)
            node = args[0] if args else None
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[part].annotation
        elif typing.get_origin(node) is Union:  # a discriminated union: the member tagged so
            node = next((m for m in typing.get_args(node)
                         if isinstance(m, type) and issubclass(m, BaseModel) and
                         any(part in typing.get_args(f.annotation)
                             for f in m.model_fields.values())), None)
        else:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _unwrap(t: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type that holds the fields."""
    while True:
        if typing.get_origin(t) is Annotated:
            t = typing.get_args(t)[0]
            continue
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if typing.get_origin(t) in (Union, types.UnionType) and len(args) == 1:
            t = args[0]
            continue
        return t
