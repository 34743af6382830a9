"""The SDK's end-to-end tests start real servers with the e2e suite's fixtures."""

from tests.e2e.conftest import prefix, redis_cleanup, start_server

__all__ = ["prefix", "redis_cleanup", "start_server"]
