"""Microsoft Entra ID's multi-tenant endpoint (`common`) answers an issuer
template; only the directories an admin listed are admitted, and the
token's issuer must name the same directory as its `tid`."""

from __future__ import annotations

import pytest

from ostiary.identity.oidc import expected_issuer
from ostiary.identity.provider import AnswerRefused, ProviderConfig

ALLOWED = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEMPLATE = {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}


def _config(issuer: str, allowed=(ALLOWED,)) -> ProviderConfig:
    return ProviderConfig(1, 1, "microsoft", "Microsoft", "entra", issuer, "app", "env:X", "openid", {}, tuple(allowed),
                          "existing", (), (), True)


def test_common_admits_a_listed_directory_with_its_own_issuer():
    config = _config("https://login.microsoftonline.com/common/v2.0")
    assert expected_issuer(config, TEMPLATE, ALLOWED) == f"https://login.microsoftonline.com/{ALLOWED}/v2.0"


@pytest.mark.parametrize("tid", ["00000000-0000-0000-0000-000000000001", None, ""])
def test_common_refuses_a_directory_nobody_listed(tid):
    with pytest.raises(AnswerRefused, match="not one this provider admits"):
        expected_issuer(_config("https://login.microsoftonline.com/common/v2.0"), TEMPLATE, tid)


def test_a_tenant_specific_issuer_is_compared_as_it_is():
    issuer = f"https://login.microsoftonline.com/{ALLOWED}/v2.0"
    assert expected_issuer(_config(issuer, ()), {"issuer": issuer}, "anything") == issuer
