"""The model: an experiment's config, the pipeline factory and its scores, the decision policy
(thresholds and review bands), and the model bundle on disk with its trusted-type audit.

May import :mod:`classify.data` and the leaf helpers. It neither trains nor tracks: a fitted
pipeline comes in, a verified bundle goes out, and back.
"""
