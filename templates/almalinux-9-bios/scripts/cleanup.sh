#!/bin/sh
# Leaves the box clean for its first boot on someone else's machine: no dnf
# caches, no logs, no machine-id, no SSH host keys (sshd-keygen makes them
# again on the box's first boot, so no two boxes share them), and free space
# trimmed so the exported disk is small.
set -eu
dnf -y autoremove
dnf clean all
rm -rf /var/cache/dnf/*

rm -f /etc/ssh/ssh_host_*

# A fresh machine-id on first boot (systemd makes one when the file is empty).
truncate -s 0 /etc/machine-id

find /var/log -type f -exec truncate -s 0 {} +
rm -rf /tmp/* /var/tmp/*
mkdir -p /var/lib/boxwright
touch /var/lib/boxwright/cleaned
fstrim -av || true
sync
