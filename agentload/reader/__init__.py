"""The read side: what the API and the MCP server use to answer from Redis.

``store.CatalogStore`` reads the live catalog version (one counted round trip per lookup:
``counting``), ``manifests`` rebuilds manifest text and searches it, ``integrity`` checks a
version is whole, ``transitions`` counts the workflow transitions projects report. Nothing
here imports the selection engine, the publish side, Celery or SQL (a layering test checks).
Imports nothing eagerly.
"""
