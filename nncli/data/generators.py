"""scikit-learn's small data generators, number for number, without importing scikit-learn.

Importing scikit-learn costs about a second and a half, twenty times the training of a small
network, so a shell loop of ``nncli train configs/moons.yaml`` would spend most of its time
there. These are ports of ``sklearn.datasets.make_moons``, ``make_circles``,
``make_classification``, ``make_regression`` and ``make_friedman1`` (as of scikit-learn 1.9):
each makes the same ``RandomState`` calls in the same order and the same arithmetic, so that
``random_state`` gives the same numbers bit for bit (tests hold them to scikit-learn's own
generators). Only the paths nncli's config can reach are ported: scikit-learn's defaults for
``shuffle`` (on), ``weights``, ``hypercube``, ``shift``, ``scale``, ``n_repeated`` and
``effective_rank``. ``xor`` is nncli's own (a ``numpy.random.Generator``).

Samples are rows: X (n_samples, n_features) float64; y (n_samples,) int64 class labels, or
float64 values ((n_samples, n_targets) for several regression targets).
"""

from __future__ import annotations

import numpy as np


def make_moons(n_samples: int, noise: float | None, random_state: int):
    """``sklearn.datasets.make_moons(n_samples, noise=noise, random_state=random_state)``."""
    rs = np.random.RandomState(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer_x = np.cos(np.linspace(0, np.pi, n_out))
    outer_y = np.sin(np.linspace(0, np.pi, n_out))
    inner_x = 1 - np.cos(np.linspace(0, np.pi, n_in))
    inner_y = 1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5
    return _two_rings(rs, outer_x, outer_y, inner_x, inner_y, noise)


def make_circles(n_samples: int, noise: float | None, factor: float, random_state: int):
    """``sklearn.datasets.make_circles(n_samples, noise=noise, factor=factor,
    random_state=random_state)``: the inner circle gets the odd sample."""
    rs = np.random.RandomState(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    # endpoint=False: the first point of a circle is not also its last
    angles_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angles_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    return _two_rings(rs, np.cos(angles_out), np.sin(angles_out),
                      np.cos(angles_in) * factor, np.sin(angles_in) * factor, noise)


def _two_rings(rs, outer_x, outer_y, inner_x, inner_y, noise):
    """Moons' and circles' common end: class 0 outer, class 1 inner, rows shuffled, then
    Gaussian noise (drawn whenever ``noise`` is given, even 0, as scikit-learn does)."""
    X = np.vstack([np.append(outer_x, inner_x), np.append(outer_y, inner_y)]).T
    y = np.hstack([np.zeros(len(outer_x), dtype=np.intp), np.ones(len(inner_x), dtype=np.intp)])
    X, y = _shuffle_rows(rs, X, y)
    if noise is not None:
        X += rs.normal(scale=noise, size=X.shape)
    return X, y


def make_classification(n_samples: int, n_features: int, n_informative: int, n_redundant: int,
                        n_classes: int, n_clusters_per_class: int, class_sep: float,
                        flip_y: float, random_state: int):
    """``sklearn.datasets.make_classification`` with these parameters and its defaults for the
    others: Gaussian clusters (a random covariance each) on the vertices of a hypercube of side
    ``2 * class_sep`` in the informative features, redundant features as random linear
    combinations of them, the rest noise; a fraction ``flip_y`` of labels drawn at random."""
    rs = np.random.RandomState(random_state)
    if n_informative + n_redundant > n_features:
        raise ValueError("Number of informative, redundant and repeated features must sum "
                         "to less than the number of total features")
    if n_informative < np.log2(n_classes * n_clusters_per_class):  # log2: no overflow
        raise ValueError(f"n_classes({n_classes}) * n_clusters_per_class"
                         f"({n_clusters_per_class}) must be smaller or equal "
                         f"2**n_informative({n_informative})={2**n_informative}")
    weights = [1.0 / n_classes] * n_classes
    n_random = n_features - n_informative - n_redundant
    n_clusters = n_classes * n_clusters_per_class

    per_cluster = [int(n_samples * weights[k % n_classes] / n_clusters_per_class)
                   for k in range(n_clusters)]
    for i in range(n_samples - sum(per_cluster)):
        per_cluster[i % n_clusters] += 1

    X = np.zeros((n_samples, n_features))
    y = np.zeros(n_samples, dtype=int)

    centroids = _hypercube_vertices(n_clusters, n_informative, rs).astype(float, copy=False)
    centroids *= 2 * class_sep
    centroids -= class_sep

    X[:, :n_informative] = rs.standard_normal(size=(n_samples, n_informative))
    stop = 0
    for k, centroid in enumerate(centroids):
        start, stop = stop, stop + per_cluster[k]
        y[start:stop] = k % n_classes
        cluster = X[start:stop, :n_informative]  # a view
        A = 2 * rs.uniform(size=(n_informative, n_informative)) - 1
        cluster[...] = np.dot(cluster, A)  # a random covariance
        cluster += centroid

    if n_redundant > 0:
        B = 2 * rs.uniform(size=(n_informative, n_redundant)) - 1
        X[:, n_informative:n_informative + n_redundant] = np.dot(X[:, :n_informative], B)
    if n_random > 0:
        X[:, -n_random:] = rs.standard_normal(size=(n_samples, n_random))

    if flip_y >= 0.0:  # always: scikit-learn draws the mask even for flip_y 0
        flip = rs.uniform(size=n_samples) < flip_y
        y[flip] = rs.randint(n_classes, size=flip.sum())

    X += 0.0  # scikit-learn's default shift and scale (no draws; -0.0 becomes 0.0)
    X *= 1.0

    X, y = _shuffle_rows(rs, X, y)
    columns = np.arange(n_features)
    rs.shuffle(columns)
    X[:, :] = X[:, columns]
    return X, y


def _hypercube_vertices(samples: int, dimensions: int, rs: np.random.RandomState) -> np.ndarray:
    """scikit-learn's ``_generate_hypercube``: ``samples`` distinct binary rows of length
    ``dimensions``, drawn as integers below 2**dimensions (30 bits at a time)."""
    if dimensions > 30:
        return np.hstack([rs.randint(2, size=(samples, dimensions - 30)),
                          _hypercube_vertices(samples, 30, rs)])
    picked = _sample_without_replacement(2**dimensions, samples, rs).astype(">u4", copy=False)
    return np.unpackbits(picked.view(">u1")).reshape((-1, 32))[:, -dimensions:]


def _sample_without_replacement(n_population: int, n_samples: int,
                                rs: np.random.RandomState) -> np.ndarray:
    """``sklearn.utils.random.sample_without_replacement(method="auto")``: which of its
    algorithms runs (and so which draws are made) depends on the fraction sampled."""
    if n_samples > n_population:
        raise ValueError(f"n_population should be greater or equal than n_samples, got "
                         f"n_samples > n_population ({n_samples} > {n_population})")
    ratio = n_samples / n_population if n_population != 0 else 1.0
    if 0.01 < ratio < 0.99:
        return rs.permutation(n_population)[:n_samples]
    out = np.empty(n_samples, dtype=int)
    if ratio < 0.2:  # tracking selection: redraw until unseen
        selected: set[int] = set()
        for i in range(n_samples):
            j = rs.randint(n_population)
            while j in selected:
                j = rs.randint(n_population)
            selected.add(j)
            out[i] = j
        return out
    out[:] = np.arange(n_samples)  # reservoir sampling
    for i in range(n_samples, n_population):
        j = rs.randint(0, i + 1)
        if j < n_samples:
            out[j] = i
    return out


def make_regression(n_samples: int, n_features: int, n_informative: int, n_targets: int,
                    noise: float, bias: float, random_state: int):
    """``sklearn.datasets.make_regression`` with these parameters: standard normal features,
    a linear model with ``n_informative`` nonzero coefficients in [0, 100), Gaussian noise;
    y is (n_samples,) for one target, (n_samples, n_targets) for several."""
    n_informative = min(n_features, n_informative)
    rs = np.random.RandomState(random_state)
    X = rs.standard_normal(size=(n_samples, n_features))
    ground_truth = np.zeros((n_features, n_targets))
    ground_truth[:n_informative, :] = 100 * rs.uniform(size=(n_informative, n_targets))
    y = np.dot(X, ground_truth) + bias
    if noise > 0.0:
        y += rs.normal(scale=noise, size=y.shape)
    X, y = _shuffle_rows(rs, X, y)
    columns = np.arange(n_features)
    rs.shuffle(columns)
    X[:, :] = X[:, columns]
    return X, np.squeeze(y)


def make_friedman1(n_samples: int, n_features: int, noise: float, random_state: int):
    """``sklearn.datasets.make_friedman1``: uniform features on [0, 1), of which the first
    five make y = 10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5 + noise * N(0, 1)."""
    rs = np.random.RandomState(random_state)
    X = rs.uniform(size=(n_samples, n_features))
    y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1])
         + 20 * (X[:, 2] - 0.5) ** 2
         + 10 * X[:, 3]
         + 5 * X[:, 4]
         + noise * rs.standard_normal(size=(n_samples)))
    return X, y


def _shuffle_rows(rs: np.random.RandomState, X: np.ndarray, y: np.ndarray):
    """``sklearn.utils.shuffle(X, y, random_state=rs)``: one permutation of the rows of both."""
    order = np.arange(X.shape[0])
    rs.shuffle(order)
    return X[order], y[order]


XOR_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = np.array([0, 1, 1, 0])


def make_xor(n_samples: int, noise: float, seed: int):
    """XOR: the four truth-table rows (``n_samples`` 0), or ``n_samples`` corners drawn at
    random, moved by Gaussian noise of standard deviation ``noise`` (none when 0)."""
    rng = np.random.default_rng(seed)
    pick = np.arange(4) if n_samples == 0 else rng.integers(0, 4, size=n_samples)
    X = XOR_CORNERS[pick]
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    return X, XOR_LABELS[pick]
