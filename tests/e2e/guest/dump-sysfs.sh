# Print the libnvdimm and dax devices' sysfs attributes in the format tests/helpers.py's
# materialize_sysfs rebuilds: "## link -> target" per device, "path=value|" per attribute
# (newlines as |), "path -> target" for the driver and subsystem links.
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
