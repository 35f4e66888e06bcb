/*
 * vmspec - the part of a VM spec a definition decides, in one place for the
 * build's VMs, validation's VM and the drivers' golden tests.
 */
#ifndef BW_VMSPEC_H
#define BW_VMSPEC_H

#include "../core/definition.h"
#include "../drivers/driver.h"

/* Fills from def and hv: memory, CPUs, firmware, disk and NIC models, the disk's format
 * (qcow2: every VM of a build boots one), the accelerator ("tcg" when hv has none), where the
 * hypervisor is, the guest's SSH port, whether the network is isolated, and where the guest
 * reaches boxwright's HTTP server (the driver's address). The rest (names, paths, media,
 * ports on this host) is the caller's. */
void bw_vm_spec_of(const struct bw_definition *def, const struct bw_hypervisor *hv,
                   struct bw_vm_spec *s);

#endif
