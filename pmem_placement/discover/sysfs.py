"""Read namespaces from sysfs (/sys/bus/nd/devices) without ndctl.

Each namespace becomes a record shaped like ndctl's JSON, so the parser and the usability rule
are the same for every backend:

- ``namespaceX.Y/mode``: dax -> devdax, memory -> fsdax, safe -> sector, raw -> raw;
- ``alt_name`` is the name; ``uuid`` and ``numa_node`` as they read; ``size`` is the usable
  capacity, as ndctl prints it: the dax device's for devdax, the holder's (pfn, btt) for fsdax
  and sector, else the namespace's;
- a namespace with neither a driver bound nor a holder is disabled;
- a devdax namespace's holder (an nd_dax device, e.g. dax0.2) has the dax device as a child
  directory (e.g. dax0.2/dax0.3): its driver says its mode (device_dax -> devdax,
  kmem -> system-ram); no driver means the device is disabled.
"""

import os
import re

from pmem_placement.discover import ndctl_json
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import DiscoveryError
from pmem_placement.errors import ParseError

_MODES = {"dax": "devdax", "memory": "fsdax", "safe": "sector", "raw": "raw"}
_DEVICE_MODES = {"device_dax": "devdax", "kmem": "system-ram"}
_NAMESPACE = re.compile(r"namespace\d+\.\d+\Z")
_DAX_DEVICE = re.compile(r"dax\d+\.\d+\Z")
_HOLDER = re.compile(r"(pfn|btt)\d+\.\d+\Z")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DiscoveryError(f"sysfs: cannot read {path}: {exc.strerror or exc}") from exc


def _driver(path: str) -> str | None:
    link = os.path.join(path, "driver")
    if not os.path.islink(link):
        return None
    return os.path.basename(os.readlink(link))


def _int(path: str) -> int | None:
    value = _read(path)
    if value is None or value == "":
        return None
    try:
        return int(value, 0)
    except ValueError:
        raise ParseError(f"sysfs: {path} is {value!r}, not a number") from None


def _device(devices_dir: str, holder: str) -> dict[str, object] | None:
    nd_dax = os.path.join(devices_dir, holder)
    try:
        children = sorted(c for c in os.listdir(nd_dax) if _DAX_DEVICE.match(c))
    except OSError:
        return None
    for child in children:
        path = os.path.join(nd_dax, child)
        if not os.path.isdir(path):
            continue
        driver = _driver(path)
        device: dict[str, object] = {"chardev": child}
        if driver is None:
            device["state"] = "disabled"
        else:
            device["mode"] = _DEVICE_MODES.get(driver, driver)
        size = _int(os.path.join(path, "size"))
        if size is not None:
            device["size"] = size
        return device
    return None


def _record(devices_dir: str, dev: str) -> dict[str, object]:
    path = os.path.join(devices_dir, dev)
    raw_mode = _read(os.path.join(path, "mode"))
    if raw_mode is None:
        raise DiscoveryError(f"sysfs: {path} has no mode attribute")
    holder = _read(os.path.join(path, "holder")) or ""
    record: dict[str, object] = {"dev": dev, "mode": _MODES.get(raw_mode, raw_mode)}
    for key, attr in (("name", "alt_name"), ("uuid", "uuid")):
        value = _read(os.path.join(path, attr))
        if value:
            record[key] = value
    for key in ("size", "numa_node"):
        number = _int(os.path.join(path, key))
        if number is not None:
            record[key] = number
    if not holder and _driver(path) is None:
        record["state"] = "disabled"
    if record["mode"] == "devdax" and holder:
        device = _device(devices_dir, holder)
        record["daxregion"] = {"devices": [device] if device else []}
        if device and "size" in device:
            record["size"] = device["size"]  # the usable capacity, as ndctl reports it
    elif _HOLDER.match(holder):
        # fsdax (pfn) and sector (btt): the holder's size is what is left after its metadata.
        size = _int(os.path.join(devices_dir, holder, "size"))
        if size is not None:
            record["size"] = size
    return record


def discover(sysfs_root: str) -> list[Namespace]:
    devices_dir = os.path.join(sysfs_root, "bus", "nd", "devices")
    try:
        entries = sorted(e for e in os.listdir(devices_dir) if _NAMESPACE.match(e))
    except FileNotFoundError:
        return []  # no libnvdimm bus: a host without persistent memory
    except OSError as exc:
        raise DiscoveryError(f"[pmem]sysfs_root: cannot list {devices_dir}: {exc.strerror or exc}") from exc
    return ndctl_json.from_records([_record(devices_dir, dev) for dev in entries], source="sysfs")
