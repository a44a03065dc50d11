"""gunicorn settings for every Loket web process, tunable from the environment."""

import os
import re
import shutil
from pathlib import Path

from gunicorn.glogging import Logger

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Several gunicorns run side by side (one per service); their control sockets would share
# one path, and nothing of ours uses them.
control_socket_disable = True
# No max_requests: recycled workers pile up prometheus multiprocess files.
max_requests = 0
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access lines without the client address or the query string (tracking tokens travel
# in queries, and addresses are personal data), and with survey tokens, which travel in
# the path, masked.
ACCESS_LINES = os.environ.get("LOKET_ACCESS_LOG", "1") == "1"
accesslog = "-" if ACCESS_LINES else None
access_log_format = '"%(m)s %(U)s" %(s)s %(B)sB %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
service = os.environ.get("LOKET_SERVICE", "web")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "loket": {
            "()": "services.common.logs.EscapingFormatter",
            "fmt": f"%(asctime)s %(levelname)s [{service}-web] %(name)s: %(message)s",
        }
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "loket",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": os.environ.get("LOKET_LOG_LEVEL", "INFO"), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}


SURVEY_TOKEN = re.compile(r"(/surveys?/)[^/]+")


class LoketLogger(Logger):
    """gunicorn writes access lines whenever a logging configuration is given (ours
    always is, for the error lines' format), whatever `accesslog` says."""

    def access(self, resp, req, environ, request_time):
        if ACCESS_LINES:
            super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = SURVEY_TOKEN.sub(r"\1{token}", atoms["U"] or "")
        return atoms


logger_class = LoketLogger


def _limit(variable, default):
    try:
        return int(os.environ.get(variable, default))
    except ValueError:
        return default  # the process itself stops at start naming the variable


MAX_BODY_BYTES = _limit("LOKET_MAX_BODY_BYTES", 1_048_576)
MAX_EMAIL_BYTES = _limit("LOKET_MAX_EMAIL_BYTES", 10_485_760)


def pre_request(worker, req):
    """Close the connection after a body the service may refuse unread (413).

    gunicorn drains at most 64 KiB of an unread body after the answer and then closes the
    socket, yet the answer said keep-alive: the client's next request on that pooled
    connection was lost. It also ignores a `Connection: close` set by the application,
    so the decision is made here, before the answer is written.
    """
    limit = MAX_EMAIL_BYTES if req.path == "/v1/inbound/email" else MAX_BODY_BYTES
    for name, value in req.headers:
        oversize = name == "CONTENT-LENGTH" and value.isdigit() and int(value) > limit
        unannounced = name == "TRANSFER-ENCODING" and "chunked" in value.lower()
        if oversize or unannounced:
            req.must_close = True


def on_starting(server):
    """Empty the metrics directory before any worker writes to it."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
