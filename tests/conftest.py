"""Shared fixtures."""

from __future__ import annotations

import pytest

from stylelib.training import registry


@pytest.fixture
def ci_registry(tmp_path, monkeypatch):
    """An empty weights registry in a temporary folder, and no benchmark data: ci-profile training
    runs on the embedded images and registers there, leaving the committed registry alone."""
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(folder))
    monkeypatch.delenv("STYLELIB_DATA", raising=False)
    return folder
