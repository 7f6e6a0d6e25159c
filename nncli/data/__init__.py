"""Data for nncli: config models (schema), sources (loading), generators, bundled data sets,
CSV reading, preparation.

Import the submodule you need; this package imports nothing heavy on its own, and nothing
here imports scikit-learn: its generators are ported (``generators``, ``blobs``) and its
bundled data sets read from its files (``bundled``; it falls back to scikit-learn only
should a future version move them).
"""
