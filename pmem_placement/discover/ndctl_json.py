"""Parse what ``ndctl list`` prints into ``Namespace`` values.

Pure: no I/O. Accepts every shape real ndctl has printed (DESIGN.md): an array (v62+), a bare
object (v61 and older, or a single match), nothing at all when nothing matched, namespaces nested
under buses and regions (``-B``/``-R``), ``daxregion`` with or without ``devices`` and ``align``.
Records of size 0 (idle seeds, destroyed namespaces that keep their name) are not namespaces.
Anything else raises ``ParseError`` naming the namespace and field; it never returns a guess.
"""

import json
import typing

from pmem_placement.discover.model import Namespace
from pmem_placement.errors import ParseError

# Keys under which ndctl nests child objects (bus -> regions -> namespaces).
_CONTAINER_KEYS = ("buses", "regions", "namespaces")


def parse(text: str, source: str = "ndctl") -> list[Namespace]:
    """Parse ndctl's JSON text. Empty output means no namespaces (ndctl prints nothing, not [])."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{source} output is not valid JSON: {exc}") from exc
    return from_records(data, source)


def from_records(data: object, source: str = "ndctl") -> list[Namespace]:
    """Turn decoded ndctl JSON (list, bare object or nested containers) into namespaces."""
    found: list[Namespace] = []
    _collect(data, source, found)
    return found


def _collect(obj: object, source: str, found: list[Namespace]) -> None:
    if isinstance(obj, list):
        for item in obj:
            _collect(item, source, found)
        return
    if not isinstance(obj, dict):
        raise ParseError(f"{source} output has {type(obj).__name__} where an object was expected")
    dev = obj.get("dev")
    if isinstance(dev, str) and dev.startswith("namespace"):
        namespace = _namespace(obj, dev, source)
        # Size 0 is no namespace: a region's idle seed, or one destroyed with ndctl
        # destroy-namespace, which the kernel keeps with its old name (alt_name).
        if namespace.size != 0:
            found.append(namespace)
        return
    for key in _CONTAINER_KEYS:
        if key in obj:
            children = obj[key]
            if not isinstance(children, list | dict):
                raise ParseError(f"{source} output: '{key}' is {type(children).__name__}, not a list")
            _collect(children, source, found)


T = typing.TypeVar("T")


def _field(obj: dict[str, object], key: str, kind: type[T], where: str) -> T | None:
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int subclass; a boolean size or node is never valid.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ParseError(f"{where}: '{key}' is {type(value).__name__} {value!r}, expected {kind.__name__}")
    return value


def _namespace(obj: dict[str, object], dev: str, source: str) -> Namespace:
    where = f"{source} output, {dev}"
    mode = _field(obj, "mode", str, where)
    if mode is None:
        raise ParseError(f"{where}: no 'mode'")
    # ndctl -u prints sizes as rounded strings ("250.00 MiB"); they are informative only.
    size = None if isinstance(obj.get("size"), str) else _field(obj, "size", int, where)
    # numa_node where printed; else target_node, the node the memory itself belongs to.
    numa_node = _field(obj, "numa_node", int, where)
    if numa_node is None:
        numa_node = _field(obj, "target_node", int, where)

    has_device_list = False
    chardev = device_mode = None
    device_disabled = False
    daxregion = _field(obj, "daxregion", dict, where)
    if daxregion is not None:
        devices = _field(daxregion, "devices", list, f"{where} daxregion")
        if devices is not None:
            has_device_list = True
            if devices:
                first = devices[0]
                if not isinstance(first, dict):
                    raise ParseError(f"{where}: daxregion.devices[0] is {type(first).__name__}, expected dict")
                dwhere = f"{where} daxregion.devices[0]"
                chardev = _field(first, "chardev", str, dwhere)
                if chardev is None:
                    raise ParseError(f"{dwhere}: no 'chardev'")
                device_mode = _field(first, "mode", str, dwhere)
                device_disabled = _field(first, "state", str, dwhere) == "disabled"
                for key in ("numa_node", "target_node"):
                    if numa_node is None:
                        numa_node = _field(first, key, int, dwhere)

    return Namespace(
        dev=dev,
        mode=mode,
        name=_field(obj, "name", str, where) or None,
        size=size,
        uuid=_field(obj, "uuid", str, where),
        numa_node=numa_node,
        disabled=_field(obj, "state", str, where) == "disabled",
        has_device_list=has_device_list,
        chardev=chardev,
        device_mode=device_mode,
        device_disabled=device_disabled,
    )
