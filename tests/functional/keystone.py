"""Keystone, played by requests-mock, for [placement]auth_type = password: its version document,
its answer to a token request, and a catalog that names Placement."""

KEYSTONE = "http://keystone.invalid/v3"


def password_auth(node, password="wrong"):
    """[placement] authenticates with the password auth type at KEYSTONE, not with the admin token."""
    node.configure(placement={"auth_type": "password", "endpoint": None, "token": None,
                              "auth_url": KEYSTONE, "username": "placement", "password": password,
                              "project_name": "service", "user_domain_name": "Default",
                              "project_domain_name": "Default", "region_name": "RegionOne",
                              "valid_interfaces": "public"})


def keystone_token_body(placement_url):
    """Keystone's answer to a token request: user placement's token, and a catalog naming Placement
    at ``placement_url``."""
    return {"token": {
        "methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
        "issued_at": "2026-01-01T00:00:00.000000Z",
        "user": {"id": "u1", "name": "placement", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "service", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "admin"}],
        "catalog": [{"type": "placement", "name": "placement", "id": "s1", "endpoints": [
            {"id": "e1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne",
             "url": placement_url}]}],
    }}


def keystone(mocker, token_status=201, body=None, token="t"):
    """KEYSTONE on a requests-mock ``mocker``: a token request is answered 201 with the token
    ``token`` and ``body`` (``keystone_token_body``), or refused with ``token_status``."""
    mocker.get(KEYSTONE, json={"version": {
        "id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": KEYSTONE + "/"}]}})
    if token_status == 201:
        mocker.post(KEYSTONE + "/auth/tokens", status_code=201, headers={"X-Subject-Token": token}, json=body)
    else:
        mocker.post(KEYSTONE + "/auth/tokens", status_code=token_status,
                    json={"error": {"code": token_status, "title": "Unauthorized",
                                    "message": "The request you have made requires authentication."}})
