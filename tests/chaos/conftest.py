"""One whole deployment (Redis, three gateway nodes, two copier processes, HAProxy)
shared by the multi-node and fault-suite tests of this package."""

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
