"""Push channels to WebSocket connections: API Gateway's management API, and the local server."""
