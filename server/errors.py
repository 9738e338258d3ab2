"""Every error the server answers is JSON `{"error": "..."}` naming what was wrong.

- 4xx raised by the routes (`abort(404, "...")`, werkzeug's NotFound/BadRequest) keep their
  status and message; werkzeug's generic messages (unknown route, wrong method) are replaced
  by one naming the method and path;
- a TwinError (a bad IFC, actions or project file met while loading) is 422 with its message;
- anything else is a bug: logged with its traceback, answered 500, and the server goes on.
"""
from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from twin.errors import TwinError


def error_response(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


def _http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:  # redirects (a missing trailing slash) pass through
        return exc
    message = exc.description
    if message == type(exc).description:  # werkzeug's generic text: say what was asked
        message = f"{exc.name}: {request.method} {request.path}"
    response = error_response(exc.code, message)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _twin_error(exc: TwinError):
    return error_response(422, str(exc))


def _unexpected(exc: Exception):
    from flask import current_app

    current_app.logger.exception("unexpected error answering %s %s", request.method, request.full_path)
    return error_response(500, f"internal error answering {request.method} {request.path}: "
                               f"{type(exc).__name__}: {exc}")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(TwinError, _twin_error)
    app.register_error_handler(Exception, _unexpected)
