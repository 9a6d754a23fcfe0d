"""The names nova may have registered a host under, each then looked up by name: what `reconcile`
suggests for [DEFAULT]host. Guards against a short host name that gets no hint of its FQDN, and
a resolver's 'localhost' offered as one."""

import socket

import pytest

from pmem_placement import read


@pytest.fixture
def machine(monkeypatch):
    def set_up(hostname, fqdns):
        monkeypatch.setattr(socket, "gethostname", lambda: hostname)
        monkeypatch.setattr(socket, "getfqdn", lambda name="": fqdns.get(name, name or "localhost"))
    return set_up


def test_an_fqdn_gives_its_short_name_and_cases(machine):
    machine("other", {})
    assert read.near_names("Compute-1.example.org") == [
        "Compute-1", "compute-1.example.org", "COMPUTE-1.EXAMPLE.ORG", "compute-1", "COMPUTE-1"]


def test_a_short_name_gives_its_fqdn_from_the_resolver_and_the_placement_domain(machine):
    machine("other", {"vm": "vm.lab.example.org"})
    assert read.near_names("vm", ["example.org"]) == ["vm.lab.example.org", "vm.example.org", "VM", "Vm",
                                                      "VM.LAB.EXAMPLE.ORG", "Vm.lab.example.org",
                                                      "VM.EXAMPLE.ORG", "Vm.example.org"]


def test_a_resolver_that_answers_localhost_offers_nothing(machine):
    machine("other", {"vm": "localhost"})
    assert read.near_names("vm") == ["VM", "Vm"]


def test_this_machine_s_own_fqdn_for_its_short_name(machine):
    machine("vm", {"": "vm.example.org"})
    assert read.near_names("vm")[:2] == ["vm.example.org", "VM"]
    machine("vm.example.org", {})
    assert "vm.example.org" in read.near_names("vm")


@pytest.mark.parametrize("url, domain", [
    ("https://placement.example.org:8778/placement", "example.org"),
    ("http://127.0.0.1:8778", ""), ("http://placement:8778", ""), ("http://a.b", ""), ("", ""), (None, ""),
    ("http://[::1]:8778", ""),
])
def test_the_domain_of_placement_s_url(url, domain):
    assert read._domain(url) == domain
