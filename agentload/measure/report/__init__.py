"""The offline HTML report: what it shows (``data.ReportData``), how it is drawn (``figures``,
``explain``, ``html``) and where its numbers come from (``collect``: stored runs and metrics).

This ``__init__`` imports nothing: import from the modules.
"""
