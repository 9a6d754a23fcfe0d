#!/usr/bin/env bash
# The first sync pmem-placement performs, scripted with the openstack CLI (python-openstackclient
# and osc-placement) the way an operator would without pmem-placement: find the compute node,
# create the resource classes and the trait, create the child provider, set its traits and its
# inventory. It does less than pmem-placement (no double-counting check, no generation handling,
# no retries), so the comparison favours it.
# Usage: baseline-openstack-cli.sh PLACEMENT_URL HOST
set -euo pipefail
url=$1 host=$2
osc() {
    openstack --os-auth-type admin_token --os-endpoint "$url" --os-token admin \
        --os-placement-api-version 1.26 "$@"
}
root=$(osc resource provider list --name "$host" -f value -c uuid)
osc resource class set CUSTOM_PMEM_NAMESPACE_4GB
osc resource class set CUSTOM_PMEM_NAMESPACE_SMALL
osc trait create CUSTOM_PMEM_PLACEMENT_MANAGED
child=$(osc resource provider create --parent-provider "$root" "$host:pmem" -f value -c uuid)
osc resource provider trait set --trait CUSTOM_PMEM_PLACEMENT_MANAGED "$child" >/dev/null
osc resource provider inventory set "$child" \
    --resource CUSTOM_PMEM_NAMESPACE_4GB:total=1 --resource CUSTOM_PMEM_NAMESPACE_4GB:max_unit=1 \
    --resource CUSTOM_PMEM_NAMESPACE_SMALL:total=2 --resource CUSTOM_PMEM_NAMESPACE_SMALL:max_unit=2 >/dev/null
