"""Where each admin page lives. Reads are GET; every change is a POST form
with a CSRF token."""

from __future__ import annotations

from starlette.routing import Route

from ostiary.portal.admin import (
    apps, branding, confirmations, domains, oidc_clients, people, providers, security, settings,
)


def _get(path: str, endpoint) -> Route:
    return Route(path, endpoint, methods=["GET"])


def _post(path: str, endpoint) -> Route:
    return Route(path, endpoint, methods=["POST"])


admin_routes = [
    _get("/admin", security.overview),
    *branding.routes,
    _get("/admin/domains", domains.domain_list),
    _post("/admin/domains", domains.domain_add),
    _get("/admin/domains/{name}", domains.domain_detail),
    _post("/admin/domains/{name}/verify", domains.domain_verify),
    _get("/admin/domains/{name}/delete", confirmations.domain_delete),
    _post("/admin/domains/{name}/delete", domains.domain_delete),
    _get("/admin/apps", apps.app_list),
    _post("/admin/apps", apps.app_add),
    _get("/admin/apps/{app_id:int}", apps.app_detail),
    _post("/admin/apps/{app_id:int}", apps.app_edit),
    _post("/admin/apps/{app_id:int}/enabled", apps.app_enabled),
    _post("/admin/apps/{app_id:int}/grants", apps.app_grant),
    _get("/admin/apps/{app_id:int}/delete", confirmations.app_delete),
    _post("/admin/apps/{app_id:int}/delete", apps.app_delete),
    _get("/admin/users", people.user_list),
    _post("/admin/users", people.user_add),
    _get("/admin/users/{user_id:int}", people.user_detail),
    _get("/admin/users/{user_id:int}/disable", confirmations.user_disable),
    _post("/admin/users/{user_id:int}/edit", people.user_edit),
    _get("/admin/users/{user_id:int}/delete", confirmations.user_delete),
    _post("/admin/users/{user_id:int}/delete", people.user_delete),
    _post("/admin/users/{user_id:int}/active", people.user_active),
    _post("/admin/users/{user_id:int}/admin", people.user_admin),
    _post("/admin/users/{user_id:int}/password", people.user_password),
    _post("/admin/users/{user_id:int}/invite", people.user_invite),
    _post("/admin/users/{user_id:int}/second-factors/reset", people.user_second_factor_reset),
    _post("/admin/users/{user_id:int}/groups", people.user_membership),
    _get("/admin/users/{user_id:int}/sessions/end", confirmations.user_sessions_end),
    _post("/admin/users/{user_id:int}/sessions/end", people.user_sessions_end),
    _get("/admin/groups", people.group_list),
    _post("/admin/groups", people.group_add),
    _get("/admin/groups/{group_id:int}", people.group_detail),
    _post("/admin/groups/{group_id:int}/move", people.group_move),
    _post("/admin/groups/{group_id:int}/rename", people.group_rename),
    _post("/admin/groups/{group_id:int}/members", people.group_membership),
    _get("/admin/groups/{group_id:int}/delete", confirmations.group_delete),
    _post("/admin/groups/{group_id:int}/delete", people.group_delete),
    _get("/admin/providers", providers.provider_list),
    _post("/admin/providers", providers.provider_add),
    _post("/admin/providers/password-sign-in", providers.password_switch),
    _post("/admin/providers/second-factor-policy", providers.second_factor_policy),
    _get("/admin/providers/{provider_id:int}", providers.provider_detail),
    _post("/admin/providers/{provider_id:int}", providers.provider_edit),
    _post("/admin/providers/{provider_id:int}/mappings", providers.provider_mapping),
    _get("/admin/providers/{provider_id:int}/delete", confirmations.provider_delete),
    _post("/admin/providers/{provider_id:int}/delete", providers.provider_delete),
    _get("/admin/oidc-clients", oidc_clients.client_list),
    _post("/admin/oidc-clients", oidc_clients.client_add),
    _get("/admin/oidc-clients/{client_pk:int}", oidc_clients.client_detail),
    _post("/admin/oidc-clients/{client_pk:int}", oidc_clients.client_edit),
    _post("/admin/oidc-clients/{client_pk:int}/grants", oidc_clients.client_grant),
    _post("/admin/oidc-clients/{client_pk:int}/rotate-secret", oidc_clients.client_rotate_secret),
    _post("/admin/oidc-clients/{client_pk:int}/delete", oidc_clients.client_delete),
    _get("/admin/settings", settings.settings_page),
    _post("/admin/settings/session-limits", settings.session_limits),
    _get("/admin/sessions", security.session_list),
    _post("/admin/sessions/{session_id}/revoke", security.session_revoke),
    _get("/admin/audit", security.audit_list),
    _get("/admin/audit.csv", security.audit_csv),
    _get("/admin/keys", security.key_list),
    _get("/admin/keys/rotate", confirmations.key_rotate),
    _post("/admin/keys/rotate", security.key_rotate),
    _get("/admin/tokens", security.token_list),
    _post("/admin/tokens", security.token_add),
    _get("/admin/tokens/{token_id:int}/revoke", confirmations.token_revoke),
    _post("/admin/tokens/{token_id:int}/revoke", security.token_revoke),
]
