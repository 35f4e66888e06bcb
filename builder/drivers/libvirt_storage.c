/* The libvirt driver on a remote host: volumes in a storage pool, uploaded and downloaded
 * through libvirt streams; the ISO uploaded once per sha256. */
#include "libvirt_int.h"
#include "../base/file.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"
#include "../base/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static int send_fd(virStreamPtr st, char *data, size_t n, void *ud)
{
    (void)st;
    int fd = *(int *)ud;
    ssize_t r;
    while ((r = read(fd, data, n)) < 0 && errno == EINTR)
        ;
    return (int)r;
}

int bw_lv_recv_fd(virStreamPtr st, const char *data, size_t n, void *ud)
{
    (void)st;
    int fd = *(int *)ud;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        done += (size_t)w;
    }
    return (int)n;
}

static virStorageVolPtr create_volume(virStoragePoolPtr pool, const char *name,
                                      unsigned long long bytes, struct bw_error *err)
{
    struct bw_buf x = BW_BUF_INIT;
    bw_buf_init(&x);
    bw_buf_adds(&x, "<volume><name>");
    bw_buf_add_xml(&x, name);
    bw_buf_addf(&x,
                "</name><capacity unit='bytes'>%llu</capacity>"
                "<target><format type='raw'/></target></volume>",
                bytes);
    virStorageVolPtr v = virStorageVolCreateXML(pool, x.data, 0);
    bw_buf_release(&x);
    if (!v)
        bw_lv_fail(err, "virStorageVolCreateXML", name);
    return v;
}

/* Uploads the local file into a new volume; the volume is deleted again on failure. */
virStorageVolPtr bw_lv_upload(struct bw_vm *vm, virStoragePoolPtr pool, const char *name,
                              const char *path, struct bw_error *err)
{
    struct stat st;
    int fd = bw_file_open_read(path, &st, err);
    if (fd < 0)
        return NULL;
    virStorageVolPtr v = create_volume(pool, name, (unsigned long long)st.st_size, err);
    virStreamPtr s = v ? virStreamNew(vm->conn, 0) : NULL;
    int rc = -1;
    double t0 = bw_lv_now_s();
    if (s && virStorageVolUpload(v, s, 0, (unsigned long long)st.st_size, 0) == 0) {
        if (virStreamSendAll(s, send_fd, &fd) == 0 && virStreamFinish(s) == 0)
            rc = 0;
        else
            virStreamAbort(s);
    }
    if (rc == 0)
        bw_lv_note(vm, "uploaded %s to pool %s as %s (%.1f MiB in %.1f s)", path, vm->pool_name,
                   name, (double)st.st_size / 1048576.0, bw_lv_now_s() - t0);
    if (v && rc < 0) {
        bw_lv_fail(err, "virStorageVolUpload", name);
        virStorageVolDelete(v, 0);
        virStorageVolFree(v);
        v = NULL;
    }
    if (s)
        virStreamFree(s);
    close(fd);
    return v;
}

int bw_lv_download(struct bw_vm *vm, virStorageVolPtr v, const char *path, struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.download", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        bw_error_at(err, BW_ERR_IO, tmp, NULL, 0, 0, "cannot create: %s", strerror(errno));
        free(tmp);
        return -1;
    }
    virStreamPtr s = virStreamNew(vm->conn, 0);
    int rc = -1;
    double t0 = bw_lv_now_s();
    if (s && virStorageVolDownload(v, s, 0, 0, 0) == 0) {
        if (virStreamRecvAll(s, bw_lv_recv_fd, &fd) == 0 && virStreamFinish(s) == 0)
            rc = 0;
        else
            virStreamAbort(s);
    }
    if (rc == 0) {
        struct stat st;
        fstat(fd, &st);
        bw_lv_note(vm, "downloaded the disk from pool %s (%.1f MiB in %.1f s)", vm->pool_name,
                   (double)st.st_size / 1048576.0, bw_lv_now_s() - t0);
    }
    if (rc < 0)
        bw_lv_fail(err, "virStorageVolDownload", path);
    if (s)
        virStreamFree(s);
    if (close(fd) < 0 && rc == 0)
        rc = -1;
    rc = bw_file_commit(tmp, path, rc, err);
    free(tmp);
    return rc;
}

/* The ISO in the pool, uploaded unless a finished upload of the same sha256 is there. */
char *bw_lv_remote_iso(struct bw_vm *vm, virStoragePoolPtr pool, const char *iso,
                       struct bw_error *err)
{
    char hex[BW_HASH_MAX_HEX + 1];
    if (bw_hash_file(iso, BW_HASH_SHA256, hex, NULL, NULL, err) < 0)
        return NULL;
    char *name = bw_xasprintf("boxwright-%s.iso", hex);
    char *marker = bw_xasprintf("boxwright-%s.iso.done", hex);
    char *path = NULL;
    virStorageVolPtr v = virStorageVolLookupByName(pool, name);
    virStorageVolPtr m = virStorageVolLookupByName(pool, marker);
    if (!v || !m) {
        if (v) { /* an upload that did not finish */
            virStorageVolDelete(v, 0);
            virStorageVolFree(v);
        }
        v = bw_lv_upload(vm, pool, name, iso, err);
        if (v && !m) {
            m = create_volume(pool, marker, 0, err);
            if (!m) {
                virStorageVolFree(v);
                v = NULL;
            }
        }
    } else
        bw_lv_note(vm, "the ISO is already in pool %s (%s)", vm->pool_name, name);
    if (v) {
        path = virStorageVolGetPath(v);
        if (!path)
            bw_lv_fail(err, "virStorageVolGetPath", name);
    }
    if (v)
        virStorageVolFree(v);
    if (m)
        virStorageVolFree(m);
    free(name);
    free(marker);
    return path;
}
