#!/bin/sh
# sshd as Bento sets it for Vagrant boxes: no reverse DNS or GSSAPI on login
# (both stall logins on networks without DNS).
set -eu
cat >/etc/ssh/sshd_config.d/10-boxwright.conf <<'CONF'
UseDNS no
GSSAPIAuthentication no
CONF
sshd -t
