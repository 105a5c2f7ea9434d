"""The API's wire shapes: pydantic request and response bodies, the WebSocket messages, and the
validation of a client's JSON against them (the domain holds the entity, events, rules and values)."""
