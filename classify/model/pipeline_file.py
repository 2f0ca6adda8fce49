"""The fitted pipeline on disk, in a form that cannot run code when it is loaded.

Model bundles are shared between analysts, so loading one must never unpickle arbitrary objects
(a pickle can run any code the moment it is read). The pipeline is written with ``skops.io``,
whose file is a zip of a JSON tree of typed nodes and ``.npy`` arrays. Before anything is built,
every type the tree names is checked against :data:`TRUSTED_TYPES`, a list that lives here, in
the code, not in the file: exactly the classes :func:`classify.model.pipeline.build_pipeline` can
produce. A file naming any other type, or using any other kind of skops node, is refused.

The TF-IDF vocabularies (term -> column) are kept out of the skops file: skops stores a dict as
one JSON node per entry, which made loading a 17,000-term model 15 times slower than the rest of
the pipeline together. The bundle keeps them as the scoring engine's arrays (format 3) or as
plain JSON lists of terms in column order (``vocabulary.json``, format 2), and hands them to
:func:`load_pipeline`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classify.errors import ClassifyError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

PIPELINE_FILE = "pipeline.skops"
VOCABULARY_FILE = "vocabulary.json"  # the vocabularies of a format-2 bundle

# Every type a pipeline built by classify.model.pipeline.build_pipeline contains, for every model
# type, calibration and feature family (tests/test_pipeline_file.py fits each one and checks the
# list is complete). Adding a model type to the factory means adding its classes here.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.int",  # the keys of SGD's class_weight dict (out-of-core training)
        "builtins.tuple",
        "numpy.ndarray",
        "numpy.float32",
        "numpy.float64",
        "classify.text.normalise_text",  # the TF-IDF preprocessor
        "sklearn.pipeline.Pipeline",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.feature_extraction.text.HashingVectorizer",  # out-of-core training
        "sklearn.multiclass.OneVsRestClassifier",
        "sklearn.multiclass._ConstantPredictor",  # a theme with no positive paragraph
        "sklearn.preprocessing._label.LabelBinarizer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._sgd_fast.ModifiedHuber",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.isotonic.IsotonicRegression",
    }
)
# The kinds of skops node those types are stored as. Nodes that call a constructor with stored
# arguments, bind methods or build partials are not needed by our pipelines, so they are refused
# whatever type they name.
_TRUSTED_NODES = frozenset(
    {
        "ObjectNode",
        "DictNode",
        "ListNode",
        "TupleNode",
        "JsonNode",
        "NdArrayNode",
        "FunctionNode",
        "TypeNode",
        "LossNode",
    }
)


def save_pipeline(pipeline: Pipeline, folder: Path) -> str:
    """Write ``pipeline`` without its vocabularies into ``folder``; returns the file's name.

    Example:
        >>> save_pipeline(result.pipeline, tmp)
        'pipeline.skops'
    """
    import skops.io

    from classify.model.pipeline import vectorizers

    with _vocabularies_detached([v for _, v in vectorizers(pipeline)]):
        skops.io.dump(pipeline, folder / PIPELINE_FILE, compression=zipfile.ZIP_DEFLATED)
    return PIPELINE_FILE


def load_pipeline(
    data: bytes, vocabularies: Mapping[str, Sequence[str]], *, where: str
) -> Pipeline:
    """The pipeline in the skops file ``data`` (read from ``where``) with its vocabularies
    (path of the TF-IDF step -> terms in column order), refusing any type not in
    :data:`TRUSTED_TYPES`.

    Raises :class:`ClassifyError` for an untrusted type, data that is not a skops file, or
    vocabularies that do not fit the pipeline.

    Example:
        >>> from classify.model.pipeline import vectorizers
        >>> terms = {p: sorted(v.vocabulary_, key=v.vocabulary_.get)
        ...          for p, v in vectorizers(result.pipeline)}
        >>> data = (tmp / save_pipeline(result.pipeline, tmp)).read_bytes()
        >>> type(load_pipeline(data, terms, where="pipeline.skops")).__name__
        'Pipeline'
    """
    import skops.io

    untrusted = sorted(untrusted_types(_read_schema(data, where)))
    if untrusted:
        raise ClassifyError(
            f"{where} contains types that are not trusted: {', '.join(untrusted)}",
            hint="only models trained by classify can be loaded; do not use this file",
        )
    try:
        pipeline = skops.io.loads(data, trusted=sorted(TRUSTED_TYPES))
    except Exception as exc:  # skops reports malformed files with many exception types
        raise ClassifyError(f"cannot load {where}: {_first_line(exc)}") from None
    _attach_vocabularies(pipeline, vocabularies, where)
    return pipeline


def read_vocabularies(path: Path, data: bytes) -> dict[str, list[str]]:
    """The vocabularies of a format-2 bundle: ``data``, read from ``vocabulary.json``."""
    try:
        vocabularies = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ClassifyError(f"{path} is corrupt") from None
    if not isinstance(vocabularies, dict):
        raise ClassifyError(f"{path} does not match the pipeline's TF-IDF steps")
    return vocabularies


def untrusted_types(schema: Any) -> set[str]:
    """The types (and node kinds) named anywhere in a skops schema that are not trusted.

    Every JSON object in the tree is visited, not only the ones skops would reach, so nothing can
    hide from the check.

    Example:
        >>> node = {"__class__": "system", "__module__": "os", "__loader__": "TypeNode"}
        >>> sorted(untrusted_types({"__class__": "list", "__module__": "builtins",
        ...                         "__loader__": "ListNode", "content": [node]}))
        ['os.system']
    """
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module, name = node.get("__module__"), node.get("__class__")
            if isinstance(module, str) and isinstance(name, str):
                qualified = f"{module}.{name}"
                if qualified not in TRUSTED_TYPES:
                    found.add(qualified)
                loader = node.get("__loader__")
                if loader not in _TRUSTED_NODES:
                    found.add(f"{loader} node ({qualified})")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _read_schema(data: bytes, where: str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ClassifyError(f"{where} is not a skops model file") from None


@contextmanager
def _vocabularies_detached(vectorizers: Any) -> Iterator[None]:
    """Take the vocabularies off the vectorizers while the rest is written, then put them back."""
    kept = [(v, v.vocabulary_) for v in vectorizers if hasattr(v, "vocabulary_")]
    try:
        for vectorizer, _ in kept:
            del vectorizer.vocabulary_
        yield
    finally:
        for vectorizer, vocabulary in kept:
            vectorizer.vocabulary_ = vocabulary


def _attach_vocabularies(
    pipeline: Pipeline, vocabularies: Mapping[str, Sequence[str]], where: str
) -> None:
    from classify.model.pipeline import vectorizers

    try:
        # hashed steps (out-of-core training) have no vocabulary
        steps = {path: v for path, v in vectorizers(pipeline) if hasattr(v, "idf_")}
    except ValueError:
        raise ClassifyError(f"{where} is not a pipeline classify builds") from None
    if set(vocabularies) != set(steps):
        raise ClassifyError(f"{where}: the vocabularies do not match the pipeline's TF-IDF steps")
    for step, terms in vocabularies.items():
        vectorizer = steps[step]
        columns = len(vectorizer.idf_)
        if (
            not isinstance(terms, list)
            or len(terms) != columns
            or not all(isinstance(t, str) for t in terms)
            or len(set(terms)) != columns
        ):
            raise ClassifyError(f"{where}: the vocabulary of {step} does not fit its columns")
        vectorizer.vocabulary_ = {term: column for column, term in enumerate(terms)}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
