# Production image: non-root, migrations on start, PostgreSQL via TRACKER_DATABASE_URL.
#
# TRACKER_SECRET_KEY is deliberately not set here (never bake a secret into an image): pass it when
# the container starts. Generate it once and keep it: it signs sessions and encrypts webhook
# secrets, so every restart and every replica needs the same value.
#   python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > tracker-secret
#   docker run -e TRACKER_SECRET_KEY="$(cat tracker-secret)" \
#     -e TRACKER_DATABASE_URL=postgresql+psycopg://tracker@db:5432/tracker -p 8000:8000 IMAGE
# (or --env-file, or the orchestrator's secret store). Without it the container exits at once:
# `serve` listens on 0.0.0.0 here, and accepts the development secret on loopback only.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TRACKER_DATABASE_URL=sqlite:////data/tracker.db TRACKER_DATA_DIR=/data/uploads
RUN useradd --create-home --uid 10001 tracker && mkdir /data && chown tracker /data
COPY --from=build /install /usr/local
WORKDIR /srv
COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY app ./app
USER tracker
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["sh", "-c", "contact-tracker migrate && exec contact-tracker serve --host 0.0.0.0 --port 8000"]
