"""Route modules, one per resource; ``agentload.api.app`` includes their routers."""
