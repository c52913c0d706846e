"""K-means with k-means++ seeding (Lloyd 1982; Arthur & Vassilvitskii, SODA 2007)."""

from __future__ import annotations

import pytest
import torch

from stylelib.kmeans import kmeans, kmeans_pp_init, lloyd


def _blobs(seed: int = 0, n: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(3).repeat_interleave(n)
    return centres[truth] + 0.5 * torch.randn(3 * n, 2, generator=g), truth


class TestKMeans:
    def test_recovers_well_separated_blobs(self):
        x, truth = _blobs()
        labels, centres = kmeans(x, 3, seed=0)
        # the same partition up to a relabelling
        pairs = {(int(a), int(b)) for a, b in zip(labels, truth)}
        assert len(pairs) == 3
        assert torch.allclose(centres[labels[::60]], torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]),
                              atol=0.3)

    def test_seeded_and_deterministic(self):
        x, _ = _blobs(1)
        a = kmeans(x, 4, seed=3)
        b = kmeans(x, 4, seed=3)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])

    def test_more_restarts_never_raise_the_inertia(self):
        x = torch.rand(200, 3, generator=torch.Generator().manual_seed(2))

        def inertia(labels, centres):
            return float((x - centres[labels]).pow(2).sum())

        assert inertia(*kmeans(x, 6, seed=0, n_init=8)) <= inertia(*kmeans(x, 6, seed=0, n_init=1)) + 1e-9

    def test_kmeanspp_seeds_are_distinct_points(self):
        x, _ = _blobs(2)
        c = kmeans_pp_init(x.double(), 3, torch.Generator().manual_seed(0))
        assert all(any(torch.equal(ci, xi) for xi in x.double()) for ci in c)
        assert len({tuple(ci.tolist()) for ci in c}) == 3

    def test_lloyd_step_decreases_the_inertia(self):
        x, _ = _blobs(3)
        x = x.double()
        start = x[:3].clone()
        _, _, after = lloyd(x, start, max_iter=20)
        before = float(torch.cdist(x, start).pow(2).min(1).values.sum())
        assert after < before

    def test_identical_points_and_k_equal_n(self):
        labels, _ = kmeans(torch.ones(5, 2), 2)
        assert labels.shape == (5,)
        x = torch.arange(8.0).view(4, 2)
        labels, centres = kmeans(x, 4)
        assert sorted(labels.tolist()) == [0, 1, 2, 3] and torch.allclose(centres[labels], x)

    def test_clear_errors(self):
        with pytest.raises(ValueError, match="k must be between 1"):
            kmeans(torch.rand(3, 2), 4)
        with pytest.raises(ValueError, match=r"\[n, d\]"):
            kmeans(torch.rand(3), 1)
        with pytest.raises(ValueError, match="n_init"):
            kmeans(torch.rand(3, 2), 1, n_init=0)
