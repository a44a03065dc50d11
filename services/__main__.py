"""Every Loket process starts here: `python -m services <service> web|worker|migrate`.

Settings are checked before anything else, so a bad value stops the process at once with
a message naming the variable (exit status 2), instead of a traceback from a thread later.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from services.common import logs
from services.common.auth import KeyRing
from services.common.config import (
    REPO_ROOT,
    SERVICES,
    ConfigError,
    check_deployment_secrets,
    load_settings,
    var_dir,
)
from services.common.db import migrate

GUNICORN_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"
USAGE = (
    f"usage: python -m services {{{'|'.join(SERVICES)}}} {{web|worker|migrate}}\n"
    "       python -m services portal web\n"
    "       python -m services all migrate"
)


def main(argv: list[str]) -> int:
    if argv == ["all", "migrate"]:
        try:
            check_deployment_secrets(os.environ)
        except ConfigError as exc:
            print(f"loket migrate: configuration error: {exc}", file=sys.stderr)
            return 2
        return max(main([service, "migrate"]) for service in SERVICES)
    if argv == ["portal", "web"]:
        return _portal()
    if len(argv) != 2 or argv[0] not in SERVICES or argv[1] not in ("web", "worker", "migrate"):
        print(USAGE, file=sys.stderr)
        return 2
    service, kind = argv
    logs.configure(f"{service}-{kind}")
    try:
        settings = load_settings(service)
        KeyRing.load(settings.api_keys_file)
        if importlib.util.find_spec(f"services.{service}.settings") is not None:
            # A service's own settings (notify's sending), checked like the shared ones.
            importlib.import_module(f"services.{service}.settings").load(settings)
    except ConfigError as exc:
        print(f"loket {service}-{kind}: configuration error: {exc}", file=sys.stderr)
        return 2
    if kind == "migrate":
        migrate(service, settings.database_url)
        print(f"loket {service}: database migrated")
        return 0
    if kind == "worker":
        # A worker is one process and serves its own registry; multiprocess files are
        # only for gunicorn's web workers.
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        importlib.import_module(f"services.{service}.worker").main(settings)
        return 0
    _gunicorn(service, settings.http_host, settings.http_port)
    return 1  # not reached


def _portal() -> int:
    """The customer portal: a web process only, with no database and no broker."""
    from services.portal.settings import load_portal_settings

    logs.configure("portal-web")
    try:
        settings = load_portal_settings()
    except ConfigError as exc:
        print(f"loket portal-web: configuration error: {exc}", file=sys.stderr)
        return 2
    _gunicorn("portal", settings.http_host, settings.http_port)
    return 1  # not reached


def _gunicorn(service: str, host: str, port: int) -> None:
    """Replace this process with gunicorn serving the service's application."""
    os.environ.setdefault("LOKET_SERVICE", service)
    # Must be in the environment before gunicorn's Python starts (prometheus_client reads
    # it at import); gunicorn's on_starting empties it.
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(var_dir() / "prometheus" / f"{service}-{port}")
    )
    os.execvp(  # noqa: S606 (replace this process with gunicorn)
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(GUNICORN_CONFIG),
            "--bind",
            f"{host}:{port}",
            "--name",
            f"loket-{service}-web",
            f"services.{service}.app:create_app()",
        ],
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
