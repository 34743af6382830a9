"""The API documents served by the gateway: OpenAPI, AsyncAPI and a readable page."""

from gateway.specs.routes import spec_routes

__all__ = ["spec_routes"]
