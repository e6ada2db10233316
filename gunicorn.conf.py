"""gunicorn's settings, shared by the container, the integration tests and the benchmark.

gunicorn reads `./gunicorn.conf.py` by default, so every `gunicorn
"service:create_app()"` started from the project root (or from the image's
working directory) runs with exactly these settings.
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '80')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread, reading each request whole before a thread gets it (service/worker.py):
# slow or idle clients cost no thread, and probes have threads of their own.
worker_class = "service.worker.BufferedThreadWorker"
# 4 threads per worker measured best on 2 cores (bench/RESULTS.md): more only add GIL contention.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
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

    Both happen once per instance, in the master: a refused setting stops the
    instance with one line instead of every worker crashing with a traceback.
    """
    import logging
    import sys

    from service import create_app, db, migrations, settings
    from service.config import ConfigError

    try:
        config = settings(os.environ)
    except ConfigError as error:
        logging.getLogger("gunicorn.error").error("refusing to start: %s", error)
        sys.exit(1)
    if not config.auto_migrate:
        return
    create_app(config)
    try:
        migrations.upgrade_on_start()
    except migrations.MigrationError as error:
        logging.getLogger("gunicorn.error").error("refusing to start: %s", error)
        sys.exit(1)
    finally:
        db.dispose()  # the workers fork from here: no connection may be shared with them
