"""The entry point MLflow loads a logged classify model through: the ``loader_module`` its
``MLmodel`` file names.

The name is kept stable (every model classify has logged carries it, from before the package had
subpackages on); the flavour itself is :mod:`classify.track.pyfunc`.
"""

from classify.track.pyfunc import PyfuncThemeModel, _load_pyfunc, input_texts

__all__ = ["PyfuncThemeModel", "_load_pyfunc", "input_texts"]
