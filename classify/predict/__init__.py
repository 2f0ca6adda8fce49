"""Prediction: :class:`~classify.predict.predictor.Predictor` over a model bundle, document
summaries, and the output formats of ``classify predict``.

May import :mod:`classify.model`, :mod:`classify.data` and the leaf helpers; never
:mod:`classify.training`, MLflow or matplotlib, so loading a model and tagging stay light.
"""
