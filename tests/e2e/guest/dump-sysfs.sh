# Print the libnvdimm and dax devices' sysfs attributes in the format tests/helpers.py's
# materialize_sysfs rebuilds: "## link -> target" per device, "path=value|" per attribute
# (newlines as |), "path -> target" for the driver and subsystem links. Every device's own files and
# those one directory down are printed, so the health attributes are there whenever the kernel has
# them: the region's read_only and badblocks, the nmem's nfit/flags (e.g. "not_armed "),
# nfit/dsm_mask, nfit/family and state, the NFIT bus's nfit/scrub (only with address range scrub,
# which QEMU has not) and nfit/dsm_mask, a CXL nmem's cxl/ (none on Linux 6.1).
# Then the CXL devices the same way (their own files only, and a memdev's pmem/ and ram/), and, as
# "===" lines that materialize_sysfs skips, whether each nmem's /dev node exists.
for d in /sys/bus/nd/devices/* /sys/bus/dax/devices/*; do
    [ -e "$d" ] || continue
    real=$(readlink -f "$d")
    echo "## $d -> $real"
    for f in "$real"/* "$real"/*/*; do
        [ -f "$f" ] && [ -r "$f" ] || continue
        case "$f" in */power/*|*/uevent|*/modalias) continue;; esac
        echo "$f=$(head -c 400 "$f" 2>&1 | tr '\n' '|')"
    done
    for l in "$real"/driver "$real"/subsystem "$real"/*/driver; do
        if [ -L "$l" ]; then echo "$l -> $(readlink -f "$l")"; fi
    done
done
for d in /sys/bus/cxl/devices/*; do
    [ -e "$d" ] || continue
    real=$(readlink -f "$d")
    echo "## $d -> $real"
    for f in "$real"/* "$real"/pmem/* "$real"/ram/*; do
        [ -f "$f" ] && [ -r "$f" ] || continue
        case "$f" in */uevent|*/modalias) continue;; esac
        echo "$f=$(head -c 400 "$f" 2>&1 | tr '\n' '|')"
    done
    for l in "$real"/driver "$real"/subsystem; do
        if [ -L "$l" ]; then echo "$l -> $(readlink -f "$l")"; fi
    done
done
for d in /sys/bus/nd/devices/nmem*; do
    [ -e "$d" ] || continue
    n=/dev/${d##*/}
    if [ -c "$n" ]; then echo "=== $n: $(ls -l "$n" | awk '{print $1, $5 $6}')"; else echo "=== $n: absent"; fi
done
