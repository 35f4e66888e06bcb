#!/bin/sh
# Provisioning for the tiny box: record that provisioning ran, as a check can see.
set -eu
echo "provisioned by boxwright on $(date -u +%Y-%m-%dT%H:%M:%SZ)" | sudo tee /etc/boxwright-provisioned
