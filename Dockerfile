# Production image: non-root, migrations on start, PostgreSQL via TRACKER_DATABASE_URL.
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
