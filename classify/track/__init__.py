"""Everything that talks to MLflow: the store, tracking trainings and tunings, the pyfunc flavour
of a bundle, the model registry, runs read back and compared, and the reports a run keeps.

The only package that imports MLflow (always inside functions, so importing it stays cheap). May
import :mod:`classify.training`, :mod:`classify.predict` and everything below them.
"""
