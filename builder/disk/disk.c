#include "disk.h"
#include "../base/buf.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs qemu-img; on failure err says which image and what qemu-img printed. */
static int qemu_img(char *const argv[], const char *image, struct bw_spawn_result *res,
                    struct bw_error *err)
{
    if (bw_spawn_run(argv, NULL, NULL, 0, res, err) == 0)
        return 0;
    bw_error_prefix(err, "%s: qemu-img %s", image, argv[1]);
    return -1;
}

int bw_disk_info(const char *image, uint64_t *virtual_size, char format[16], struct bw_error *err)
{
    char *argv[] = {"qemu-img", "info", "--output=json", (char *)image, NULL};
    struct bw_spawn_result res;
    int rc = -1;
    if (qemu_img(argv, image, &res, err) == 0) {
        json_error_t jerr;
        json_t *info = json_loadb(res.out.data, res.out.len, 0, &jerr);
        json_t *vs = json_object_get(info, "virtual-size");
        const char *fmt = json_string_value(json_object_get(info, "format"));
        if (json_is_integer(vs) && fmt) {
            *virtual_size = (uint64_t)json_integer_value(vs);
            snprintf(format, 16, "%s", fmt);
            rc = 0;
        } else {
            bw_buf_rtrim(&res.err);
            bw_error_at(err, BW_ERR_SYNTAX, image, NULL, 0, 0,
                        "qemu-img info cannot read this image%s%s", res.err.len ? ": " : "",
                        res.err.data ? res.err.data : "");
        }
        json_decref(info);
    }
    bw_spawn_result_release(&res);
    return rc;
}

int bw_disk_check_self_contained(const char *image, struct bw_error *err)
{
    char *argv[] = {"qemu-img", "info", "--output=json", (char *)image, NULL};
    struct bw_spawn_result res;
    if (qemu_img(argv, image, &res, err) < 0) {
        bw_spawn_result_release(&res);
        return -1;
    }
    json_t *info = json_loadb(res.out.data, res.out.len, 0, NULL);
    bw_spawn_result_release(&res);
    const char *why = NULL;
    const char *format = json_string_value(json_object_get(info, "format"));
    json_t *data = json_object_get(json_object_get(info, "format-specific"), "data");
    if (!format)
        why = "qemu-img info gave no format";
    else if (json_object_get(info, "backing-filename"))
        why = "it has a backing file";
    else if (json_object_get(data, "data-file"))
        why = "it has an external data file";
    else if (strcmp(format, "vmdk") == 0) {
        const char *type = json_string_value(json_object_get(data, "create-type"));
        json_t *extents = json_object_get(data, "extents");
        if (!type || (strcmp(type, "streamOptimized") && strcmp(type, "monolithicSparse")))
            why = "it is a VMDK other than streamOptimized or monolithicSparse (its extents "
                  "could be any files)";
        else if (json_array_size(extents) != 1)
            why = "it is a VMDK of more than one extent";
    } else if (strcmp(format, "qcow2") && strcmp(format, "raw") && strcmp(format, "vhdx"))
        /* (a differencing VHDX, the one kind that names another file, QEMU does not open) */
        why = "its format is none of qcow2, raw, VMDK and VHDX";
    if (why)
        bw_error_at(err, BW_ERR_UNSUPPORTED, image, NULL, 0, 0,
                    "not booted: %s; expected one self-contained qcow2, raw, VMDK or VHDX file",
                    why);
    json_decref(info);
    return why ? -1 : 0;
}

int bw_disk_create(const char *path, uint64_t size, struct bw_error *err)
{
    char sz[32];
    snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
    char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", (char *)path, sz, NULL};
    struct bw_spawn_result res;
    int rc = qemu_img(argv, path, &res, err);
    bw_spawn_result_release(&res);
    return rc;
}

int bw_disk_overlay(const char *path, const char *backing, const char *backing_format,
                    uint64_t size, struct bw_error *err)
{
    /* qemu-img resolves a relative backing path against the overlay's directory */
    char *real = realpath(backing, NULL);
    char sz[32];
    snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
    char *argv[] = {"qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    (char *)backing_format,
                    "-b",
                    real ? real : (char *)backing,
                    (char *)path,
                    size ? sz : NULL,
                    NULL};
    struct bw_spawn_result res;
    int rc = qemu_img(argv, path, &res, err);
    bw_spawn_result_release(&res);
    free(real);
    return rc;
}

int bw_disk_convert(const char *image, const char *path, const char *format, const char *options,
                    struct bw_error *err)
{
    char *argv[] = {"qemu-img", "convert", "-O", (char *)format, (char *)image, (char *)path,
                    NULL,       NULL,      NULL};
    if (options) {
        argv[4] = "-o";
        argv[5] = (char *)options;
        argv[6] = (char *)image;
        argv[7] = (char *)path;
    }
    struct bw_spawn_result res;
    int rc = qemu_img(argv, image, &res, err);
    bw_spawn_result_release(&res);
    return rc;
}

int bw_disk_set_vmdk_cid(const char *vmdk, uint32_t cid, struct bw_error *err)
{
    int fd = open(vmdk, O_RDWR | O_CLOEXEC);
    char head[65536];
    ssize_t n = fd < 0 ? -1 : pread(fd, head, sizeof(head), 0);
    int rc = -1;
    /* qemu-img writes the CID unpadded ("CID=%x"), so it takes 1 to 8 digits; the new one
     * takes 8, and the rest of the descriptor moves into the NUL padding that follows it. */
    char *at = n > 0 ? memmem(head, (size_t)n, "\nCID=", 5) : NULL;
    char *digits = at ? at + 5 : NULL;
    size_t k = 0;
    while (digits && digits + k < head + n && k < 9 && isxdigit((unsigned char)digits[k]))
        k++;
    char *text_end = digits && k >= 1 && k <= 8
                         ? memchr(digits + k, '\0', (size_t)(head + n - (digits + k)))
                         : NULL;
    bool room = text_end && text_end + (8 - k) <= head + n;
    for (size_t i = 0; room && i < 8 - k; i++)
        room = text_end[i] == '\0';
    if (room) {
        size_t rest = (size_t)(text_end - (digits + k));
        char *seg = bw_xmalloc(8 + rest);
        char hex[9];
        snprintf(hex, sizeof(hex), "%08x", (unsigned)cid);
        memcpy(seg, hex, 8);
        memcpy(seg + 8, digits + k, rest);
        if (pwrite(fd, seg, 8 + rest, (off_t)(digits - head)) == (ssize_t)(8 + rest))
            rc = 0;
        free(seg);
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        bw_error_at(err, BW_ERR_IO, vmdk, NULL, 0, 0,
                    "cannot set the VMDK's content id: expected CID= in a descriptor in its first "
                    "64 KiB, with room after it");
    return rc;
}
