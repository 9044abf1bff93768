from tests.api.conftest import api, other_api  # noqa: F401 - the regression tests use them
