"""MLflow tracking of trainings and tunings (MLflow is imported inside the functions only).

Each training is one run: the flattened config as params, every cross-validation metric (overall
and per theme), tags for the data hash, label set and git commit, the out-of-fold predictions as a
CSV artifact, the figures and tables of :mod:`classify.track.reports` (``reports/``), the training
and evaluated paragraphs as dataset inputs, and the model bundle as an MLflow pyfunc model with a
signature and input example (:mod:`classify.track.pyfunc`). With ``tracking.log_text = false``
none of it holds paragraph text. Which store: :mod:`classify.track.store`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import classify
from classify.model.config import ExperimentConfig, flatten
from classify.provenance import git_commit
from classify.track.store import check_reachable, default_tracking_uri, experiment_id, quiet_mlflow

if TYPE_CHECKING:
    from classify.training.train import TrainingResult
    from classify.training.tune import TuningResult

_MAX_DIGEST = 36  # MLflow's limit on a dataset digest


class MlflowTracker:
    """Logs trainings to an MLflow store (see :class:`classify.training.train.Tracker`).

    Example::

        tracker = MlflowTracker("sqlite:////tmp/mlflow.db")
        result, bundle_dir, run_id = train_and_save(config, "models", tracker=tracker)
    """

    def __init__(self, tracking_uri: str | None = None, register_as: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.run_id: str | None = None
        # a registered-model name: each logged model becomes its next version (see registry.py)
        self.register_as = register_as
        self.registered_version: int | None = None

    def start(self, config: ExperimentConfig) -> str:
        import mlflow

        quiet_mlflow()
        uri = self.tracking_uri or default_tracking_uri(config)
        self.tracking_uri = uri
        check_reachable(uri)
        mlflow.set_tracking_uri(uri)
        run = mlflow.start_run(
            experiment_id=experiment_id(uri, config.mlflow_experiment),
            run_name=config.name,
            nested=mlflow.active_run() is not None,  # inside a caller's own run: a child run
        )
        self.run_id = run.info.run_id
        mlflow.log_params(flatten(config.to_dict()))
        commit = git_commit(config.base_dir)
        mlflow.set_tags(
            {
                "classify.version": classify.__version__,
                **({"mlflow.source.git.commit": commit, "git_commit": commit} if commit else {}),
            }
        )
        if config.description:
            mlflow.set_tag("mlflow.note.content", config.description)
        return self.run_id

    def log(self, result: TrainingResult, bundle_dir: Path | None) -> None:
        """Log metrics, tags and evaluation artifacts; and the bundle as a model, when given."""
        import mlflow

        metrics = result.cv.metrics.as_dict()
        for name, values in result.cv.breakdown.items():
            if len(values) > 1:  # one slice would only repeat the overall metrics
                for value, sliced in values.items():
                    metrics.update({f"{name}_{value}/{k}": v for k, v in sliced.as_dict().items()})
        metrics.update({f"seconds/{k}": v for k, v in result.seconds.items()})
        # the headline figures also under the label set's name, so that runs of different
        # label sets in one experiment are never lined up on one "macro_f1" column
        column = result.label_set.column
        metrics.update({f"{column}/{k}": metrics[k] for k in ("micro_f1", "macro_f1")})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "data_hash": result.data_hash,
                "label_set": result.label_set.name,
                "label_set.version": result.label_set.version,
                "label_set.fingerprint": result.label_set.fingerprint,
                "label_set.column": result.label_set.column,
                # the themes in label-set order, so `classify runs` can order its columns
                "label_set.themes": _themes_tag(result.label_set.names),
                **({"bundle": str(Path(bundle_dir).resolve())} if bundle_dir else {}),
                "evaluation": result.describe_evaluation(),
                "cv.folds": result.folds_fingerprint()[:16],  # equal: the same grouped folds
            }
        )
        log_text = result.config.tracking.log_text
        log_datasets(result, log_text=log_text)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            oof = result.out_of_fold_table()
            if not log_text:  # ids only: the run must not carry paragraph text
                oof = oof.drop(columns=["text"], errors="ignore")
            oof.to_csv(folder / "oof_predictions.csv", index=False)
            (folder / "cv_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
            (folder / "thresholds.json").write_text(json.dumps(result.thresholds, indent=2) + "\n")
            from classify.predict.outputs import render_text
            from classify.track.reports import write_reports
            from classify.training.metric_tables import metrics_table

            title = f"{result.config.name}: out-of-fold metrics"
            table = metrics_table(result.cv.metrics, title, noun=result.label_set.noun)
            (folder / "cv_metrics.txt").write_text(render_text(table))
            for name in (
                "oof_predictions.csv",
                "cv_metrics.json",
                "thresholds.json",
                "cv_metrics.txt",
            ):
                mlflow.log_artifact(str(folder / name), artifact_path="evaluation")
            write_reports(result, folder / "reports", log_text=log_text)
            mlflow.log_artifacts(str(folder / "reports"), artifact_path="reports")
        if bundle_dir is not None:
            from classify.track.pyfunc import log_bundle_as_model

            model_uri = log_bundle_as_model(bundle_dir, result)
            if self.register_as:
                from classify.track.registry import register_model

                self.registered_version = register_model(model_uri, self.register_as)

    def log_candidates(self, tuned: TuningResult) -> None:
        """One child run per tuning candidate under the open (parent) run, the best one marked.

        A child's metrics are its selection evidence: inner grouped CV of the training rows.
        """
        import mlflow

        metric = tuned.final.config.tune.metric
        parent = mlflow.active_run()
        experiment_id = parent.info.experiment_id if parent else None  # children beside it
        best_run = None
        for position, score in enumerate(tuned.candidates):
            candidate = score.candidate
            is_best = position == tuned.best
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"candidate {candidate.index}", nested=True
            ) as run:
                mlflow.log_params(flatten(candidate.config.to_dict()))
                mlflow.log_metrics(score.metrics.as_dict())
                mlflow.set_tags(
                    {
                        "tune.candidate": str(candidate.index),
                        "tune.settings": candidate.label,
                        "tune.best": str(is_best).lower(),
                        "evaluation": "selection: inner grouped CV of the training rows "
                        f"({metric}; thresholds chosen on the same scores, so optimistic)",
                    }
                )
            if is_best:
                best_run = run.info.run_id
        best = tuned.best_candidate
        mlflow.set_tags(
            {
                "tune.best_run": best_run or "",
                "tune.best_settings": best.label,
                "tune.candidates": str(len(tuned.candidates)),
                "tune.chosen_by_fold": ",".join(map(str, tuned.chosen_by_fold)),
            }
        )
        mlflow.log_params({f"best.{key}": value for key, value in best.settings.items()})

    def finish(self, *, failed: bool) -> None:
        import mlflow

        if self.run_id is not None:
            mlflow.end_run(status="FAILED" if failed else "FINISHED")


def log_datasets(result: TrainingResult, *, log_text: bool = True) -> None:
    """Record the training paragraphs as the active run's "training" input, and the evaluated
    ones as its "evaluation" input when they are other paragraphs (``cv.evaluate_on``).

    Each is an MLflow pandas dataset named after its sources (``authored``), with the data
    hash as digest (its first 36 characters, MLflow's limit; the whole hash is the input's
    ``data_hash`` tag). Only its schema and size reach the store, and with ``log_text=False``
    the schema has no text column.

    Example::

        with mlflow.start_run():
            log_datasets(result, log_text=False)  # ids, documents, sources, langs, themes
    """
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource

    from classify.data.annotations import Annotations
    from classify.track.reports import paragraph_table

    if not isinstance(result.training, Annotations):  # streamed (out of core): not held
        return
    inputs = [("training", result.training, result.data_hash)]
    if set(result.evaluated.ids) != set(result.training.ids):
        inputs.append(("evaluation", result.evaluated, result.evaluated.fingerprint()))
    for context, paragraphs, digest in inputs:
        source = CodeDatasetSource(
            {"annotations": paragraphs.path, "kinds": ",".join(result.config.data.kinds)}
        )
        dataset = mlflow.data.from_pandas(
            paragraph_table(paragraphs, log_text=log_text),
            source=source,
            name="+".join(paragraphs.sources),
            digest=digest[:_MAX_DIGEST],
        )
        mlflow.log_input(dataset, context=context, tags={"data_hash": digest})


def _themes_tag(names: tuple[str, ...] | list[str]) -> str:
    # MLflow caps tag values (5,000 characters on older stores): a huge label set goes untagged
    joined = ",".join(names)
    return joined if len(joined) <= 5000 else ""
