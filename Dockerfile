# The insurance-charges predictor: gunicorn serving Django and the committed PyCaret pipeline.
# Build:  docker build -t insurance-charges .
#         (no registry here: make image-test builds FROM ../shared/tools/python-base-image's stand-in)
# Run:    docker run -p 5000:5000 -e DATABASE_URL=... -e DJANGO_SECRET_KEY=... -e DJANGO_ALLOWED_HOSTS=... insurance-charges
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

# PyCaret opens its own log file (logs.log in the working directory) on import; /app is read-only
# for the app user, so its warnings go to stderr with the rest. matplotlib and numba (imported by
# PyCaret) want a writable cache directory.
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=insurance_site.settings \
    PORT=5000 \
    WEB_CONCURRENCY=2 \
    PYCARET_CUSTOM_LOGGING_PATH=/dev/stderr \
    PYCARET_CUSTOM_LOGGING_LEVEL=WARNING \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba

WORKDIR /app

# LightGBM (a PyCaret dependency, imported when the pipeline loads) needs the OpenMP runtime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# Dependencies first, so a code change does not reinstall PyCaret. Every pin is a wheel or a
# pure-Python sdist, so no compiler is installed (and none is left behind). The packages' own
# test suites, and the notebooks and docs sktime drops into site-packages, are never imported
# by the app and go in the same layer; PyCaret's and sktime's `tests` packages stay (PyCaret's
# time-series module imports pycaret.internal.tests). The bytecode stays: the app user could
# not write it, and with it the model loads in seconds.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && find "$site" -depth -type d -name tests -not -path '*/pycaret/*' -not -path '*/sktime/*' -exec rm -rf {} + \
 && rm -rf "$site/examples" "$site/docs" /root/.cache

# The app runs as an unprivileged system user that owns nothing in /app.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY . .
# Static files are collected at build time and served by WhiteNoise. Outside local mode the
# settings require a key and a database URL; these exist only for this step (collectstatic
# connects to no database, and nothing answers at that address).
RUN DJANGO_SECRET_KEY=build-only-dummy DATABASE_URL=postgres://build-only@127.0.0.1:9/none \
    python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q predictor insurance_site

USER app
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=4)"]

# docker/entrypoint checks the required settings (and builds DATABASE_URL from DB_* parts),
# then runs the command: by default docker/start, which migrates behind an advisory lock and
# execs gunicorn. Any other command (a one-off migration, createsuperuser) goes through it too.
ENTRYPOINT ["/app/docker/entrypoint"]
CMD ["/app/docker/start"]
