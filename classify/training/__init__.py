"""Training: grouped cross-validation with thresholds tuned inside folds, metrics, fitting the
final model and saving its bundle, and the nested-CV hyperparameter search.

May import :mod:`classify.model`, :mod:`classify.data` and the leaf helpers; never
:mod:`classify.predict` (a saved model is evaluated through a small protocol instead) and never
MLflow (a run is recorded through the ``Tracker`` protocol that :mod:`classify.track` fills in).
"""
