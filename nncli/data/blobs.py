"""scikit-learn's ``make_blobs``, number for number, written in chunks straight into any dtype.

``make_blobs`` builds the whole float64 matrix and then a shuffled copy of it, so a million
rows of 20 features peak at 2 x 160 MB before a float32 run can cast them, and the call first
imports scikit-learn (about 80 MB and a second). This makes the same numbers from the same
``RandomState`` calls in the same order, a chunk of rows at a time, and writes each chunk
straight to its shuffled rows in the output: the data exist once, in the training dtype.

One difficulty: make_blobs draws its shuffling permutation *after* all the normal draws, and
the legacy normal draws consume a variable number of random words, so the permutation cannot
be known without making those draws. A first pass makes them chunk by chunk and throws them
away; the second pass makes them again from the saved state, now knowing where each row goes.
Tests hold the result bit-identical to ``sklearn.datasets.make_blobs``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

CHUNK_ROWS = 65536
CENTER_BOX = (-10.0, 10.0)  # make_blobs' default


def make_blobs(n_samples: int, n_features: int, centers: int, cluster_std: float,
               random_state: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_blobs(n_samples, n_features, centers=centers,
    cluster_std=cluster_std, random_state=random_state)``, with X in ``dtype``."""
    rs = np.random.RandomState(random_state)
    means = rs.uniform(CENTER_BOX[0], CENTER_BOX[1], size=(centers, n_features))
    counts = np.full(centers, n_samples // centers)
    counts[: n_samples % centers] += 1
    stds = np.full(centers, cluster_std, dtype=np.float64)

    before_draws = rs.get_state()
    for _ in _draws(rs, means, stds, counts):
        pass
    order = np.arange(n_samples)
    rs.shuffle(order)  # make_blobs returns its generated row order[k] as row k
    destination = np.empty_like(order)
    destination[order] = np.arange(n_samples)

    rs.set_state(before_draws)
    X = np.empty((n_samples, n_features), dtype)
    start = 0
    for rows in _draws(rs, means, stds, counts):
        X[destination[start:start + len(rows)]] = rows
        start += len(rows)
    y = np.repeat(np.arange(centers, dtype=np.int64), counts)[order]
    return X, y


def _draws(rs: np.random.RandomState, means: np.ndarray, stds: np.ndarray,
           counts: np.ndarray) -> Iterator[np.ndarray]:
    """make_blobs' ``rs.normal(loc=means[i], scale=stds[i], size=(counts[i], features))`` for
    each center in turn, as chunks of rows. Legacy normals are drawn one value at a time
    (a spare value of each pair is kept in the state), so chunks draw the same sequence."""
    for mean, std, count in zip(means, stds, counts):
        for start in range(0, int(count), CHUNK_ROWS):
            rows = min(CHUNK_ROWS, int(count) - start)
            yield rs.normal(loc=mean, scale=std, size=(rows, len(mean)))
