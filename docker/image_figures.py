"""The image's figures, for any version of the project: size, site-packages, seconds from start to ready.

    .venv/bin/python docker/image_figures.py                 # this work tree
    mkdir /tmp/before && git archive 4eaf0cd | tar -x -C /tmp/before      # or any other commit
    .venv/bin/python docker/image_figures.py --tree /tmp/before --image localhost/insurance-charges:before

It builds the tree's Dockerfile the way `make image-test` does (docker/image_builders.py's builders and
base image), prints the size `buildah images` (or docker) reports and `du -sh` of site-packages in
the image, then starts the image's own entrypoint and command --starts times against a fresh
`image_test` database on TEST_DATABASE_URL (the first start migrates it; the later ones find
nothing to migrate) and prints the seconds from each start to the first 200 from /healthz
(polled every 0.2 s), stopping each with SIGTERM. Port 5000 must be free. It checks nothing else:
that is `make image-test`'s job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import image_builders  # noqa: E402  (the builders and the base image)
from image_host import DATABASE_NAME, CheckFailed, database_recreate, log_tail, port_in_use  # noqa: E402
from image_server_checks import PORT, WORKERS  # noqa: E402
from image_test import ImageTest  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=image_builders.PROJECT_DIR, help="The project folder to build (default: this one).")
    parser.add_argument("--image", default=os.environ.get("IMAGE", "localhost/insurance-charges:figures"))
    parser.add_argument("--starts", type=int, default=3)
    options = parser.parse_args()
    os.environ["BUILDAH_ISOLATION"] = "chroot"
    image_builders.PROJECT_DIR = options.tree.resolve()  # where the builders build from
    server_url = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    log_path = Path(tempfile.mkstemp(prefix="image-figures-", suffix=".log")[1])
    test = ImageTest(image_builders.builder_choose(options.image, log_path), server_url)
    try:
        test.builder.build(image_builders.base_image_choose(test.builder))
        print(f"image-figures: {options.tree}: image size {test.builder.size()}; site-packages {test.site_packages_size()} (du -sh)")
        if port_in_use(PORT):
            raise CheckFailed(f"port {PORT} is already in use")
        database_recreate(server_url, DATABASE_NAME, create=True)
        test.database_made = True
        env = {
            "DATABASE_URL": test.database_url, "DJANGO_SECRET_KEY": f"image-figures-{time.time_ns()}",
            "DJANGO_ALLOWED_HOSTS": "localhost", "DJANGO_SECURE_COOKIES": "false", "WEB_CONCURRENCY": str(WORKERS),
        }
        seconds = []
        for start in range(options.starts):
            started = time.monotonic()
            test.builder.start(env)
            test.wait_for_health()
            seconds.append(time.monotonic() - started)
            print(f"image-figures: start {start + 1}: /healthz 200 after {seconds[-1]:.1f} s" + (" (migrating a fresh database)" if start == 0 else ""))
            test.builder.terminate()
            if test.builder.wait_server(image_builders.STOP_TIMEOUT_SECONDS) is None:
                raise CheckFailed("the server did not stop on SIGTERM")
        if len(seconds) > 1:
            print(f"image-figures: start to ready, median of the starts after the first: {statistics.median(seconds[1:]):.1f} s")
    except CheckFailed as exc:
        print(f"image-figures: FAILED: {exc}\n{log_tail(log_path)}", file=sys.stderr)
        return 1
    finally:
        test.cleanup()
        log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
