"""The admin web console: static files shipped in the package, served by `routes`."""
