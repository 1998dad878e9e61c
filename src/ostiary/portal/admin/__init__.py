"""The admin pages on the tenant host: only for signed-in admins."""

from ostiary.portal.admin.routes import admin_routes

__all__ = ["admin_routes"]
