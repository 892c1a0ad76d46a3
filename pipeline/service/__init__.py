"""newsflow as a long-running service: HTTP endpoints, health, metrics, status page, reload.

::

    from pipeline.service import ServiceEndpoints, ConfigReloader

    reloader = ConfigReloader(config_path, os.environ, config)
    with ServiceEndpoints(config, role="run", reloader=reloader) as endpoints:
        ...the loop calls endpoints.control.tick(target) every turn...

Modules: :mod:`~pipeline.service.endpoints` (the routes), :mod:`~.health`
(liveness and readiness), :mod:`~.metrics` (service metrics, merged
exposition of worker processes), :mod:`~.status` and ``static/`` (the live
status page), :mod:`~.throughput` (the last hour per minute),
:mod:`~.reload` (SIGHUP and file-change reloads), :mod:`~.control` (what a
loop does each turn), :mod:`~.kafka_health` (lag, assignment, DLQ size),
:mod:`~.progress` (the terminal progress line), :mod:`~.server` (the HTTP
server). Operators' view: the Operations section of the README.
"""

from pipeline.service.control import LoopControl, Reconfigurable
from pipeline.service.endpoints import ServiceEndpoints
from pipeline.service.health import Health
from pipeline.service.progress import Progress
from pipeline.service.reload import ConfigReloader, apply_feed_config, diff_config

__all__ = [
    "ConfigReloader",
    "Health",
    "LoopControl",
    "Progress",
    "Reconfigurable",
    "ServiceEndpoints",
    "apply_feed_config",
    "diff_config",
]
