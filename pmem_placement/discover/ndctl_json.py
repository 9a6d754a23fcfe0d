"""Parse what ``ndctl list`` prints into ``Namespace`` values.

Pure: no I/O. Accepts every shape real ndctl has printed (DESIGN.md): an array (v62+), a bare
object (v61 and older, or a single match), nothing at all when nothing matched, namespaces nested
under buses and regions (``--buses``, ``--regions``) with DIMMs beside them (``--dimms``), one bus
or several, regions without DIMMs, ``daxregion`` with or without ``devices`` and ``align``.
Records of size 0 (idle seeds, destroyed namespaces that keep their name) are not namespaces.
Each namespace's health comes from the records around it (``health.assess``). Anything else
raises ``ParseError`` naming the namespace and field; it never returns a guess.
"""

import dataclasses
import json
import typing

from pmem_placement.discover import health
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import DiscoveryError
from pmem_placement.errors import ParseError

# Keys under which ndctl nests child objects (bus -> DIMMs and regions -> namespaces).
_CONTAINER_KEYS = ("buses", "dimms", "regions", "namespaces")
Record = dict[str, typing.Any]


def parse(text: str, source: str = "ndctl", need_bus: bool = False) -> list[Namespace]:
    """Parse ndctl's JSON text. Empty output means no namespaces (ndctl prints nothing, not []);
    with ``need_bus`` (the output of a call with --buses), it means no nd bus at all."""
    return from_records(decode(text, source, need_bus), source)


def decode(text: str, source: str = "ndctl", need_bus: bool = False) -> object:
    """ndctl's JSON text as records (``[]`` for empty output; see ``parse``)."""
    if not text.strip():
        if need_bus:
            raise DiscoveryError(no_bus(source))
        return []
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{source} output is not valid JSON: {exc}") from exc


def no_bus(source: str) -> str:
    return (f"{source}: no nd bus on this host: its persistent memory drivers have not probed (yet), or "
            "it has none; nothing was changed")


@dataclasses.dataclass
class _Walk:
    source: str
    found: list[tuple[Record, Record | None, Record | None]] = dataclasses.field(default_factory=list)
    dimms: dict[str, Record] = dataclasses.field(default_factory=dict)
    listed_dimms: bool = False

    def visit(self, obj: object, bus: Record | None, region: Record | None) -> None:
        if isinstance(obj, list):
            for item in obj:
                self.visit(item, bus, region)
            return
        if not isinstance(obj, dict):
            raise ParseError(f"{self.source} output has {type(obj).__name__} where an object was expected")
        dev = obj.get("dev")
        kind = dev.rstrip("0123456789.") if isinstance(dev, str) else None
        if kind == "namespace":
            self.found.append((obj, region, bus))
            return
        if kind == "nmem":
            self.dimms[str(dev)] = obj
            return
        if kind == "region":
            region = obj
        elif kind == "ndbus" or "provider" in obj:
            bus = obj
        for key in _CONTAINER_KEYS:
            if key in obj:
                children = obj[key]
                if not isinstance(children, list | dict):
                    raise ParseError(f"{self.source} output: '{key}' is {type(children).__name__}, not a list")
                self.listed_dimms = self.listed_dimms or key == "dimms"
                self.visit(children, bus, region)


def is_container(obj: typing.Mapping[str, object]) -> bool:
    """Whether an object of ndctl's output holds others (a bus, a region, the top of -D -R)."""
    return any(key in obj for key in _CONTAINER_KEYS)


def namespace_records(data: object) -> list[Record]:
    """Every namespace record of ndctl's output, whatever its shape, as printed (non-objects kept:
    nova would fail on them too)."""
    found: list[Record] = []

    def visit(obj: object) -> None:
        if isinstance(obj, list):
            for item in obj:
                visit(item)
        elif isinstance(obj, dict) and is_container(obj) and not str(obj.get("dev", "")).startswith("namespace"):
            for key in _CONTAINER_KEYS:
                if key != "dimms" and isinstance(obj.get(key), list | dict):
                    visit(obj[key])
        else:
            found.append(obj)  # type: ignore[arg-type]

    visit(data)
    return found


def from_records(data: object, source: str = "ndctl") -> list[Namespace]:
    """Turn decoded ndctl JSON (list, bare object or nested containers) into namespaces."""
    walk = _Walk(source)
    walk.visit(data, None, None)
    dimms = walk.dimms if walk.listed_dimms else None
    found = []
    for obj, region, bus in walk.found:
        namespace = _namespace(obj, str(obj["dev"]), source, region, bus, dimms)
        # Size 0 is no namespace: a region's idle seed, or one destroyed with ndctl
        # destroy-namespace, which the kernel keeps with its old name (alt_name).
        if namespace.size != 0:
            found.append(namespace)
    return found


T = typing.TypeVar("T")


def _field(obj: typing.Mapping[str, object], key: str, kind: type[T], where: str) -> T | None:
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int subclass; a boolean size or node is never valid.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ParseError(f"{where}: '{key}' is {type(value).__name__} {value!r}, expected {kind.__name__}")
    return value


def _device(obj: Record, where: str) -> Record | None:
    """The first dax device, checked; None when ``daxregion.devices`` is not printed."""
    daxregion = _field(obj, "daxregion", dict, where)
    if daxregion is None:
        return None
    devices = _field(daxregion, "devices", list, f"{where} daxregion")
    if devices is None:
        return None
    if not devices:
        return {}
    first = devices[0]
    if not isinstance(first, dict):
        raise ParseError(f"{where}: daxregion.devices[0] is {type(first).__name__}, expected dict")
    if _field(first, "chardev", str, f"{where} daxregion.devices[0]") is None:
        raise ParseError(f"{where} daxregion.devices[0]: no 'chardev'")
    return first


def _namespace(obj: Record, dev: str, source: str, region: Record | None, bus: Record | None,
               dimms: dict[str, Record] | None) -> Namespace:
    where = f"{source} output, {dev}"
    mode = _field(obj, "mode", str, where)
    if mode is None:
        raise ParseError(f"{where}: no 'mode'")
    # ndctl -u prints sizes as rounded strings ("250.00 MiB"); they are informative only.
    size = None if isinstance(obj.get("size"), str) else _field(obj, "size", int, where)
    device = _device(obj, where)
    dwhere = f"{where} daxregion.devices[0]"
    dev_info = device or {}
    target_node = _field(obj, "target_node", int, where)
    if target_node is None:
        target_node = _field(dev_info, "target_node", int, dwhere)
    # The namespace's node (ndctl prints it with --verbose, sysfs always), else its dax
    # device's, else the node its memory joins (ndctl without --verbose prints only that).
    numa_node = _field(obj, "numa_node", int, where)
    if numa_node is None:
        numa_node = _field(dev_info, "numa_node", int, dwhere)
    if numa_node is None:
        numa_node = target_node
    align = _field(dev_info, "align", int, dwhere)
    if align is None:
        align = _field(obj, "align", int, where)
    _field(obj, "badblock_count", int, where)
    return Namespace(
        dev=dev,
        mode=mode,
        name=_field(obj, "name", str, where) or None,
        size=size,
        uuid=_field(obj, "uuid", str, where),
        numa_node=numa_node,
        disabled=_field(obj, "state", str, where) == "disabled",
        has_device_list=device is not None,
        chardev=_field(dev_info, "chardev", str, dwhere),
        device_mode=_field(dev_info, "mode", str, dwhere),
        device_disabled=_field(dev_info, "state", str, dwhere) == "disabled",
        target_node=target_node,
        align=align,
        region=_field(region, "dev", str, f"{source} output, region") if region is not None else None,
        bus_provider=_field(bus, "provider", str, f"{source} output, bus") if bus is not None else None,
        health=health.assess(obj, region, bus, dimms),
    )
