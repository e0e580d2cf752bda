"""``python -m agentload.cli``: the same as the ``agentload`` command."""

from agentload.cli.main import main

main()
