/*
 * The identifiers qemu-img makes random in a VHDX (MS-VHDX 2.x), set from a
 * seed so that the same disk converts to the same bytes: both headers'
 * FileWriteGuid, DataWriteGuid and sequence numbers (their checksums
 * recomputed), the log entry qemu-img leaves (its GUID and checksum; the
 * headers' LogGuid is zero, so it is never replayed), and the disk's
 * Page 83 identifier in the metadata region.
 */
#include "disk.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_SIZE  4096
#define REGION_TABLE 0x30000 /* 192 KiB */

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

/* A version-4 GUID from the seed and what it is for. */
static void guid(uint64_t seed, uint64_t which, uint8_t out[16])
{
    for (int half = 0; half < 2; half++) {
        uint64_t z = seed + (which * 2 + (uint64_t)half + 1) * 0x9e3779b97f4a7c15u;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        put_le64(out + 8 * half, z);
    }
    out[7] = (uint8_t)((out[7] & 0x0f) | 0x40);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

static const uint8_t metadata_region[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                            0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
static const uint8_t page83_item[16] = {0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
                                        0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46};

static bool rw(int fd, void *buf, size_t n, uint64_t off, bool write)
{
    ssize_t k = write ? pwrite(fd, buf, n, (off_t)off) : pread(fd, buf, n, (off_t)off);
    return k == (ssize_t)n;
}

int bw_disk_set_vhdx_ids(const char *vhdx, uint64_t seed, struct bw_error *err)
{
    int fd = open(vhdx, O_RDWR | O_CLOEXEC);
    uint8_t h[2][HEADER_SIZE];
    bool ok = fd >= 0 && rw(fd, h[0], HEADER_SIZE, 0x10000, false) &&
              rw(fd, h[1], HEADER_SIZE, 0x20000, false) && memcmp(h[0], "head", 4) == 0 &&
              memcmp(h[1], "head", 4) == 0;
    const char *what = "two headers (\"head\" at 64 and 128 KiB)";
    /* The log entry qemu-img leaves, while no header points at it. */
    uint64_t log_off = ok ? le64(h[0] + 72) : 0;
    uint32_t log_len = ok ? le32(h[0] + 68) : 0;
    uint8_t zero[16] = {0};
    if (ok && memcmp(h[0] + 48, zero, 16) == 0 && memcmp(h[1] + 48, zero, 16) == 0 &&
        log_len >= 4096) {
        uint8_t *log = malloc(log_len);
        if (log && rw(fd, log, log_len, log_off, false) && memcmp(log, "loge", 4) == 0) {
            uint32_t n = le32(log + 8);
            if (n >= 64 && n <= log_len) {
                guid(seed, 3, log + 32);
                put_le32(log + 4, 0);
                put_le32(log + 4, crc32c(log, n));
                ok = rw(fd, log, n, log_off, true);
            }
        }
        free(log);
    }
    /* The headers: the current one (the larger sequence number) stays the current one. */
    bool first_current = ok && le64(h[0] + 8) > le64(h[1] + 8);
    for (int i = 0; ok && i < 2; i++) {
        guid(seed, 1, h[i] + 16);
        guid(seed, 2, h[i] + 32);
        put_le64(h[i] + 8, (i == 0) == first_current ? 2 : 1);
        put_le32(h[i] + 4, 0);
        put_le32(h[i] + 4, crc32c(h[i], HEADER_SIZE));
        ok = rw(fd, h[i], HEADER_SIZE, i ? 0x20000 : 0x10000, true);
    }
    /* Page 83: the metadata region from the region table, the item in its table. */
    uint8_t rt[4096], mt[4096];
    if (ok) {
        what = "a region table naming the metadata region, with a Page 83 item";
        ok = rw(fd, rt, sizeof(rt), REGION_TABLE, false) && memcmp(rt, "regi", 4) == 0;
    }
    uint64_t meta = 0;
    for (uint32_t i = 0; ok && i < le32(rt + 8) && 16 + 32 * (i + 1) <= sizeof(rt); i++)
        if (memcmp(rt + 16 + 32 * i, metadata_region, 16) == 0)
            meta = le64(rt + 16 + 32 * i + 16);
    ok = ok && meta && rw(fd, mt, sizeof(mt), meta, false) && memcmp(mt, "metadata", 8) == 0;
    uint32_t item = 0;
    for (uint32_t i = 0;
         ok && i < (uint32_t)(mt[10] | mt[11] << 8) && 32 + 32 * (i + 1) <= sizeof(mt); i++)
        if (memcmp(mt + 32 + 32 * i, page83_item, 16) == 0 && le32(mt + 32 + 32 * i + 20) == 16)
            item = le32(mt + 32 + 32 * i + 16);
    uint8_t id[16];
    guid(seed, 4, id);
    ok = ok && item && rw(fd, id, 16, meta + item, true);
    if (fd >= 0)
        close(fd);
    if (!ok)
        bw_error_at(err, BW_ERR_IO, vhdx, NULL, 0, 0,
                    "cannot set the VHDX's identifiers: expected %s", what);
    return ok ? 0 : -1;
}
