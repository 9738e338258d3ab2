"""Helpers shared by the server tests (tests/conftest.py puts this folder on sys.path)."""


def error_of(response, status: int) -> str:
    """The error message of a JSON error response, after checking its status and shape {"error": ...}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]
