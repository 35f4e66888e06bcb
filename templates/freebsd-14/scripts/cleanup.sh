#!/bin/sh
# Leaves the box clean for its first boot on someone else's machine: no pkg
# caches, no logs, no host id, no SSH host keys (rc.d/sshd makes them again on
# the box's first boot, so no two boxes share them).
set -eu
pkg clean -ay
rm -f /etc/ssh/ssh_host_*
# rc.d/hostid makes a new host UUID when the file is missing.
rm -f /etc/hostid
find /var/log -type f -exec truncate -s 0 {} +
rm -rf /tmp/* /var/tmp/*
mkdir -p /var/lib/boxwright
touch /var/lib/boxwright/cleaned
sync
