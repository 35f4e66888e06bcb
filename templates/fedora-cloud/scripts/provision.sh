#!/bin/sh
# Provisioning for fedora-cloud: wait for cloud-init to finish its first
# boot, record what it did (the box's checks read it), then clean its state
# so the box runs cloud-init again on its own first boot.
set -eu
cloud-init status --wait >/dev/null || true
mkdir -p /var/lib/boxwright
cloud-init status --long >/var/lib/boxwright/cloud-init-status || true
cat /run/cloud-init/status.json >/var/lib/boxwright/cloud-init-datasource 2>/dev/null ||
    grep -h 'Datasource' /var/log/cloud-init.log >/var/lib/boxwright/cloud-init-datasource
grep -q 'status: done' /var/lib/boxwright/cloud-init-status ||
    { echo "cloud-init did not finish cleanly:" >&2; cat /var/lib/boxwright/cloud-init-status >&2; exit 1; }
# dnf is the image's; the tests' stand-in has Debian's userland, without it.
if command -v dnf >/dev/null; then dnf -q clean all; fi
cloud-init clean --logs --seed
if [ ! -e /var/lib/cloud/instance ] && [ ! -e /var/lib/cloud/seed ] && [ ! -e /var/log/cloud-init.log ]; then
    echo "no instance, no seed, no logs" >/var/lib/boxwright/cloud-init-cleaned
fi
# A fresh machine-id on the box's first boot.
truncate -s 0 /etc/machine-id
sync
