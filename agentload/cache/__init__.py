"""Redis as the single source of catalog data for the request path.

Workers publish immutable catalog versions (``publish``), refresh them when files change
(``refresh``), warm predicted contexts (``predict``) and flush counters to SQL (``stats``);
the API reads through ``store.CatalogStore``. Layout and contracts: docs/design.md.
"""

from agentload.cache.publish import publish_catalog
from agentload.cache.refresh import refresh_catalog, request_refresh
from agentload.cache.stats import flush_cache_stats
from agentload.cache.store import CatalogNotPublished, CatalogStore

__all__ = [
    "CatalogNotPublished",
    "CatalogStore",
    "flush_cache_stats",
    "publish_catalog",
    "refresh_catalog",
    "request_refresh",
]
