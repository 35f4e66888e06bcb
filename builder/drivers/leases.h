/*
 * leases - the address a DHCP server gave a MAC, from an ISC dhcpd leases
 * file, or Parallels Desktop's own. ISC: what VMware's vmnet8 DHCP server writes (Workstation:
 * /etc/vmware/vmnet8/dhcpd/dhcpd.leases; Fusion:
 * /var/db/vmware/vmnet-dhcpd-vmnet8.leases), and where Packer's vmware
 * builders look for the guest's address too.
 */
#ifndef BW_LEASES_H
#define BW_LEASES_H

#include <stddef.h>

/* The address of the last lease for mac ("00:50:56:01:02:03", any case) in text: dhcpd
 * appends, so the last is the newest. 0 with ip written, or -1 when there is none. Blocks
 * that do not parse are skipped; nothing outside text is read. */
int bw_dhcp_lease_find(const char *text, size_t len, const char *mac, char *ip, size_t iplen);

/* The same from Parallels Desktop's leases (/Library/Preferences/Parallels/parallels_dhcp_leases):
 * lines IP="expiry,seconds,mac,id" with mac as 12 hex digits; the lease that began last wins. */
int bw_parallels_lease_find(const char *text, size_t len, const char *mac, char *ip, size_t iplen);

#endif
