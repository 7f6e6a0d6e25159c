"""Data for nncli: config models (schema), sources (loading), CSV reading, preparation.

Import the submodule you need; this package imports nothing heavy on its own, and nothing
here imports scikit-learn except the loaders of generated and bundled data, lazily.
"""
