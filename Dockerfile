# The insurance-charges predictor: gunicorn serving Django and the committed PyCaret pipeline.
# Build:  docker build -t insurance-charges .
#         (no registry here: make image-test builds FROM ../shared/tools/python-base-image's stand-in)
# Run:    docker run -p 5000:5000 -e DATABASE_URL=... -e DJANGO_SECRET_KEY=... -e DJANGO_ALLOWED_HOSTS=... insurance-charges
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

# PyCaret opens its own log file (logs.log in the working directory) when a pipeline is loaded;
# /app is read-only for the app user, so its warnings go to stderr with the rest.
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=insurance_site.settings \
    PORT=5000 \
    WEB_CONCURRENCY=2 \
    PYCARET_CUSTOM_LOGGING_PATH=/dev/stderr \
    PYCARET_CUSTOM_LOGGING_LEVEL=WARNING

WORKDIR /app

# The serving set only (requirements-serve.txt; requirements.txt, the full set, is for training and
# development): PyCaret without its training and notebook stack. --no-deps is the only way pip
# leaves PyCaret's dependencies out, so `pip check` must then find nothing missing but those.
# Dependencies go in before the code, so a code change reinstalls nothing. Every pin is a wheel,
# so no compiler is installed (and none is left behind), and no apt package either: scikit-learn's
# wheel carries its own OpenMP runtime. docker/slim-site-packages removes, in this same layer, what
# serving never reads (test suites, translations other than English, source maps, C sources and
# headers, sample data sets). No bytecode yet: the last step compiles what serving imports.
COPY requirements-serve.txt ./
COPY docker/slim-site-packages docker/
RUN pip install --no-cache-dir --no-deps --no-compile -r requirements-serve.txt \
 && { python -m pip check > /tmp/pip-check || true; } \
 && if grep -v '^pycaret 3\.3\.2 requires [A-Za-z0-9_.-]*, which is not installed\.$' /tmp/pip-check; then \
      echo "requirements-serve.txt lacks a dependency (above): pin it there" >&2; exit 1; \
    fi \
 && docker/slim-site-packages \
 && rm -rf /tmp/pip-check /root/.cache

# The app runs as an unprivileged system user that owns nothing in /app; USER names it by number,
# so a host or an orchestrator can tell it is not root without reading the image's /etc/passwd.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY . .
# Static files are collected at build time and served by WhiteNoise. Then the bytecode: the app user
# cannot write it, and without it every start would compile the whole stack again, so
# docker/compile_serving_bytecode.py does what a container does (migrate a throwaway SQLite
# database, load and use every model, import every command, request every page) and so writes the
# .pyc of exactly the modules serving imports; the project's own packages are compiled whole. A
# build step is not a deploy: local mode lets the settings load without PostgreSQL or a key, and
# the variable is not kept in the image, so the container still requires both.
RUN DJANGO_LOCAL_MODE=true python manage.py collectstatic --noinput --verbosity 0 \
 && DJANGO_LOCAL_MODE=true python docker/compile_serving_bytecode.py \
 && python -m compileall -q predictor insurance_site

USER 10001:10001
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=4)"]

# docker/entrypoint checks the required settings (and builds DATABASE_URL from DB_* parts),
# then runs the command: by default docker/start, which migrates behind an advisory lock and
# execs gunicorn. Any other command (a one-off migration, createsuperuser) goes through it too.
ENTRYPOINT ["/app/docker/entrypoint"]
CMD ["/app/docker/start"]
