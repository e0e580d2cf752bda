"""A project's BMad context read from its own files (install, configuration, status files,
finished work): pure, no Redis, SQL or Celery. ``read_project`` reads; ``merge`` lays what a
client sends over it; ``ProjectCache`` keeps a reading until one of its files changes."""

from agentload.project.cache import ProjectCache
from agentload.project.merge import merge
from agentload.project.state import ProjectState, read_project

__all__ = ["ProjectCache", "ProjectState", "merge", "read_project"]
