from tests.api.conftest import api, other_api  # noqa: F401 - the settings tests use them
from tests.pages.conftest import team  # noqa: F401
