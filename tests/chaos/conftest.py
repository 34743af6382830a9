"""Whole deployments (three gateway nodes, two copier processes, HAProxy) shared by
the multi-node and fault-suite tests of this package: one on a single Redis, one on
a Sentinel-managed primary and replica."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._deployment import LocalDeployment, local_deployment


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """Started once; every run uses accounts of its own."""
    workdir: Path = tmp_path_factory.mktemp("deployment")
    with local_deployment(workdir) as started:
        yield started


@pytest.fixture(scope="session")
def sentinel_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    """The same on a primary, a replica and three sentinels (ports from
    ``COPYGATE_TEST_REDIS_PORTS``)."""
    workdir: Path = tmp_path_factory.mktemp("sentinel-deployment")
    with local_deployment(workdir, sentinel=True) as started:
        yield started
