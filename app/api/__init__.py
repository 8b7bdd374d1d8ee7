"""The HTTP API: Starlette app factory, routes grouped by resource, auth, errors, JSON."""
