"""The health of CXL memory devices under namespaces on a CXL bus.

A namespace on a CXL bus sits on nd DIMMs (``nmemN``) that the kernel creates for CXL memory
devices (``memN``). They have no NFIT flags and no health DSM: a CXL device's health is its Get
Health Info, which ``cxl list --memdevs --health`` prints (media state, dirty shutdowns). This
module runs that call (only when a CXL bus is listed) and puts what it prints into the
ndctl-shaped records before they are parsed, so that ``health.assess`` judges it for every
backend:

- each nd DIMM of a CXL bus whose CXL device is known gets that device's record as ``cxl``. The
  device is known by its serial: Linux 6.2 and later give the nd DIMM ``cxl/id``, which ``cxl
  list`` prints as the device's ``serial``; older kernels link them nowhere;
- each CXL bus gets ``cxl_unplaced``, the devices that no nd DIMM was matched to (their
  health, if it is bad, then makes the health of that bus's unmatched DIMMs not known), and
  ``cxl_error`` when ``cxl`` could not be run or read.

``[pmem]discovery = file`` takes these keys as they are in the file.
"""

import json
import os
import typing

from pmem_placement.discover import command
from pmem_placement.errors import DiscoveryError

ARGV = ("list", "--memdevs", "--health")
Record = dict[str, typing.Any]


def annotate(data: object, cxl_path: str, timeout: float, sysfs_root: str = "/sys") -> None:
    """Add the CXL devices' records to the nd DIMMs and CXL buses of ``data`` (decoded records)."""
    buses = [bus for bus in _buses(data) if bus.get("provider") == "CXL"]
    if not buses:
        return
    try:
        memdevs = parse(command.run(cxl_path, timeout, ARGV, option="cxl_path"))
    except command.NotInstalled as exc:
        _mark(buses, "cxl_missing", str(exc))
        return
    except DiscoveryError as exc:
        _mark(buses, "cxl_error", str(exc))
        return
    by_serial: dict[str, list[Record]] = {}
    for memdev in memdevs:
        if isinstance(memdev.get("serial"), int) and not isinstance(memdev.get("serial"), bool):
            by_serial.setdefault(str(memdev["serial"]), []).append(memdev)
    placed: set[str] = set()
    for bus in buses:
        for dimm in _dimms(bus):
            serial = _read(os.path.join(sysfs_root, "bus", "nd", "devices", str(dimm.get("dev")), "cxl", "id"))
            match = by_serial.get(serial or "", [])
            if len(match) == 1:  # two devices of one serial (an emulator's 0) are matched to neither
                dimm["cxl"] = match[0]
                placed.add(str(match[0].get("memdev")))
    unplaced = [memdev for memdev in memdevs if str(memdev.get("memdev")) not in placed]
    for bus in buses:
        bus["cxl_unplaced"] = unplaced


def parse(text: str) -> list[Record]:
    """The memory device records of ``cxl list``'s output, whatever its shape: a bare array of
    devices, or an array of ``{"memdevs": [...]}``, ``{"regions": [...]}`` objects."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DiscoveryError(f"cxl output is not valid JSON: {exc}") from exc
    found: list[Record] = []

    def visit(obj: object) -> None:
        if isinstance(obj, list):
            for item in obj:
                visit(item)
        elif isinstance(obj, dict):
            if isinstance(obj.get("memdev"), str) and "position" not in obj:  # not a region's mapping
                found.append(obj)
            elif isinstance(obj.get("memdevs"), list):
                visit(obj["memdevs"])
        else:
            raise DiscoveryError(f"cxl output has {type(obj).__name__} where an object was expected")

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


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None
