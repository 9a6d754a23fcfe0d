"""Consumer types a real (current) Placement will not withhold: an old Placement, played by
requests-mock; and the microversion the consumer-type read needs."""

import pytest
import requests_mock

from pmem_placement import consumers
from tests import helpers

URL = "http://placement.example:8778"
RP = "0d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"
VM = "11111111-2222-4333-8444-555555555555"
OTHER = "99999999-2222-4333-8444-555555555555"


@pytest.fixture
def client():
    return helpers.placement_client(URL, "secret-token")


def test_consumer_type_is_read_at_1_38_and_only_for_pmem_holders(client):
    with requests_mock.Mocker() as m:
        m.get(f"{URL}/resource_providers/{RP}/allocations", json={"allocations": {
            VM: {"resources": {"CUSTOM_PMEM_NAMESPACE_4GB": 1}},
            OTHER: {"resources": {"CUSTOM_OTHER": 1}}}, "resource_provider_generation": 4})
        m.get(f"{URL}/allocations/{VM}", json={"allocations": {}, "consumer_type": "INSTANCE"})
        assert consumers.nova_guests(client, RP) == [consumers.Guest(VM, {"CUSTOM_PMEM_NAMESPACE_4GB": 1})]
        assert m.last_request.headers["OpenStack-API-Version"] == "placement 1.38"
        assert [r.path for r in m.request_history] == [f"/resource_providers/{RP}/allocations".lower(),
                                                        f"/allocations/{VM}"]


def test_placement_older_than_1_38_still_warns_without_claiming_the_type(client):
    with requests_mock.Mocker() as m:
        m.get(f"{URL}/resource_providers/{RP}/allocations", json={"allocations": {
            VM: {"resources": {"CUSTOM_PMEM_NAMESPACE_4GB": 1}}}, "resource_provider_generation": 4})
        m.get(f"{URL}/allocations/{VM}", status_code=406, json={"errors": [
            {"status": 406, "title": "Not Acceptable", "detail": "...", "max_version": "1.36",
             "min_version": "1.0"}]})
        [guest] = consumers.nova_guests(client, RP)
    assert not guest.type_known
    message = consumers.warning(guest, "compute-1:pmem")
    assert message.startswith(f"consumer {VM} (a nova instance? Placement older than microversion 1.38 "
                              "cannot say) holds CUSTOM_PMEM_NAMESPACE_4GB=1 from compute-1:pmem")
