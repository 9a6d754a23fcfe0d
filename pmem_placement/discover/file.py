"""Read ndctl JSON from a file ([pmem]namespaces_file): what discovery's ndctl call prints, or
the flat array of ``ndctl list -N -i -X`` (which carries no health signals). An empty file is
what ndctl prints when there is no nd bus: nothing is changed."""

from pmem_placement.discover import ndctl_json
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import ConfigError
from pmem_placement.errors import DiscoveryError


def discover(path: str | None) -> list[Namespace]:
    if not path:
        raise ConfigError("[pmem]namespaces_file must be set when [pmem]discovery = file")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        raise DiscoveryError(f"[pmem]namespaces_file: cannot read {path}: {exc.strerror or exc}") from exc
    return ndctl_json.parse(text, source=path, need_bus=True)
