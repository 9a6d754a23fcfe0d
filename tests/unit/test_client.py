"""The Placement client's handling of answers a real server will not give on demand."""

import pytest
import requests
import requests_mock
from keystoneauth1 import adapter
from keystoneauth1 import session

from pmem_placement.placement import errors
from pmem_placement.placement.client import Client
from tests import helpers

URL = "http://placement.example:8778"
RP = "0d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"


@pytest.fixture
def client():
    return helpers.placement_client(URL, "secret-token")


@pytest.fixture
def mock():
    with requests_mock.Mocker() as m:
        yield m


def error_body(status, code=None, detail="something"):
    err = {"status": status, "title": "x", "detail": detail}
    if code:
        err["code"] = code
    return {"errors": [err]}


def test_every_request_carries_the_microversion_and_token(client, mock):
    mock.get(f"{URL}/resource_providers/{RP}/traits",
             json={"traits": ["CUSTOM_A"], "resource_provider_generation": 3})
    assert client.traits(RP) == (3, frozenset({"CUSTOM_A"}))
    sent = mock.last_request
    assert sent.headers["OpenStack-API-Version"] == "placement 1.26"
    assert sent.headers["X-Auth-Token"] == "secret-token"
    assert client.requests == {"GET": 1}


@pytest.mark.parametrize(
    "code, exc",
    [
        ("placement.concurrent_update", errors.ConcurrentUpdate),
        ("placement.inventory.inuse", errors.InventoryInUse),
        ("placement.resource_provider.inuse", errors.ProviderInUse),
        ("placement.duplicate_name", errors.DuplicateName),
        ("placement.resource_provider.cannot_delete_parent", errors.CannotDeleteParent),
        ("placement.undefined_code", errors.PlacementError),
        (None, errors.PlacementError),
    ],
)
def test_409_codes_become_typed_exceptions(client, mock, code, exc):
    mock.put(f"{URL}/resource_providers/{RP}/inventories", status_code=409, json=error_body(409, code))
    with pytest.raises(exc) as info:
        client.set_inventories(RP, 1, {})
    assert type(info.value) is exc
    assert info.value.status == 409 and info.value.code == code


def test_detail_text_is_never_branched_on(client, mock):
    # A conflict whose detail mentions "generation" but whose code says in-use is in-use.
    body = error_body(409, "placement.inventory.inuse", "resource provider generation conflict")
    mock.put(f"{URL}/resource_providers/{RP}/inventories", status_code=409, json=body)
    with pytest.raises(errors.InventoryInUse):
        client.set_inventories(RP, 1, {})


def test_old_placement_says_which_version_it_has(client, mock):
    body = {"errors": [{"status": 406, "title": "Not Acceptable", "detail": "Unacceptable version header: 1.26",
                        "max_version": "1.17", "min_version": "1.0"}]}
    mock.get(f"{URL}/resource_providers?in_tree={RP}", status_code=406, json=body)
    with pytest.raises(errors.VersionTooOld, match="up to 1.17; pmem-placement needs 1.26 or later"):
        client.tree(RP)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(client, mock, status):
    mock.get(f"{URL}/resource_providers?in_tree={RP}", status_code=status, text="<html>Service Unavailable</html>")
    with pytest.raises(errors.Unavailable, match=f"with {status}: <html>Service Unavailable</html>"):
        client.tree(RP)


def test_connection_refused_is_unavailable(client, mock):
    mock.get(f"{URL}/resource_providers?in_tree={RP}", exc=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(errors.Unavailable) as info:
        client.tree(RP)
    assert str(info.value) == f"cannot reach Placement at {URL} (GET /resource_providers?in_tree={RP}): refused"


def test_timeout_is_unavailable(client, mock):
    mock.get(f"{URL}/resource_providers?in_tree={RP}", exc=requests.exceptions.ConnectTimeout("slow"))
    with pytest.raises(errors.Unavailable):
        client.tree(RP)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_the_auth_options(client, mock, status):
    mock.get(f"{URL}/resource_providers?in_tree={RP}", status_code=status, json=error_body(status))
    with pytest.raises(errors.Forbidden, match=r"check the \[placement\] auth options"):
        client.tree(RP)


def test_few_classes_are_created_directly(client, mock):
    mock.put(f"{URL}/resource_classes/CUSTOM_A", status_code=201)
    mock.put(f"{URL}/resource_classes/CUSTOM_B", status_code=204)
    client.ensure_resource_classes(["CUSTOM_A", "CUSTOM_B"])
    assert [r.method for r in mock.request_history] == ["PUT", "PUT"]


def test_many_classes_are_listed_first_and_only_missing_ones_created(client, mock):
    mock.get(f"{URL}/resource_classes", json={"resource_classes": [{"name": "VCPU"}, {"name": "CUSTOM_A"},
                                                                   {"name": "CUSTOM_C"}]})
    mock.put(f"{URL}/resource_classes/CUSTOM_B", status_code=201)
    client.ensure_resource_classes(["CUSTOM_A", "CUSTOM_B", "CUSTOM_C"])
    assert [(r.method, r.path) for r in mock.request_history] == [
        ("GET", "/resource_classes"), ("PUT", "/resource_classes/custom_b")]


def test_many_traits_are_listed_first(client, mock):
    mock.get(f"{URL}/traits?name=in:CUSTOM_A,CUSTOM_B,CUSTOM_C", json={"traits": ["CUSTOM_A", "CUSTOM_B"]})
    mock.put(f"{URL}/traits/CUSTOM_C", status_code=201)
    client.ensure_traits(["CUSTOM_A", "CUSTOM_B", "CUSTOM_C"])
    assert client.requests == {"GET": 1, "PUT": 1}


def test_create_provider_sends_parent_and_returns_generation(client, mock):
    mock.post(f"{URL}/resource_providers", json={"uuid": RP, "name": "cn:pmem", "generation": 0})
    assert client.create_provider("cn:pmem", RP, "11111111-2222-3333-4444-555555555555") == 0
    assert mock.last_request.json() == {"name": "cn:pmem", "uuid": RP,
                                        "parent_provider_uuid": "11111111-2222-3333-4444-555555555555"}


def test_tls_verification_failure_is_its_own_error(client, mock):
    mock.get(f"{URL}/resource_providers?in_tree={RP}",
             exc=requests.exceptions.SSLError("certificate verify failed: self-signed certificate"))
    with pytest.raises(errors.TlsVerificationFailed, match=r"certificate verify failed.*\[placement\]cafile"):
        client.tree(RP)


def test_an_unreadable_ca_file_is_a_configuration_error(client, mock):
    mock.get(f"{URL}/resource_providers?in_tree={RP}",
             exc=OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /nope"))
    with pytest.raises(errors.CaFileUnreadable, match="/nope") as info:
        client.tree(RP)
    assert info.value.exit_status == 2


def test_no_endpoint_in_the_catalog_is_its_own_error():
    from keystoneauth1 import exceptions as ks_exc

    class NoCatalog(adapter.Adapter):
        def request(self, *args, **kwargs):
            raise ks_exc.EmptyCatalog("The service catalog is empty.")

        def get_endpoint(self, *args, **kwargs):
            raise ks_exc.EmptyCatalog("The service catalog is empty.")

    client = Client(NoCatalog(session.Session(), service_type="placement"))
    with pytest.raises(errors.NoEndpoint, match="catalog is empty.*endpoint_override"):
        client.tree(RP)
    with pytest.raises(errors.NoEndpoint):
        client.endpoint


@pytest.mark.parametrize("body, content_type", [("<html>It works!</html>", "text/html"),
                                                ("[1, 2]", "application/json")])
def test_an_answer_that_is_not_a_json_object_names_url_and_content_type(client, mock, body, content_type):
    mock.get(f"{URL}/resource_providers?in_tree={RP}", text=body, headers={"Content-Type": content_type})
    with pytest.raises(errors.NotJson) as info:
        client.tree(RP)
    assert f"GET {URL}/resource_providers?in_tree={RP} answered 200 with {content_type}" in str(info.value)


def test_each_request_calls_the_heartbeat_first(mock):
    beats = []
    client = helpers.placement_client(URL, "secret-token", on_request=lambda: beats.append(len(mock.request_history)))
    mock.get(f"{URL}/resource_providers?in_tree={RP}", json={"resource_providers": []})
    client.tree(RP)
    client.tree(RP)
    assert beats == [0, 1]
