"""Open-model HTTP load generator for the agentload API (loopback / configured API only).

Entry points, imported from their modules (this ``__init__`` imports nothing):
``spec.LoadSpec`` + ``spec.check_target`` (what may be loaded), ``scenarios`` builders (what
is sent), ``runner.run_load`` / ``runner.run_load_sync`` (one run), ``steps.step_test`` /
``steps.stress_ramp`` (curves against users). See ``results`` for the counting conventions of
``LoadResult``.
"""
