#!/bin/sh
# Leaves the box clean for its first boot on someone else's machine: no zypper
# caches, no logs, no machine-id, no SSH host keys (sshd-gen-keys-start makes
# them again when sshd first starts on the box, so no two boxes share them),
# and free space trimmed so the exported disk is small.
set -eu
zypper --non-interactive clean --all

rm -f /etc/ssh/ssh_host_*

# A fresh machine-id on first boot (systemd makes one when the file is empty).
truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id

find /var/log -type f -exec truncate -s 0 {} +
rm -rf /tmp/* /var/tmp/*
mkdir -p /var/lib/boxwright
touch /var/lib/boxwright/cleaned
fstrim -av || true
sync
