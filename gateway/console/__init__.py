"""The web console at ``/console``: one page over the admin API, updated live.

`health` turns copy records into the replication-health summary (pure),
`feed` gathers what one admin principal may see, `routes` serves the page, its
static files, ``GET /admin/v1/accounts``, ``GET /admin/v1/health`` and the live
``GET /admin/v1/console/events`` stream.
"""

__all__: list[str] = []
