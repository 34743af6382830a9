"""`copygate demo`: the whole product in one process, with simulated MT4 terminals."""

from gateway.demo.run import Demo, DemoOptions, main

__all__ = ["Demo", "DemoOptions", "main"]
