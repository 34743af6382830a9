"""The two thin pumps over the session protocol: WebSocket and HTTP polling."""
