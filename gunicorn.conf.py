"""gunicorn's settings, shared by the container, the integration tests and the benchmark.

gunicorn reads `./gunicorn.conf.py` by default, so every `gunicorn
"service:create_app()"` started from the project root (or from the image's
working directory) runs with exactly these settings.
"""

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.config import Config

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '80')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gunicorn's gevent worker: each connection is a greenlet, so slow, idle or stuck
# clients cost no thread, and probes are answered beside them. gunicorn's docs name
# an async worker as the answer to clients that no buffering proxy shields. The
# subclass only adds a timeout to body reads and answers gunicorn's own refusals in
# the envelope (service/gunicorn_worker.py). It patches the standard library
# (gevent.monkey.patch_all) in each worker before the app is loaded.
worker_class = "service.gunicorn_worker.EnvelopeGeventWorker"
# Connections (greenlets) per worker: gunicorn's default. A hostile client must hold
# this many sockets open to make a worker stop accepting, and each is cut within
# `keepalive` (a head) or REQUEST_READ_TIMEOUT (a body); an idle greenlet costs a few KB.
# Database work is bounded by the pool, not by this number.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Below the 10 s that `docker stop` and compose wait after SIGTERM before they kill:
# requests in flight finish, and connections still open after it are closed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "8"))
# Seconds a connection may take to send a request head, the first one included, and
# may stay idle between requests.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# No runtime control socket (gunicorn 25.1+): the container is managed by its
# platform, and servers started side by side would contend for one socket path.
control_socket_disable = True
# Requests are logged by the app itself, as JSON with their request id.
accesslog = None
# ...and gunicorn builds none of its own: it would, for a logger nobody listens to.
logger_class = "service.gunicorn_logging.AppLogsRequests"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn's own lines (start, workers, signals) in the app's JSON format, on stdout.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "service.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
    },
    # gunicorn merges this into its defaults key by key; the root logger is left
    # to the app (service.logs), which gives it the same JSON handler.
    "root": {"level": "WARNING", "handlers": []},
}


def on_starting(server: object) -> None:
    """Check the settings, then apply pending migrations (AUTO_MIGRATE), before any worker serves.

    Both happen once per instance, before the workers start: a refused setting
    stops the instance with one line instead of every worker crashing with a
    traceback. The migrations run in a child process: they need the app, and
    the master, which the workers fork from, must not import it (a gevent
    worker patches the standard library first; see service.create_app).
    """
    import logging
    import sys

    from service import settings
    from service.config import ConfigError

    try:
        config = settings(os.environ)
    except ConfigError as error:
        logging.getLogger("gunicorn.error").error("refusing to start: %s", error)
        sys.exit(1)
    if not config.auto_migrate:
        return
    child = os.fork()
    if child == 0:
        os._exit(_migrate(config))
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(1)


def _migrate(config: "Config") -> int:
    """Apply pending migrations; the exit status for the child process that runs this."""
    import logging

    from service import create_app, migrations

    log = logging.getLogger("gunicorn.error")
    try:
        create_app(config)
        migrations.upgrade_on_start()
    except migrations.MigrationError as error:
        log.error("refusing to start: %s", error)
        return 1
    except Exception:
        log.exception("refusing to start: the migrations failed")
        return 1
    return 0
