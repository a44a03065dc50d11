"""The deployment's gateway (Debian's nginx with `deploy/nginx/loket.conf`) on one machine.

`make run` starts it so that the links the desk sends customers open what they open under
Docker Compose: one public address for the contract's public paths (`/v1/track/...`,
`/v1/surveys/...`, ...), and one internal address for every API. Only the upstream
addresses and the listening ports differ from the committed configuration.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from services.common.config import DEFAULT_WEB_PORTS, REPO_ROOT, SERVICES

CONFIG = REPO_ROOT / "deploy" / "nginx" / "loket.conf"
MAIN_CONFIG = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"
PUBLIC_PORT, INTERNAL_PORT = 8080, 8081
WEB_PORTS = {**DEFAULT_WEB_PORTS, "portal": 8000}


def nginx_binary() -> str | None:
    """Debian's nginx as `scripts/debian-tools.sh` unpacked it, or the machine's own."""
    for folder in ("usr/sbin", "usr/bin"):
        unpacked = REPO_ROOT / ".venv" / "debian" / folder / "nginx"
        if unpacked.exists():
            return str(unpacked)
    return shutil.which("nginx")


def write_config(
    prefix: Path, upstreams: Mapping[str, str], public: str, internal: str
) -> list[str]:
    """nginx's configuration under `prefix`; the command line that runs it in the foreground.

    `upstreams` maps each service and the portal to `host:port`; `public` and `internal`
    are the `host:port` to listen on.
    """
    config = CONFIG.read_text()
    for service in (*SERVICES, "portal"):
        committed = f"server {service}-web:{WEB_PORTS[service]};"
        if committed not in config:
            raise ValueError(f"{CONFIG} no longer names {committed!r}")
        config = config.replace(committed, f"server {upstreams[service]};")
    config = config.replace(f"listen {PUBLIC_PORT};", f"listen {public};")
    config = config.replace(f"listen {INTERNAL_PORT};", f"listen {internal};")
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "loket.conf").write_text(config)
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = MAIN_CONFIG.read_text()
    for committed, here in (
        ("user nginx;\n", ""),  # the image's user; here nginx runs as whoever runs the desk
        ("pid /var/run/nginx.pid;", f"daemon off;\npid {prefix / 'nginx.pid'};"),
        (
            "include /etc/nginx/conf.d/default.conf;",
            f"{temp}\n    include {prefix / 'loket.conf'};",
        ),
    ):
        if committed not in main:
            raise ValueError(f"{MAIN_CONFIG} no longer holds {committed!r}")
        main = main.replace(committed, here)
    (prefix / "nginx.conf").write_text(main)
    binary = nginx_binary()
    if binary is None:
        raise FileNotFoundError("nginx is missing: `make run` unpacks it (scripts/debian-tools.sh)")
    return [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"]
