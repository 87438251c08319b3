"""The HTTP and WebSocket layer: the GraphQL view and one module per middleware."""
