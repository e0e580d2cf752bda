"""agentload: decides which BMad agents to load in full and which to give as a manifest."""

__version__ = "0.1.0"
