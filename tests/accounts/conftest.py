from tests.pages.conftest import team  # noqa: F401 - the throttle tests use it
