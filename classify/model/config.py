"""Experiment files: TOML -> frozen dataclasses, with a strict schema.

An experiment file says what to train on and how (see ``experiments/default.toml``, which has a
comment on every key). Unknown keys and wrong types are errors that name the key and the file;
``--set section.key=value`` overrides change single values from the command line. Relative paths
in ``[data]`` are relative to the experiment file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from classify.errors import ClassifyError
from classify.model.config_schema import build_dataclass, to_plain

ModelType = Literal["logistic_regression", "linear_svm", "ridge", "sgd"]


@dataclass(frozen=True)
class DataConfig:
    annotations: tuple[str, ...] = ("../labels/seeds.csv",)
    label_set: str = "../labels/themes.toml"
    documents: str = ""
    kinds: tuple[str, ...] = ("body",)
    mix: str = ""  # sources to train on, joined by "+" ("seeds+authored"); "" = every row

    def __post_init__(self) -> None:
        if not self.annotations:
            raise ClassifyError("data.annotations lists no file")

    @property
    def sources(self) -> tuple[str, ...] | None:
        """The sources of the mix, or ``None`` for every row."""
        return tuple(s.strip() for s in self.mix.split("+") if s.strip()) or None


@dataclass(frozen=True)
class WordFeatures:
    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 1
    max_df: float = 1.0
    max_features: int = 0
    sublinear_tf: bool = True
    stop_words: Literal["none", "english"] = "none"

    def __post_init__(self) -> None:
        _check_ngrams(self.ngram_range, "features.word.ngram_range")
        _check_df(self.min_df, self.max_df, "features.word")


@dataclass(frozen=True)
class CharFeatures:
    analyzer: Literal["char", "char_wb"] = "char_wb"
    ngram_range: tuple[int, int] = (2, 5)
    min_df: int = 1
    max_df: float = 1.0
    max_features: int = 0
    sublinear_tf: bool = True

    def __post_init__(self) -> None:
        _check_ngrams(self.ngram_range, "features.char.ngram_range")
        _check_df(self.min_df, self.max_df, "features.char")


@dataclass(frozen=True)
class HashedFeatures:
    """N-grams hashed into a fixed number of columns: no vocabulary to learn or to hold, so
    out-of-core training can stream (``[training] out_of_core``)."""

    analyzer: Literal["word", "char_wb", "char"] = "word"
    ngram_range: tuple[int, int] = (1, 2)
    n_features: int = 2**18

    def __post_init__(self) -> None:
        _check_ngrams(self.ngram_range, "features.hashed.ngram_range")
        if not 2**4 <= self.n_features <= 2**31 - 1:
            raise ClassifyError("features.hashed.n_features must be between 16 and 2**31 - 1")


@dataclass(frozen=True)
class FeaturesConfig:
    """The n-gram families to use: the tables present in ``[features]`` are the ones enabled."""

    word: WordFeatures | None = None
    char: CharFeatures | None = None
    hashed: HashedFeatures | None = None

    def __post_init__(self) -> None:
        if self.word is None and self.char is None and self.hashed is None:
            raise ClassifyError("[features] enables neither `word` nor `char` n-grams")
        if self.hashed is not None and (self.word is not None or self.char is not None):
            raise ClassifyError(
                "[features.hashed] replaces [features.word] and [features.char]",
                hint="keep only [features.hashed] for out-of-core training",
            )


@dataclass(frozen=True)
class ModelConfig:
    type: ModelType = "logistic_regression"
    C: float = 10.0
    alpha: float | None = None  # ridge and sgd; None: the model's own default (1.0, 1e-4)
    class_weight: Literal["balanced", "none"] = "balanced"
    max_iter: int = 2000
    # "sigmoid" (Platt) or "isotonic": map each theme's margins to calibrated probabilities
    calibration: Literal["none", "sigmoid", "isotonic"] = "none"

    def __post_init__(self) -> None:
        if self.C <= 0 or (self.alpha is not None and self.alpha <= 0):
            raise ClassifyError("model.C and model.alpha must be positive")
        if self.max_iter < 1:
            raise ClassifyError("model.max_iter must be at least 1")


@dataclass(frozen=True)
class ThresholdConfig:
    """The per-theme decision policy: how scores become tags (see classify/decision.py)."""

    strategy: Literal["fixed", "f1", "precision"] = "fixed"
    value: float = 0.5
    min_f1: float = 0.2  # "f1": a tuned cut-off must reach this out-of-fold F1, else `value`
    precision: float = 0.8  # "precision": the precision every theme's cut-off must reach ...
    precision_by_theme: dict[str, float] = field(default_factory=dict)  # ... or its own target
    review: float = 0.0  # width of the band below a cut-off whose paragraphs come out as review
    review_by_theme: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.value < 1.0:
            raise ClassifyError("thresholds.value must be between 0 and 1")
        if not 0.0 <= self.min_f1 <= 1.0:
            raise ClassifyError("thresholds.min_f1 must be between 0 and 1")
        targets = [self.precision, *self.precision_by_theme.values()]
        if not all(0.0 < t <= 1.0 for t in targets):
            raise ClassifyError("thresholds.precision targets must be in (0, 1]")
        if not all(0.0 <= w < 1.0 for w in [self.review, *self.review_by_theme.values()]):
            raise ClassifyError("thresholds.review bands must be in [0, 1)")

    def precision_target(self, theme: str) -> float:
        return self.precision_by_theme.get(theme, self.precision)

    def review_band(self, theme: str) -> float:
        return self.review_by_theme.get(theme, self.review)

    def themes_named(self) -> set[str]:
        """Themes the per-theme tables mention (checked against the label set at training)."""
        return set(self.precision_by_theme) | set(self.review_by_theme)


@dataclass(frozen=True)
class CVConfig:
    strategy: Literal["leave_one_document_out", "group_kfold"] = "leave_one_document_out"
    folds: int = 5
    seed: int = 0
    # The source whose documents are held out in turn (rows of other sources always train);
    # "" = the training rows themselves.
    evaluate_on: str = ""
    # The inner folds that tune each outer fold's thresholds: "kfold", a grouped k-fold of the
    # outer training side; "shared" (group_kfold over the training rows only), the other outer
    # folds, whose fits two outer folds share: k(k-1)/2 inner fits instead of k*k, each on
    # (k-2)/k of the rows instead of ((k-1)/k)**2.
    inner: Literal["kfold", "shared"] = "kfold"

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ClassifyError("cv.folds must be at least 2")
        if self.inner == "shared" and (self.strategy != "group_kfold" or self.evaluate_on):
            raise ClassifyError(
                'cv.inner = "shared" shares the outer folds of a group_kfold over the training '
                "rows",
                hint='set cv.strategy = "group_kfold" and no cv.evaluate_on, or cv.inner = "kfold"',
            )


@dataclass(frozen=True)
class TuneConfig:
    """``classify tune``: a grid of candidate settings, chosen by nested grouped CV."""

    metric: Literal["macro_f1", "micro_f1"] = "macro_f1"
    # dotted setting -> the values to try, e.g. {"model.C": [1.0, 10.0]}; the grid is their product
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        empty = [key for key, values in self.grid.items() if not values]
        if empty:
            raise ClassifyError(f"tune.grid: {', '.join(empty)} lists no value to try")


@dataclass(frozen=True)
class TrainingConfig:
    """How the model is fitted: in memory (the default), or out of core, streaming the
    annotation files in chunks of ``chunk_rows`` paragraphs through hashed features and SGD's
    ``partial_fit``, ``epochs`` passes per model (see classify/training/out_of_core.py)."""

    out_of_core: bool = False
    chunk_rows: int = 10_000
    epochs: int = 5

    def __post_init__(self) -> None:
        if self.chunk_rows < 1 or self.epochs < 1:
            raise ClassifyError("training.chunk_rows and training.epochs must be at least 1")


@dataclass(frozen=True)
class TrackingConfig:
    # False: the MLflow run records paragraph ids only, never their text (for sensitive sources)
    log_text: bool = True


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: data, features, model, decision thresholds and cross-validation.

    Example:
        >>> config = ExperimentConfig.from_dict({"name": "demo", "model": {"C": 2.0}})
        >>> config.model.C, config.cv.strategy
        (2.0, 'leave_one_document_out')
    """

    name: str = "default"
    description: str = ""
    mlflow_experiment: str = "classify"
    data: DataConfig = field(default_factory=DataConfig)
    features: FeaturesConfig = field(default_factory=lambda: FeaturesConfig(word=WordFeatures()))
    model: ModelConfig = field(default_factory=ModelConfig)
    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    # Where the file was read from; relative data paths resolve against it. Not a setting.
    base_dir: str = field(default=".", compare=False, metadata={"setting": False})

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise ClassifyError(f"name {self.name!r} cannot name a model bundle folder")
        out_of_core = self.training.out_of_core
        if (self.features.hashed is not None) != out_of_core:
            raise ClassifyError(
                "[features.hashed] and training.out_of_core go together",
                hint="out-of-core training streams hashed features; in memory, use word or char",
            )
        if out_of_core and (self.model.type != "sgd" or self.model.calibration != "none"):
            raise ClassifyError(
                'out-of-core training fits model.type = "sgd" (no calibration)',
                hint="it needs partial_fit, which only SGD of the linear models has",
            )
        if out_of_core and self.cv.evaluate_on:
            raise ClassifyError(
                "out-of-core training evaluates on its training rows: no cv.evaluate_on"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "experiment") -> ExperimentConfig:
        return build_dataclass(cls, data, where, prefix="")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (what the bundle and the MLflow run record)."""
        return to_plain(self)

    def resolve(self, relative: str) -> Path:
        """A ``[data]`` path, resolved against the experiment file's folder."""
        return (Path(self.base_dir) / relative).resolve()


def load_experiment(
    path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    """Read an experiment file, apply ``section.key=value`` overrides, and validate it.

    Example:
        >>> load_experiment("experiments/default.toml", ["model.C=2"]).model.C
        2.0
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClassifyError(
            f"experiment file not found: {path}", hint="see experiments/ for examples"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClassifyError(f"{path}: not valid TOML: {exc}") from None
    for override in overrides:
        apply_override(data, override)
    data["base_dir"] = str(path.resolve().parent)
    return ExperimentConfig.from_dict(data, where=str(path))


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set one dotted key in a raw config mapping; the value is parsed as TOML when it can be.

    Example:
        >>> d = {"model": {"C": 1.0}}
        >>> apply_override(d, "model.C=4"); d
        {'model': {'C': 4}}
    """
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ClassifyError(f"bad override {override!r}", hint="write it as section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word: take it as a string
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ClassifyError(f"bad override {override!r}: {part!r} is not a section")
        node = child
    node[leaf] = value


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"C": 1}}`` -> ``{"model.C": 1}``; tuples become strings.

    Example:
        >>> flatten({"model": {"C": 1.0}, "features": {"char": None}})
        {'model.C': 1.0, 'features.char': 'none'}
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif value is None:
            flat[name] = "none"
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(str(v) for v in value)
        else:
            flat[name] = value
    return flat


def _check_ngrams(ngrams: tuple[int, int], key: str) -> None:
    low, high = ngrams
    if not 1 <= low <= high:
        raise ClassifyError(f"{key} must be [low, high] with 1 <= low <= high")


def _check_df(min_df: int, max_df: float, key: str) -> None:
    if min_df < 1 or not 0.0 < max_df <= 1.0:
        raise ClassifyError(f"{key}: min_df must be >= 1 and max_df in (0, 1]")
