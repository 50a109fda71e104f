"""Test-wide setup: Qt offscreen, per-test user data folder, small image helpers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _user_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep the demo project and logs of each test out of the real home folder."""
    monkeypatch.setenv("SIEVE_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))
