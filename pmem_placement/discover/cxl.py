"""The health of CXL memory devices under namespaces on a CXL bus.

A namespace on a CXL bus sits on nd DIMMs (``nmemN``) that the kernel creates for CXL memory
devices (``memN``). They have no NFIT flags and no health DSM: a CXL device's health is its Get
Health Info, which ``cxl list --memdevs --health`` prints (media state, dirty shutdowns). This
module runs that call (only when a CXL bus is listed) and puts what it prints into the
ndctl-shaped records before they are parsed, so that ``health.assess`` judges it for every
backend:

- each nd DIMM of a CXL bus gets its ``cxl/id`` as ``cxl_id`` (Linux 6.2 and later: the serial
  of its CXL device, which ``cxl list`` prints as ``serial``; older kernels link them nowhere),
  and the record of the one device of that serial as ``cxl``;
- each CXL bus gets ``cxl_unplaced``, the devices that no nd DIMM was matched to (any bad health
  among them, or none listed at all, makes the health of that bus's unmatched DIMMs not known),
  ``cxl_missing`` when ``cxl`` is not installed (the default name not found in PATH) and
  ``cxl_error`` when it could not be run or read.

``[pmem]discovery = file`` takes these keys as they are in the file.
"""

import json
import os
import typing

from pmem_placement.discover import command
from pmem_placement.errors import DiscoveryError

ARGV = ("list", "--memdevs", "--health")
DEFAULT_PATH = "cxl"
# What cxl list prints beside memory devices (with other listing options): not devices.
_NOT_DEVICES = ("region", "decoder", "port", "endpoint", "bus", "position")
Record = dict[str, typing.Any]


def annotate(data: object, cxl_path: str, timeout: float, sysfs_root: str = "/sys") -> None:
    """Add the CXL devices' records to the nd DIMMs and CXL buses of ``data`` (decoded records)."""
    buses = [bus for bus in _buses(data) if bus.get("provider") == "CXL"]
    if not buses:
        return
    try:
        memdevs = parse(command.run(cxl_path, timeout, ARGV, option="cxl_path"))
    except command.NotInstalled as exc:
        # Not installed where it is looked for by default: health is not read, and said so. A
        # path set on purpose that is not there is a mistake: health is not known.
        _mark(buses, "cxl_missing" if cxl_path == DEFAULT_PATH else "cxl_error", str(exc))
        return
    except DiscoveryError as exc:
        _mark(buses, "cxl_error", str(exc))
        return
    by_serial: dict[int, list[Record]] = {}
    for memdev in memdevs:
        serial = memdev.get("serial")
        if isinstance(serial, int) and not isinstance(serial, bool):
            by_serial.setdefault(serial % 2**64, []).append(memdev)
    placed: set[int] = set()
    for bus in buses:
        for dimm in _dimms(bus):
            serial = _serial(os.path.join(sysfs_root, "bus", "nd", "devices", str(dimm.get("dev")), "cxl", "id"))
            if serial is None:
                continue
            dimm["cxl_id"] = serial
            match = by_serial.get(serial, [])
            if len(match) == 1:  # two devices of one serial (an emulator's 0) are matched to neither
                dimm["cxl"] = match[0]
                placed.add(id(match[0]))
    unplaced = [memdev for memdev in memdevs if id(memdev) not in placed]
    for bus in buses:
        bus["cxl_unplaced"] = unplaced


def parse(text: str) -> list[Record]:
    """The memory device records of ``cxl list``'s output, whatever its shape: a bare array of
    devices or one device, ``{"memdevs": [...]}`` objects beside ``{"regions": [...]}``, or
    devices under a bus or port (``"memdevs:root0"``). Anything else in a device list is an error."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DiscoveryError(f"[pmem]cxl_path: what cxl list printed is not valid JSON: {exc}") from exc
    found: list[Record] = []

    def visit(obj: object) -> None:
        if isinstance(obj, list):
            for item in obj:
                visit(item)
            return
        if not isinstance(obj, dict):
            raise DiscoveryError(f"[pmem]cxl_path: cxl list printed {type(obj).__name__} where a memory "
                                 "device was expected")
        lists = [key for key in obj if key == "memdevs" or key.startswith("memdevs:")]
        if lists:
            for key in lists:
                visit(obj[key])
        elif not any(key.startswith(_NOT_DEVICES) for key in obj):
            found.append(obj)

    visit(data)
    return found


def _mark(buses: list[Record], key: str, message: str) -> None:
    for bus in buses:
        bus[key] = message


def _buses(data: object) -> list[Record]:
    if isinstance(data, dict):
        data = [data]
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _dimms(bus: Record) -> list[Record]:
    dimms = bus.get("dimms")
    return [d for d in dimms if isinstance(d, dict)] if isinstance(dimms, list) else []


def _serial(path: str) -> int | None:
    """The serial in an nd DIMM's ``cxl/id`` (Linux 6.2 and later; printed signed by some
    kernels: taken modulo 2**64, as cxl list prints it unsigned)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return int(f.read().strip()) % 2**64
    except (OSError, ValueError):
        return None
