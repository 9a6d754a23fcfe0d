"""Read namespaces and their health from sysfs (/sys/bus/nd/devices) without ndctl.

Builds the records ndctl's discovery call prints (buses, each with its DIMMs and its regions,
each region with its namespaces), so that the parser, the usability rule and the health rule are
the same for every backend:

- ``namespaceX.Y/mode``: dax -> devdax, memory -> fsdax, safe -> sector, raw -> raw;
- ``alt_name`` is the name; ``uuid`` the holder's (its info block's, as ndctl prints it), else
  the namespace's; ``numa_node`` as it reads; ``size`` is the usable
  capacity, as ndctl prints it: the dax device's for devdax, the holder's (pfn, btt) for fsdax
  and sector, else the namespace's;
- a namespace with neither a driver bound nor a holder is disabled;
- a devdax namespace's holder (an nd_dax device, e.g. dax0.2) has the dax device as a child
  directory (e.g. dax0.2/dax0.3): its driver says its mode (device_dax -> devdax,
  kmem -> system-ram); no driver means the device is disabled; its ``target_node`` and
  ``align`` as they read;
- a namespace belongs to the region of its number (namespace1.0 to region1), a region and a DIMM
  to the bus they sit under; ``regionX/mappingN`` names the DIMMs of a region;
- health: ``regionX/read_only`` (a DIMM that failed to arm makes it 1), ``nmemN/nfit/flags``
  (not_armed, save_fail, restore_fail, flush_fail, map_fail, smart_event: ndctl's
  flag_failed_arm, ...), ``ndbusN/nfit/scrub`` (a trailing ``+``: a scrub is in progress) and
  ``regionX/badblocks`` within the namespace's ``resource`` range. sysfs has no DIMM health
  state (only ndctl's health DSM call has it). A read that fails is recorded, not guessed.
"""

import errno
import os
import re

from pmem_placement.discover import cxl
from pmem_placement.discover import ndctl_json
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import DiscoveryError
from pmem_placement.errors import ParseError

_MODES = {"dax": "devdax", "memory": "fsdax", "safe": "sector", "raw": "raw"}
_DEVICE_MODES = {"device_dax": "devdax", "kmem": "system-ram"}
_FLAGS = {"not_armed": "flag_failed_arm", "save_fail": "flag_failed_save", "restore_fail": "flag_failed_restore",
          "flush_fail": "flag_failed_flush", "map_fail": "flag_failed_map", "smart_event": "flag_smart_event"}
_NAMESPACE = re.compile(r"namespace(\d+)\.\d+\Z")
_DAX_DEVICE = re.compile(r"dax\d+\.\d+\Z")
_HOLDER = re.compile(r"(pfn|btt)\d+\.\d+\Z")
_SECTOR = 512
Record = dict[str, object]


class _Unreadable(Exception):
    pass


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DiscoveryError(f"sysfs: cannot read {path}: {exc.strerror or exc}") from exc


def _signal(path: str) -> str | None:
    """A health attribute: None when the device does not provide it; ``_Unreadable`` when it
    does and cannot be read (a read error, or root-only as ``resource`` is)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTTY, errno.ENXIO, errno.EOPNOTSUPP):
            return None
        raise _Unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc


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


def _device(devices_dir: str, holder: str) -> Record | None:
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
        device: Record = {"chardev": child}
        if driver is None:
            device["state"] = "disabled"
        else:
            device["mode"] = _DEVICE_MODES.get(driver, driver)
        for key in ("size", "target_node", "align"):
            number = _int(os.path.join(path, key))
            if number is not None and not (key == "target_node" and number < 0):
                device[key] = number
        return device
    return None


def _namespace(devices_dir: str, dev: str, region: Record) -> Record:
    path = os.path.join(devices_dir, dev)
    raw_mode = _read(os.path.join(path, "mode"))
    if raw_mode is None:
        raise DiscoveryError(f"sysfs: {path} has no mode attribute")
    holder = _read(os.path.join(path, "holder")) or ""
    record: Record = {"dev": dev, "mode": _MODES.get(raw_mode, raw_mode)}
    for key, attr in (("name", "alt_name"), ("uuid", "uuid")):
        value = _read(os.path.join(path, attr))
        if value:
            record[key] = value
    for key in ("size", "numa_node", "target_node"):  # target_node: as ndctl --verbose prints it
        number = _int(os.path.join(path, key))
        if number is not None and not (key != "size" and number < 0):
            record[key] = number
    _badblocks(path, record, region)
    if holder:
        # ndctl prints the uuid of the holder's info block (dax, pfn, btt), not the label's.
        holder_uuid = _read(os.path.join(devices_dir, holder, "uuid"))
        if holder_uuid:
            record["uuid"] = holder_uuid
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


def _badblocks(path: str, record: Record, region: Record) -> None:
    """``badblock_count``: the region's bad sectors within the namespace's range."""
    bad = region.get("_badblocks")
    if not bad:
        return
    try:
        start, region_start = _signal(os.path.join(path, "resource")), region.get("_resource")
        size = record.get("size")
        if start is None or not isinstance(region_start, int) or not isinstance(size, int):
            raise _Unreadable(f"{region['dev']} has bad blocks and the range of {record['dev']} is not known")
        first = (int(start, 0) - region_start) // _SECTOR
        last = first + size // _SECTOR
        assert isinstance(bad, list)
        count = sum(max(0, min(last, s + n) - max(first, s)) for s, n in bad)
    except (_Unreadable, ValueError) as exc:
        record["unreadable"] = [f"media errors: {exc}"]
        return
    if count:
        record["badblock_count"] = count


def _region(devices_dir: str, dev: str) -> Record:
    path = os.path.join(devices_dir, dev)
    region: Record = {"dev": dev, "namespaces": []}
    unreadable = []
    try:
        region["read_only"] = _signal(os.path.join(path, "read_only")) == "1"
        mappings = []
        for i in range(_int(os.path.join(path, "mappings")) or 0):
            value = _signal(os.path.join(path, f"mapping{i}")) or ""
            mappings.append({"dimm": value.split(",")[0]})
        region["mappings"] = mappings
        badblocks = _signal(os.path.join(path, "badblocks")) or ""
        region["_badblocks"] = [tuple(int(x) for x in line.split()[:2]) for line in badblocks.splitlines() if line.strip()]
        if region["_badblocks"]:
            resource = _signal(os.path.join(path, "resource"))
            region["_resource"] = int(resource, 0) if resource else None
    except (_Unreadable, ValueError) as exc:
        unreadable.append(f"{dev}: {exc}")
    if unreadable:
        region["unreadable"] = unreadable
    return region


def _dimm(devices_dir: str, dev: str) -> Record:
    record: Record = {"dev": dev}
    try:
        flags = _signal(os.path.join(devices_dir, dev, "nfit", "flags"))
    except _Unreadable as exc:
        record["unreadable"] = [f"DIMM {dev}: {exc}"]
        return record
    for word in (flags or "").split():
        if word in _FLAGS:
            record[_FLAGS[word]] = True
    return record


def _bus(devices_dir: str, dev: str) -> Record:
    path = os.path.join(devices_dir, dev)
    record: Record = {"provider": _read(os.path.join(path, "provider")) or "", "dev": dev,
                      "dimms": [], "regions": []}
    try:
        scrub = _signal(os.path.join(path, "nfit", "scrub"))
    except _Unreadable as exc:
        record["unreadable"] = [f"address range scrub: {exc}"]
        return record
    if scrub is not None:
        record["scrub_state"] = "active" if scrub.endswith("+") else "idle"
    return record


def _bus_of(devices_dir: str, dev: str) -> str | None:
    """The ndbusN a region or DIMM sits under."""
    for part in reversed(os.path.realpath(os.path.join(devices_dir, dev)).split(os.sep)[:-1]):
        if part.startswith("ndbus"):
            return part
    return None


def records(sysfs_root: str) -> list[Record]:
    """The buses of ``sysfs_root``, as ndctl's discovery call prints them."""
    devices_dir = os.path.join(sysfs_root, "bus", "nd", "devices")
    try:
        entries = sorted(os.listdir(devices_dir))
    except FileNotFoundError:
        raise DiscoveryError(ndctl_json.no_bus("sysfs")) from None
    except OSError as exc:
        raise DiscoveryError(f"[pmem]sysfs_root: cannot list {devices_dir}: {exc.strerror or exc}") from exc
    buses = {dev: _bus(devices_dir, dev) for dev in entries if dev.startswith("ndbus")}
    if not buses:
        raise DiscoveryError(ndctl_json.no_bus("sysfs"))
    orphans: Record = {"provider": "", "dev": "", "dimms": [], "regions": []}
    regions: dict[str, Record] = {}
    for dev in entries:
        bus = buses.get(_bus_of(devices_dir, dev) or "", orphans)
        if dev.startswith("nmem"):
            bus["dimms"].append(_dimm(devices_dir, dev))  # type: ignore[attr-defined]
        elif re.match(r"region\d+\Z", dev):
            regions[dev] = _region(devices_dir, dev)
            bus["regions"].append(regions[dev])  # type: ignore[attr-defined]
    for dev in entries:
        match = _NAMESPACE.match(dev)
        if match:
            region = regions.get(f"region{match.group(1)}")
            if region is None:
                raise DiscoveryError(f"sysfs: {dev} has no region{match.group(1)}")
            region["namespaces"].append(_namespace(devices_dir, dev, region))  # type: ignore[attr-defined]
    for region in regions.values():
        for key in ("_badblocks", "_resource"):
            region.pop(key, None)
    return list(buses.values()) + ([orphans] if orphans["regions"] or orphans["dimms"] else [])


def discover(sysfs_root: str, cxl_path: str = "cxl", timeout: float = 30) -> list[Namespace]:
    """The host's namespaces, with the health of the CXL devices under those on a CXL bus (``cxl``
    runs then: sysfs does not show a CXL device's health)."""
    data = records(sysfs_root)
    cxl.annotate(data, cxl_path, timeout, sysfs_root)
    return ndctl_json.from_records(data, source="sysfs")
