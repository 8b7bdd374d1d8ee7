"""Everything that talks to Redis: key builder, script registry, one module per resource."""
