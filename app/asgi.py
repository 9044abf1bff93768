"""The ASGI entry point for uvicorn: `uvicorn app.asgi:app`."""

from app.main import create_app

# `serve` runs the engine in-process unless TRACKER_ENGINE=off.
app = create_app(run_engine=True)
