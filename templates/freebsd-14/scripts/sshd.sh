#!/bin/sh
# sshd as Bento sets it for Vagrant boxes: no reverse DNS on login (it stalls
# logins on networks without DNS). FreeBSD's sshd_config has no include
# directory: the setting is replaced in place.
set -eu
sed -i '' -e '/^#*UseDNS /d' /etc/ssh/sshd_config
echo 'UseDNS no' >>/etc/ssh/sshd_config
sshd -t
