/*
 * units - the duration and size notations used in definitions and boot commands.
 *
 * Durations follow Go's time.ParseDuration (which Packer uses): one or more
 * "<number><unit>" groups, units ms, s, m, h, decimals allowed: "10s", "1m30s",
 * "1.5s", "250ms". Boot-command waits also accept a bare number of seconds
 * ("<wait5>"), as Packer does.
 *
 * Sizes are a number and a binary unit: "512M", "20G", "1.5T", "2GiB", "64K".
 */
#ifndef BW_UNITS_H
#define BW_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a duration into milliseconds. bare_seconds allows "5" to mean 5 s. Returns 0 or -1. */
int bw_parse_duration(const char *s, bool bare_seconds, uint64_t *ms);
/* Parses a size into bytes. Returns 0 or -1. */
int bw_parse_size(const char *s, uint64_t *bytes);
/* Writes a duration as the shortest Go-style text ("1m30s", "250ms", "0s") into out. */
void bw_format_duration(uint64_t ms, char *out, size_t outlen);
/* Writes a size with the largest unit that divides it exactly ("20G", "512M", "1000"). */
void bw_format_size(uint64_t bytes, char *out, size_t outlen);

#endif
