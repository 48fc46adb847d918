"""One error shape for every status: {"detail": str, "code": str[, "errors": [...]]}."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_CODES_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def not_authenticated() -> ApiError:
    return ApiError(401, "not_authenticated", "Not authenticated", {"WWW-Authenticate": "Bearer"})


def error_response(status: int, code: str, detail: str, **extra) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status)


def _field_errors(exc: RequestValidationError) -> list[dict]:
    """Where and why, without echoing the submitted values back."""
    fields = []
    for error in exc.errors():
        location, *path = error["loc"] or ("body",)
        fields.append({
            "field": ".".join(str(part) for part in path) or location,
            "location": location,
            "message": error["msg"],
        })
    return fields


async def _on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
    response = error_response(exc.status, exc.code, exc.detail)
    response.headers.update(exc.headers or {})
    return response


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return error_response(400, "malformed_json", "Request body is not valid JSON")
    return error_response(422, "validation_error", "Request validation failed", errors=_field_errors(exc))


async def _on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _CODES_BY_STATUS.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
