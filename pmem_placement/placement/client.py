"""The only module that speaks HTTP to Placement.

Every request carries microversion 1.26, so an older Placement answers the first request with
406 and its max version, which becomes ``VersionTooOld``: the version is checked on every
request at no extra cost. Error answers become the typed exceptions of ``errors``; transport
failures (after keystoneauth's own connect and status-code retries, configured in
[placement]) become ``Unavailable``. Nothing here retries, logs payloads or decides policy.
"""

import collections
import typing
import urllib.parse

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc

from pmem_placement.desired import Inventory
from pmem_placement.placement import errors

# Up to this many names, create-if-missing costs one PUT each; beyond it, one listing first.
_ENSURE_DIRECTLY = 2


def _reason(exc: BaseException) -> str:
    """The root cause an operator can act on ("Connection refused"), not urllib3's retelling."""
    if isinstance(exc, ks_exc.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, ks_exc.RequestTimeout):
        return "no answer within [placement]timeout"
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for link in chain:
        if isinstance(link, OSError) and link.strerror:
            return str(link.strerror)
        nested = [arg for arg in link.args if isinstance(arg, BaseException)]
        if nested:
            return _reason(nested[0])
    return str(chain[-1])


class Client:
    def __init__(self, adapter: ks_adapter.Adapter) -> None:
        self._adapter = adapter
        self.requests: collections.Counter[str] = collections.Counter()
        """Requests sent, by HTTP method."""

    @property
    def endpoint(self) -> str:
        try:
            return str(self._adapter.get_endpoint() or "")
        except ks_exc.ClientException as exc:
            raise errors.Unavailable(f"cannot find the Placement endpoint: {exc}") from exc

    def _call(
        self, method: str, path: str, body: typing.Any = None, ok: tuple[int, ...] = (200,)
    ) -> typing.Any:
        self.requests[method] += 1
        try:
            resp = self._adapter.request(
                path, method, json=body, microversion=errors.REQUIRED_MICROVERSION, raise_exc=False
            )
        except ks_exc.http.Unauthorized as exc:
            raise errors.Unavailable(f"authentication for Placement failed ([placement] auth options): {exc}") from exc
        except ks_exc.ClientException as exc:
            # Connection refused, timeouts, TLS failures, no endpoint in the catalog.
            try:
                where = f" at {self._adapter.get_endpoint()}"
            except ks_exc.ClientException:
                where = ""
            raise errors.Unavailable(f"cannot reach Placement{where} ({method} {path}): {_reason(exc)}") from exc
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if resp.status_code not in ok:
            raise errors.from_response(method, path, resp.status_code, data, resp.text)
        return data

    # Reads

    def provider_by_name(self, name: str) -> dict[str, typing.Any] | None:
        query = urllib.parse.urlencode({"name": name})
        found = self._call("GET", f"/resource_providers?{query}")["resource_providers"]
        return found[0] if found else None

    def tree(self, root_uuid: str) -> list[dict[str, typing.Any]]:
        """Every provider in the tree holding ``root_uuid`` ([] when there is none)."""
        query = urllib.parse.urlencode({"in_tree": root_uuid})
        return list(self._call("GET", f"/resource_providers?{query}")["resource_providers"])

    def inventories(self, uuid: str) -> tuple[int, dict[str, Inventory]]:
        data = self._call("GET", f"/resource_providers/{uuid}/inventories")
        inv = {rc: Inventory.from_api(rec) for rc, rec in data["inventories"].items()}
        return data["resource_provider_generation"], inv

    def traits(self, uuid: str) -> tuple[int, frozenset[str]]:
        data = self._call("GET", f"/resource_providers/{uuid}/traits")
        return data["resource_provider_generation"], frozenset(data["traits"])

    def usages(self, uuid: str) -> tuple[int, dict[str, int]]:
        data = self._call("GET", f"/resource_providers/{uuid}/usages")
        return data["resource_provider_generation"], dict(data["usages"])

    # Writes

    def create_provider(self, name: str, uuid: str, parent_uuid: str | None) -> int:
        """Create a provider; its generation (0) is returned."""
        body = {"name": name, "uuid": uuid}
        if parent_uuid:
            body["parent_provider_uuid"] = parent_uuid
        return int(self._call("POST", "/resource_providers", body)["generation"])

    def delete_provider(self, uuid: str) -> None:
        self._call("DELETE", f"/resource_providers/{uuid}", ok=(204,))

    def set_traits(self, uuid: str, generation: int, traits: typing.Iterable[str]) -> int:
        body = {"resource_provider_generation": generation, "traits": sorted(traits)}
        return int(self._call("PUT", f"/resource_providers/{uuid}/traits", body)["resource_provider_generation"])

    def set_inventories(self, uuid: str, generation: int, inventories: typing.Mapping[str, Inventory]) -> int:
        body = {
            "resource_provider_generation": generation,
            "inventories": {rc: inv.as_dict() for rc, inv in inventories.items()},
        }
        data = self._call("PUT", f"/resource_providers/{uuid}/inventories", body)
        return int(data["resource_provider_generation"])

    def ensure_resource_classes(self, names: typing.Sequence[str]) -> None:
        """Create the custom resource classes that do not exist yet."""
        missing = list(names)
        if len(missing) > _ENSURE_DIRECTLY:
            existing = {rc["name"] for rc in self._call("GET", "/resource_classes")["resource_classes"]}
            missing = [n for n in missing if n not in existing]
        for name in missing:
            self._call("PUT", f"/resource_classes/{name}", ok=(201, 204))

    def ensure_traits(self, names: typing.Sequence[str]) -> None:
        """Create the custom traits that do not exist yet."""
        missing = list(names)
        if len(missing) > _ENSURE_DIRECTLY:
            query = urllib.parse.urlencode({"name": "in:" + ",".join(missing)})
            existing = set(self._call("GET", f"/traits?{query}")["traits"])
            missing = [n for n in missing if n not in existing]
        for name in missing:
            self._call("PUT", f"/traits/{name}", ok=(201, 204))

    def rename_provider(self, uuid: str, name: str, parent_uuid: str | None) -> int:
        """Give a provider a new name (its generation does not move; it is returned)."""
        body: dict[str, str] = {"name": name}
        if parent_uuid:
            body["parent_provider_uuid"] = parent_uuid
        return int(self._call("PUT", f"/resource_providers/{uuid}", body)["generation"])
