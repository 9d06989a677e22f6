"""Ready-made programs the lessons run: servers, clients (and later the heartbeat service)."""
