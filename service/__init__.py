"""The service: a Flask app for WeChat Mini Programs on WeChat Cloud Run.

gunicorn serves it as `service:create_app()`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.config import Config
from service.target import resolve_target


def settings(env: Mapping[str, str]) -> Config:
    """The configuration `env` gives, every setting checked that can be without a network.

    gunicorn's master and `flask` call this before anything starts, so a bad
    setting, the database's included, ends the process with one line naming it
    (a ConfigError) instead of failing in each worker or on first use.
    """
    config = Config.from_env(env)
    config.check()
    resolve_target(config, instance_path="instance")  # reads DATABASE_URL or MYSQL_ADDRESS
    return config


def create_app(config: Config | None = None) -> Flask:
    """Build an app; without `config`, the settings come from the environment.

    The app's modules are imported here, not when the package is: gunicorn's
    master imports `service` (its logger, its log format, the settings check)
    and must not import peewee, PyMySQL or requests. A gevent worker patches the
    standard library before it builds the app, and peewee's per-connection
    state is a `threading.local` subclass, made when peewee is imported: made
    before the patch, it would be one connection shared by every greenlet.
    """
    from service import (
        access_log,
        admin,
        cli,
        counter,
        db,
        errors,
        health,
        identity,
        index,
        logs,
        openapi,
        outbox,
        profile,
        push,
        request_id,
        subscriptions,
        verification,
    )
    from service.wechat import WeChatClient

    if config is None:
        config = settings(os.environ)
    else:
        config.check()
    logs.configure()
    if not config.token_secret:
        logging.getLogger(__name__).warning(
            "TOKEN_SECRET is not set: login and signed-in routes answer 503 token_secret_missing"
        )

    app = Flask(__name__)
    app.config.update(
        SERVICE=config,
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=config.max_body_bytes,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if config.trusted_proxy_count:
        # The client's address as the last N proxies (Cloud Run's gateway: 1) saw it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_count)  # type: ignore[method-assign]

    request_id.init_app(app)
    access_log.init_app(app)
    errors.register(app)
    db.init_app(app, config)
    cli.init_app(app)

    app.extensions["wechat"] = WeChatClient(config)

    app.register_blueprint(counter.bp)
    app.register_blueprint(identity.bp)
    app.register_blueprint(profile.bp)
    app.register_blueprint(verification.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(subscriptions.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(index.bp)
    app.register_blueprint(health.bp)
    push.init_app(app, config)
    return app
