"""Whether the hardware under a namespace can keep what is written to it. Pure: no I/O.

Input is what ``ndctl list --buses --dimms --regions --namespaces --health --media-errors``
prints (the sysfs backend builds the same records): the namespace's region (``read_only``, which
only sysfs gives; ``mappings`` to its DIMMs), the DIMMs' NFIT flags and health, the bus's address
range scrub state and the namespace's ``badblock_count``; for a CXL memory device, what ``cxl
list --memdevs --health`` prints (``discover.cxl`` adds it to its nd DIMM). A signal the device
does not provide (no health DSM, a CXL device that does not answer Get Health Info, e820 memory
without DIMMs) leaves the namespace healthy with a note; a signal that could not be read (the backends record it under
``unreadable``) or a scrub in progress makes its health not known.
"""

import typing

from pmem_placement.discover.model import OK
from pmem_placement.discover.model import UNHEALTHY
from pmem_placement.discover.model import UNKNOWN
from pmem_placement.discover.model import Health

Record = typing.Mapping[str, typing.Any]

# ndctl's DIMM flags (from the NFIT's memory device flags) that mean the DIMM cannot keep data.
# Not flag_failed_map: it marks a DIMM not mapped as persistent memory (Memory Mode), whose
# region then has no namespace to offer anyway.
FAILED = {
    "flag_failed_arm": "failed to arm (it cannot keep writes across a power loss)",
    "flag_failed_save": "failed to save its contents at the last power loss",
    "flag_failed_restore": "failed to restore its contents at the last boot",
    "flag_failed_flush": "failed to flush at the last shutdown",
}
BAD_HEALTH = ("critical", "fatal")
# A CXL memory device's media states (Get Health Info, as 'cxl list --health' prints them) that
# mean it cannot keep data, or soon will not.
CXL_LOST = {
    "media_persistence_lost": "has lost write persistence",
    "media_data_lost": "has lost its data",
    "media_powerloss_persistence_loss": "lost write persistence at a power loss",
    "media_shutdown_persistence_loss": "lost write persistence at a shutdown",
    "media_powerloss_data_loss": "lost its data at a power loss",
    "media_shutdown_data_loss": "lost its data at a shutdown",
    "media_persistence_loss_imminent": "is about to lose write persistence",
    "media_data_loss_imminent": "is about to lose its data",
}
NO_SIGNALS = "this output carries no health signals (ndctl list without --dimms --health --media-errors)"


def assess(namespace: Record, region: Record | None, bus: Record | None,
           dimms: typing.Mapping[str, Record] | None) -> Health:
    """The namespace's health from the records around it; ``dimms`` None: none were listed."""
    if region is None and bus is None and dimms is None:
        return Health(notes=(NO_SIGNALS,)) if not namespace.get("badblock_count") else _badblocks_only(namespace)
    unhealthy: list[str] = []
    unknown: list[str] = [str(u) for u in namespace.get("unreadable", ())]
    notes: list[str] = []
    count = namespace.get("badblock_count")
    if isinstance(count, int) and count > 0:
        unhealthy.append(f"{count} bad block{'s' if count != 1 else ''} (media errors)")
    elif region is not None and _unplaced_badblocks(namespace, region):
        many = region["badblock_count"] != 1
        unknown.append(f"{region.get('dev', 'its region')} has {region['badblock_count']} bad block{'s' if many else ''} "
                       f"and which namespaces {'they are' if many else 'it is'} in is not known (ndctl must read the "
                       "ranges as root)")
    if bus is not None:
        unknown += [str(u) for u in bus.get("unreadable", ())]
        if bus.get("scrub_state") == "active":
            unknown.append(f"an address range scrub is in progress on {bus.get('dev', 'its bus')} "
                           "(media errors not yet known)")
    if region is not None:
        _region(region, bus, dimms, unhealthy, unknown, notes)
    else:
        notes.append("this output does not list the regions (ndctl list without --regions): no DIMM signals")
    if unhealthy:
        return Health(UNHEALTHY, _unique(unhealthy), _unique(notes))
    if unknown:
        return Health(UNKNOWN, _unique(unknown), _unique(notes))
    return Health(OK, (), _unique(notes))


def _unplaced_badblocks(namespace: Record, region: Record) -> bool:
    """Bad blocks in the region that ndctl could not place: run as another user than root, it
    cannot read the namespaces' ranges and prints the region's count alone. Root's output is
    told by the dax region's ``align``, which only root can read."""
    count = region.get("badblock_count")
    if not isinstance(count, int) or count <= 0:
        return False
    daxregion = namespace.get("daxregion")
    return not (isinstance(daxregion, dict) and "align" in daxregion)


def _badblocks_only(namespace: Record) -> Health:
    count = namespace["badblock_count"]
    return Health(UNHEALTHY, (f"{count} bad block{'s' if count != 1 else ''} (media errors)",))


def _region(region: Record, bus: Record | None, dimms: typing.Mapping[str, Record] | None,
            unhealthy: list[str], unknown: list[str], notes: list[str]) -> None:
    name = region.get("dev", "its region")
    unknown += [str(u) for u in region.get("unreadable", ())]
    mappings = [str(m.get("dimm")) for m in region.get("mappings") or () if isinstance(m, dict)]
    # A DIMM that failed to arm makes the kernel mark its region read-only: said once, by the
    # DIMM, as ndctl (which does not print read_only) says it.
    unarmed = any((dimms or {}).get(d, {}).get("flag_failed_arm") is True for d in mappings)
    if region.get("read_only") is True and not unarmed:
        unhealthy.append(f"{name} is read-only")
    provider = (bus or {}).get("provider")
    if dimms is None:
        notes.append("this output does not list the DIMMs (ndctl list without --dimms): no DIMM signals")
        return
    if not mappings:
        notes.append(f"{name} has no DIMMs ({provider or 'legacy'} memory): no DIMM health signals")
        return
    for dimm_name in mappings:
        dimm = dimms.get(dimm_name)
        if dimm is None:
            unknown.append(f"DIMM {dimm_name} of {name} was not listed")
            continue
        _dimm(dimm_name, dimm, bus, unhealthy, unknown, notes)


def _dimm(name: str, dimm: Record, bus: Record | None, unhealthy: list[str], unknown: list[str],
          notes: list[str]) -> None:
    unknown += [str(u) for u in dimm.get("unreadable", ())]
    unhealthy += [f"DIMM {name} {why}" for flag, why in FAILED.items() if dimm.get(flag) is True]
    if dimm.get("flag_smart_event") is True:
        notes.append(f"DIMM {name} signals a health event")
    health = dimm.get("health")
    if isinstance(health, dict):
        _dimm_health(name, health, unhealthy, notes)
    elif (bus or {}).get("provider") == "CXL":
        _cxl(name, dimm, bus or {}, unhealthy, unknown, notes)
    else:
        notes.append(f"DIMM {name} reports no health ('ndctl list -H' needs a health DSM and /dev/{name})")


def _dimm_health(name: str, health: Record, unhealthy: list[str], notes: list[str]) -> None:
    state = health.get("health_state")
    if state in BAD_HEALTH:
        unhealthy.append(f"DIMM {name} health is {state}")
    elif isinstance(state, str) and state != "ok":
        notes.append(f"DIMM {name} health is {state}")
    if health.get("shutdown_state") == "dirty":
        count = health.get("shutdown_count")
        notes.append(f"DIMM {name} had a dirty shutdown" + (f" ({count} in all)" if isinstance(count, int) else ""))
    alarms = sorted(k.removeprefix("alarm_") for k, v in health.items() if k.startswith("alarm_") and v is True)
    if alarms:
        notes.append(f"DIMM {name} alarms: {', '.join(alarms)}")


def _cxl(name: str, dimm: Record, bus: Record, unhealthy: list[str], unknown: list[str],
         notes: list[str]) -> None:
    """An nd DIMM of a CXL bus: its CXL memory device's health (``discover.cxl`` adds it)."""
    memdev = dimm.get("cxl")
    if isinstance(memdev, dict):
        _cxl_health(f"{name} (CXL {_memdev_name(memdev)})", memdev, unhealthy, unknown, notes)
    elif bus.get("cxl_error"):
        unknown.append(f"the health of the CXL memory device under {name} could not be read: {bus['cxl_error']}")
    elif bus.get("cxl_missing"):
        notes.append(f"{name} is a CXL memory device whose health is not read: {bus['cxl_missing']}")
    elif isinstance(bus.get("cxl_unplaced"), list):
        _unmatched(name, dimm, bus["cxl_unplaced"], unknown, notes)
    else:
        notes.append(f"{name} is a CXL memory device: this output does not carry its health "
                     "('cxl list --memdevs --health')")


def _unmatched(name: str, dimm: Record, unplaced: list[typing.Any], unknown: list[str], notes: list[str]) -> None:
    """An nd DIMM of a CXL bus matched to no device: any device's bad health may be its own."""
    serial = dimm.get("cxl_id")
    why = (f"the kernel gives {name} no cxl/id before Linux 6.2" if serial is None
           else f"no single device cxl lists has the serial of {name}'s cxl/id, {serial}")
    if not unplaced:
        unknown.append(f"cxl lists no CXL memory device for {name} ({why})")
        return
    bad: list[str] = []
    their_notes: list[str] = []
    for memdev in unplaced:
        if isinstance(memdev, dict):
            _cxl_health(f"CXL {_memdev_name(memdev)}", memdev, bad, bad, their_notes)
    notes.extend(their_notes)
    if bad:
        unknown.append(f"{'; '.join(bad)}, and whether {name} is on it is not known ({why})")
    else:
        notes.append(f"{name} is not matched to its CXL memory device ({why}); none of this host's CXL memory "
                     "devices reports bad health")


def _memdev_name(memdev: Record) -> str:
    name = memdev.get("memdev")
    return name if isinstance(name, str) else "memory device" + (f" of serial {memdev['serial']}"
                                                                 if "serial" in memdev else " without a name")


def _cxl_health(label: str, memdev: Record, unhealthy: list[str], unknown: list[str], notes: list[str]) -> None:
    health = memdev.get("health")
    if health is None:
        node = memdev.get("memdev") if isinstance(memdev.get("memdev"), str) else "memN"
        notes.append(f"{label} reports no health ('cxl list --health': the device did not answer Get Health "
                     f"Info, or /dev/cxl/{node} can be opened by root only)")
        return
    # cxl prints JSON booleans and integers: anything else was not understood, so not known.
    odd = sorted(k for k in (*CXL_LOST, "media_normal", "media_not_ready", "hw_replacement_needed")
                 if isinstance(health, dict) and k in health and not isinstance(health[k], bool))
    if not isinstance(health, dict) or not isinstance(health.get("media_normal"), bool) or odd:
        what = "no media_normal" if isinstance(health, dict) and "media_normal" not in health else (
            f"{', '.join(odd)} not true or false" if odd else "media_normal not true or false")
        unknown.append(f"{label} health is not understood ({what if isinstance(health, dict) else 'not an object'})")
        return
    lost = [f"{label} {why}" for key, why in CXL_LOST.items() if health.get(key) is True]
    if lost:
        unhealthy += lost
    elif health.get("media_not_ready") is True:
        unknown.append(f"{label} media is not ready")
    elif health.get("media_normal") is False:
        unhealthy.append(f"{label} media is not normal")
    if health.get("hw_replacement_needed") is True:
        unhealthy.append(f"{label} needs replacement")
    for key, what in (("maintenance_needed", "needs maintenance"), ("performance_degraded", "is degraded")):
        if health.get(key) is True:
            notes.append(f"{label} {what}")
    shutdowns = health.get("dirty_shutdowns")
    if isinstance(shutdowns, int) and not isinstance(shutdowns, bool) and shutdowns > 0:
        notes.append(f"{label} had {shutdowns} dirty shutdown{'s' if shutdowns != 1 else ''}")


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
