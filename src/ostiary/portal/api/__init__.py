"""The JSON API under /api/v1 (FastAPI; OpenAPI at /api/v1/openapi.json)."""

from ostiary.portal.api.app import build_api

__all__ = ["build_api"]
