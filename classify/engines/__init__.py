"""Scale-out engines: scoring (and soon training) beyond one machine, on a Dask cluster.

May import ``predict``, ``training``, ``model``, ``data`` and the leaf helpers; never ``track``
(MLflow) nor ``cli``. Imported only when a command asks for ``--engine dask``: importing
``classify`` or predicting locally never loads Dask.
"""
