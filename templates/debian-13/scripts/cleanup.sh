#!/bin/sh
# Leaves the box clean for its first boot on someone else's machine: no apt
# caches or lists, no logs, no machine-id, no SSH host keys (made again on the
# box's first boot, so no two boxes share them), and free space trimmed so the
# exported disk is small.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get -y autoremove --purge
apt-get clean
rm -rf /var/lib/apt/lists/*

# SSH host keys are made on first boot, before sshd starts.
cat >/etc/systemd/system/ssh-host-keys.service <<'UNIT'
[Unit]
Description=Make SSH host keys on a box's first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable ssh-host-keys.service
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
