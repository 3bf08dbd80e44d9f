"""One-row API POSTs handed straight to a WSGI application in this process, with no gunicorn and
no socket: the CPU time (user and system) and the wall time per request of the app
(``insurance_site.wsgi``, PostgreSQL at DATABASE_URL) or of the floor (``bench/floor_app.py``, at
BENCH_FLOOR_DATABASE_URL). Set beside the server's CPU per request from `make bench`, it splits
that into what the application costs and what gunicorn and the socket cost. `make bench-profile`
runs it for both after its loads; alone (the rate limits must be raised, as make bench does):

    .venv/bin/python -m bench.inprocess app|floor [--count 1000] [--cprofile 40]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import warnings
from collections.abc import Callable

from bench.harness import FLOOR_DATABASE_URL
from bench.statement import cost, cost_line

PATHS = {"app": "/api/v1/predictions", "floor": "/predict"}


def wsgi_post(application: Callable, path: str, body: bytes) -> Callable[[], str]:
    """A function that POSTs ``body`` as JSON to ``path`` of ``application`` and returns the status line."""
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info=None) -> None:
        statuses.append(status)

    def post() -> str:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5100", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        response = application(environ, start_response)
        try:
            b"".join(response)
        finally:
            response.close()
        return statuses.pop()

    return post


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=sorted(PATHS))
    parser.add_argument("--count", type=int, default=1000, help="requests per batch (best of 3 batches)")
    parser.add_argument("--cprofile", type=int, metavar="N", default=0,
                        help="then run the loop again under cProfile and print its N costliest functions (time in them and what they call)")
    args = parser.parse_args()
    # whitenoise warns when static files were not collected (make bench does not collect them)
    warnings.filterwarnings("ignore", message="No directory at")
    if args.which == "floor":
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor_settings"
        os.environ.setdefault("BENCH_FLOOR_DATABASE_URL", FLOOR_DATABASE_URL)
        from bench.floor_app import application
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = "insurance_site.settings"
        from insurance_site.wsgi import application
    from predictor.examples import SAMPLE_PATIENT

    post = wsgi_post(application, PATHS[args.which], json.dumps(SAMPLE_PATIENT).encode())
    status = post()
    if not status.startswith("201"):
        raise SystemExit(f"{args.which}: {PATHS[args.which]} answered {status}, not 201 (are the rate limits raised?)")
    print(cost_line(f"{args.which}: one-row POST {PATHS[args.which]}", cost(post, args.count)))
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [post() for _ in range(args.count)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
