/* Vagrant libvirt boxes and the manifest, read back with libarchive as vagrant's bsdtar would. */
#include "golden.h"
#include "../../builder/base/digest.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/drivers/driver.h"
#include "../../builder/disk/disk.h"
#include "../../builder/export/export.h"
#include "../../builder/export/exporter.h"

#include <arpa/inet.h>
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <regex.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bw-export-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    test_rm_rf(dir);
}

static char *make_disk(const char *size)
{
    char *disk = bw_xasprintf("%s/disk-%s.qcow2", dir, size);
    char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", disk, (char *)size, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&res);
    return disk;
}

struct member {
    char name[64];
    struct bw_buf data;
};

/* Reads every member of an archive (any compression libarchive knows), in order. */
static size_t read_box(const char *box, struct member *m, size_t max)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    ck_assert_int_eq(archive_read_open_filename(a, box, 65536), ARCHIVE_OK);
    struct archive_entry *e;
    size_t n = 0;
    while (n < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        snprintf(m[n].name, sizeof(m[n].name), "%s", archive_entry_pathname(e));
        bw_buf_init(&m[n].data);
        char buf[65536];
        la_ssize_t r;
        while ((r = archive_read_data(a, buf, sizeof(buf))) > 0)
            bw_buf_add(&m[n].data, buf, (size_t)r);
        n++;
    }
    archive_read_free(a);
    return n;
}

/* Through the table, as a build finds it. */
static int libvirt_box(const struct bw_export_input *in, const char *box, struct bw_error *err)
{
    const struct bw_exporter *x = bw_exporter_find("libvirt");
    ck_assert_ptr_nonnull(x);
    return x->write_box(in, box, err);
}

START_TEST(test_libvirt_box_has_metadata_vagrantfile_and_the_disk_at_its_root)
{
    static const char *const comps[] = {"gzip", "zstd", "none"};
    char *disk = make_disk("1536M"); /* 1.5 GiB: virtual_size must round up to 2 */
    struct bw_buf orig = BW_BUF_INIT;
    bw_buf_init(&orig);
    ck_assert_int_eq(bw_buf_read_file(&orig, disk), 0);
    for (size_t c = 0; c < 3; c++) {
        char *box = bw_xasprintf("%s/tiny-%s.box", dir, comps[c]);
        struct bw_export_input in = {.name = "tiny",
                                     .workdir = dir,
                                     .disk = disk,
                                     .compression = comps[c],
                                     .level = c == 0 ? 6 : -1,
                                     .vagrantfile =
                                         "config.ssh.shell = \"sh\"\nconfig.vm.guest = :linux"};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(libvirt_box(&in, box, &err) == 0, "%s", err.msg);
        struct member m[4];
        size_t n = read_box(box, m, 4);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(m[0].name, "metadata.json");
        ck_assert_str_eq(m[1].name, "Vagrantfile");
        ck_assert_str_eq(m[2].name, "box.img");
        json_t *meta = json_loadb(m[0].data.data, m[0].data.len, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(meta, "provider")), "libvirt");
        ck_assert_str_eq(json_string_value(json_object_get(meta, "format")), "qcow2");
        ck_assert_int_eq(json_integer_value(json_object_get(meta, "virtual_size")), 2);
        json_decref(meta);
        ck_assert_ptr_nonnull(strstr(m[1].data.data, "libvirt.driver = \"qemu\""));
        ck_assert_ptr_nonnull(strstr(m[1].data.data, "\n  config.ssh.shell = \"sh\"\n"));
        ck_assert_ptr_nonnull(strstr(m[1].data.data, "\n  config.vm.guest = :linux\nend\n"));
        ck_assert_uint_eq(m[2].data.len, orig.len);
        ck_assert_int_eq(memcmp(m[2].data.data, orig.data, orig.len), 0);
        for (size_t i = 0; i < n; i++)
            bw_buf_release(&m[i].data);
        free(box);
    }
    bw_buf_release(&orig);
    free(disk);
}
END_TEST

START_TEST(test_raw_disks_are_refused_for_libvirt_boxes)
{
    char *raw = bw_xasprintf("%s/disk.raw", dir);
    char *argv[] = {"qemu-img", "create", "-q", "-f", "raw", raw, "1M", NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_spawn_run(argv, NULL, NULL, 0, &res, &err), 0);
    bw_spawn_result_release(&res);
    char *box = bw_xasprintf("%s/x.box", dir);
    struct bw_export_input in = {
        .name = "x", .workdir = dir, .disk = raw, .kvm = true, .compression = "gzip", .level = -1};
    ck_assert_int_eq(libvirt_box(&in, box, &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "raw"));
    ck_assert_int_ne(access(box, F_OK), 0); /* nothing half-written left behind */
    bw_error_release(&err);
    free(box);
    free(raw);
}
END_TEST

/* gzip through libarchive when pigz is not installed: a box all the same, reproducible too. */
START_TEST(test_gzip_without_pigz_is_libarchive_s_and_reproducible)
{
    char *disk = make_disk("64M");
    char *bin = bw_xasprintf("%s/bin", dir);
    char *link = bw_xasprintf("%s/qemu-img", bin);
    ck_assert_int_eq(mkdir(bin, 0755), 0);
    ck_assert_int_eq(symlink("/usr/bin/qemu-img", link), 0);
    char *path = bw_xstrdup(getenv("PATH"));
    setenv("PATH", bin, 1);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    char hex[2][BW_HASH_MAX_HEX + 1];
    struct bw_error err = BW_ERROR_INIT;
    for (int i = 0; i < 2; i++) {
        char *box = bw_xasprintf("%s/np%d.box", dir, i);
        struct bw_export_input in = {
            .name = "t", .workdir = dir, .disk = disk, .compression = "gzip", .level = 6};
        ck_assert_msg(libvirt_box(&in, box, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(bw_hash_file(box, BW_HASH_SHA256, hex[i], NULL, NULL, &err), 0);
        struct member m[4];
        ck_assert_uint_eq(read_box(box, m, 4), 3);
        for (size_t k = 0; k < 3; k++)
            bw_buf_release(&m[k].data);
        free(box);
    }
    setenv("PATH", path, 1);
    unsetenv("SOURCE_DATE_EPOCH");
    ck_assert_str_eq(hex[0], hex[1]);
    free(path);
    free(link);
    free(bin);
    free(disk);
}
END_TEST

/* The table: every provider found by its name, none twice, nothing else found. */
START_TEST(test_every_exporter_is_found_by_its_provider)
{
    size_t n = 0;
    for (const char *const *p = bw_exporter_providers(); *p; p++, n++) {
        const struct bw_exporter *x = bw_exporter_find(*p);
        ck_assert_ptr_nonnull(x);
        ck_assert_str_eq(x->provider, *p);
        ck_assert_ptr_nonnull(x->write_box);
        ck_assert_ptr_nonnull(x->summary);
        for (const char *const *q = bw_exporter_providers(); q != p; q++)
            ck_assert_str_ne(*q, *p);
    }
    ck_assert_uint_ge(n, 1);
    ck_assert_ptr_null(bw_exporter_find("virtualbox-typo"));
    ck_assert_ptr_null(bw_exporter_find(NULL));
}
END_TEST

/* With SOURCE_DATE_EPOCH the same disk gives the same bytes, whatever the files' times and
 * the clock say; without it two boxes written a second apart differ (gzip's header time). */
START_TEST(test_the_same_disk_gives_the_same_box_with_source_date_epoch)
{
    static const char *const comps[] = {"gzip", "zstd", "none"};
    char *disk = make_disk("64M");
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    for (size_t c = 0; c < 3; c++) {
        char *a = bw_xasprintf("%s/a-%s.box", dir, comps[c]);
        char *b = bw_xasprintf("%s/b-%s.box", dir, comps[c]);
        struct bw_export_input in = {
            .name = "t", .workdir = dir, .disk = disk, .compression = comps[c], .level = -1};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(libvirt_box(&in, a, &err) == 0, "%s", err.msg);
        struct timespec t[2] = {{1600000000 + (time_t)c, 0}, {1600000000 + (time_t)c, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, disk, t, 0), 0); /* the disk touched since */
        ck_assert_msg(libvirt_box(&in, b, &err) == 0, "%s", err.msg);
        char ha[BW_HASH_MAX_HEX + 1], hb[BW_HASH_MAX_HEX + 1];
        ck_assert_int_eq(bw_hash_file(a, BW_HASH_SHA256, ha, NULL, NULL, &err), 0);
        ck_assert_int_eq(bw_hash_file(b, BW_HASH_SHA256, hb, NULL, NULL, &err), 0);
        ck_assert_msg(strcmp(ha, hb) == 0, "%s: two exports of one disk differ", comps[c]);
        struct member m[4];
        size_t n = read_box(a, m, 4);
        ck_assert_uint_eq(n, 3);
        for (size_t i = 0; i < n; i++)
            bw_buf_release(&m[i].data);
        free(a);
        free(b);
    }
    unsetenv("SOURCE_DATE_EPOCH");
    char *a = bw_xasprintf("%s/now-a.box", dir), *b = bw_xasprintf("%s/now-b.box", dir);
    struct bw_export_input in = {
        .name = "t", .workdir = dir, .disk = disk, .compression = "gzip", .level = -1};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(libvirt_box(&in, a, &err), 0);
    sleep(1);
    ck_assert_int_eq(libvirt_box(&in, b, &err), 0);
    char ha[BW_HASH_MAX_HEX + 1], hb[BW_HASH_MAX_HEX + 1];
    ck_assert_int_eq(bw_hash_file(a, BW_HASH_SHA256, ha, NULL, NULL, &err), 0);
    ck_assert_int_eq(bw_hash_file(b, BW_HASH_SHA256, hb, NULL, NULL, &err), 0);
    ck_assert_str_ne(ha, hb);
    free(a);
    free(b);
    free(disk);
}
END_TEST

/* The text between `after` and the next '"' at or past where `after` first occurs; caller
 * frees, NULL when absent. */
static char *attr_after(const char *text, const char *after)
{
    const char *p = strstr(text, after);
    if (!p)
        return NULL;
    p += strlen(after);
    return bw_xstrndup(p, strcspn(p, "\""));
}

static void save(const char *path, const struct bw_buf *b)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b->data, 1, b->len, f), b->len);
    fclose(f);
}

/* What VirtualBox checks on import and Vagrant and Packer read, as they read it: box.ovf is
 * well-formed XML naming the VMDK with its real size and the disk's capacity; the disk's
 * vbox:uuid is the image attached in <vbox:Machine>; adapter 1's MAC (found the way Packer
 * finds it) is the Vagrantfile's base_mac; the VMDK is streamOptimized with the disk's size. */
START_TEST(test_virtualbox_box_has_an_ovf_that_matches_its_vmdk)
{
    char *disk = make_disk("1536M");
    char *box = bw_xasprintf("%s/a&b-virtualbox.box", dir);
    struct bw_export_input in = {.name = "a&b",
                                 .workdir = dir,
                                 .disk = disk,
                                 .memory = 1024ULL << 20,
                                 .cpus = 2,
                                 .efi = true,
                                 .os_family = "linux",
                                 .os_distro = "debian",
                                 .compression = "gzip",
                                 .level = 1,
                                 .vagrantfile = "config.vm.guest = :linux"};
    const struct bw_exporter *x = bw_exporter_find("virtualbox");
    ck_assert_ptr_nonnull(x);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(x->write_box(&in, box, &err) == 0, "%s", err.msg);
    struct member m[5];
    size_t n = read_box(box, m, 5);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(m[0].name, "metadata.json");
    ck_assert_str_eq(m[1].name, "Vagrantfile");
    ck_assert_str_eq(m[2].name, "box.ovf");
    ck_assert_str_eq(m[3].name, "box-disk001.vmdk");
    json_t *meta = json_loadb(m[0].data.data, m[0].data.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "provider")), "virtualbox");
    json_decref(meta);

    bw_buf_addc(&m[2].data, '\0');
    const char *ovf = m[2].data.data;
    char *ovf_path = bw_xasprintf("%s/box.ovf", dir);
    m[2].data.len--;
    save(ovf_path, &m[2].data);
    char *lint[] = {"xmllint", "--noout", ovf_path, NULL};
    struct bw_spawn_result res;
    ck_assert_msg(bw_spawn_run(lint, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&res);

    char *size = attr_after(ovf, "ovf:href=\"box-disk001.vmdk\" ovf:size=\"");
    ck_assert_ptr_nonnull(size);
    ck_assert_uint_eq(strtoull(size, NULL, 10), m[3].data.len);
    char *capacity = attr_after(ovf, "ovf:capacity=\"");
    ck_assert_str_eq(capacity, "1610612736");
    char *disk_uuid = attr_after(ovf, "vbox:uuid=\"");
    char *image = bw_xasprintf("<Image uuid=\"{%s}\"/>", disk_uuid);
    ck_assert_msg(strstr(ovf, image), "the attached image is not the disk %s", disk_uuid);
    /* Packer: <Adapter slot="0".+?MACAddress="(.+?)" */
    const char *adapter = strstr(ovf, "<Adapter slot=\"0\"");
    ck_assert_ptr_nonnull(adapter);
    char *mac = attr_after(adapter, "MACAddress=\"");
    ck_assert_uint_eq(strlen(mac), 12);
    ck_assert_int_eq(strncmp(mac, "080027", 6), 0);
    ck_assert_uint_eq(strspn(mac, "0123456789ABCDEF"), 12);
    char *base_mac = bw_xasprintf("config.vm.base_mac = \"%s\"", mac);
    ck_assert_msg(strstr(m[1].data.data, base_mac), "%s", m[1].data.data);
    ck_assert_ptr_nonnull(strstr(m[1].data.data, "\n  config.vm.guest = :linux\nend\n"));
    ck_assert_ptr_nonnull(strstr(adapter, "<NAT/>"));
    ck_assert_ptr_nonnull(strstr(ovf, "OSType=\"Debian_64\""));
    ck_assert_ptr_nonnull(strstr(ovf, "<Memory RAMSize=\"1024\"/>"));
    ck_assert_ptr_nonnull(strstr(ovf, "<CPU count=\"2\"/>"));
    ck_assert_ptr_nonnull(strstr(ovf, "<Firmware type=\"EFI\"/>"));
    ck_assert_ptr_nonnull(strstr(ovf, "name=\"a&amp;b\""));

    char *vmdk = bw_xasprintf("%s/check.vmdk", dir);
    save(vmdk, &m[3].data);
    char *probe[] = {"qemu-img", "info", "--output=json", vmdk, NULL};
    ck_assert_msg(bw_spawn_run(probe, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    json_t *info = json_loadb(res.out.data, res.out.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(info, "format")), "vmdk");
    ck_assert_int_eq(json_integer_value(json_object_get(info, "virtual-size")), 1610612736);
    json_t *data = json_object_get(json_object_get(info, "format-specific"), "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "create-type")), "streamOptimized");
    json_decref(info);
    bw_spawn_result_release(&res);
    char *left = bw_xasprintf("%s/box-disk001.vmdk", dir);
    ck_assert_int_ne(access(left, F_OK), 0); /* the converted disk does not stay behind */

    for (size_t i = 0; i < n; i++)
        bw_buf_release(&m[i].data);
    free(left);
    free(vmdk);
    free(base_mac);
    free(mac);
    free(image);
    free(disk_uuid);
    free(capacity);
    free(size);
    free(ovf_path);
    free(box);
    free(disk);
}
END_TEST

/* Reproducible: with SOURCE_DATE_EPOCH the UUIDs, the MAC and the VMDK's content id come from
 * it, and the same disk gives the same box; without it two boxes get different MACs. */
START_TEST(test_virtualbox_box_is_reproducible_with_source_date_epoch)
{
    char *disk = make_disk("64M");
    const struct bw_exporter *x = bw_exporter_find("virtualbox");
    char hex[2][BW_HASH_MAX_HEX + 1];
    struct bw_error err = BW_ERROR_INIT;
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    for (int i = 0; i < 2; i++) {
        char *box = bw_xasprintf("%s/r%d.box", dir, i);
        struct bw_export_input in = {.name = "r",
                                     .workdir = dir,
                                     .disk = disk,
                                     .memory = 512ULL << 20,
                                     .cpus = 1,
                                     .compression = "gzip",
                                     .level = -1};
        ck_assert_msg(x->write_box(&in, box, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(bw_hash_file(box, BW_HASH_SHA256, hex[i], NULL, NULL, &err), 0);
        free(box);
    }
    ck_assert_str_eq(hex[0], hex[1]);
    unsetenv("SOURCE_DATE_EPOCH");
    char *mac[2];
    for (int i = 0; i < 2; i++) {
        char *box = bw_xasprintf("%s/u%d.box", dir, i);
        struct bw_export_input in = {.name = "r",
                                     .workdir = dir,
                                     .disk = disk,
                                     .memory = 512ULL << 20,
                                     .cpus = 1,
                                     .compression = "none",
                                     .level = -1};
        ck_assert_msg(x->write_box(&in, box, &err) == 0, "%s", err.msg);
        struct member m[5];
        size_t n = read_box(box, m, 5);
        bw_buf_addc(&m[2].data, '\0');
        mac[i] = attr_after(m[2].data.data, "MACAddress=\"");
        for (size_t k = 0; k < n; k++)
            bw_buf_release(&m[k].data);
        free(box);
    }
    ck_assert_str_ne(mac[0], mac[1]);
    free(mac[0]);
    free(mac[1]);
    free(disk);
}
END_TEST

/* The real vagrant (Debian's 2.3.4) takes a box of every format of the table as a box for its
 * provider: it unpacks it where that provider will import it from. (Booting the VirtualBox and
 * VMware ones needs those hypervisors, which cannot run here; the libvirt one is brought up by
 * tests/e2e/vagrant-up.) */
START_TEST(test_vagrant_adds_a_box_of_every_format)
{
    char *disk = make_disk("64M");
    char *home = bw_xasprintf("%s/vagrant.d", dir);
    setenv("VAGRANT_HOME", home, 1);
    for (const char *const *p = bw_exporter_providers(); *p; p++) {
        char *box = bw_xasprintf("%s/t-%s.box", dir, *p);
        struct bw_export_input in = {.name = "t",
                                     .workdir = dir,
                                     .disk = disk,
                                     .memory = 512ULL << 20,
                                     .cpus = 1,
                                     .compression = "gzip",
                                     .level = 1};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(bw_exporter_find(*p)->write_box(&in, box, &err) == 0, "%s", err.msg);
        char *name = bw_xasprintf("bw-test-%s", *p);
        char *argv[] = {"vagrant",    "box",      "add", "--name", name,
                        "--provider", (char *)*p, box,   NULL};
        struct bw_spawn_result res;
        int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
        ck_assert_msg(rc == 0, "vagrant box add (%s): %s\n%s", *p, err.msg, res.out.data);
        bw_spawn_result_release(&res);
        char *meta = bw_xasprintf("%s/boxes/%s/0/%s/metadata.json", home, name, *p);
        ck_assert_msg(access(meta, R_OK) == 0, "vagrant did not unpack %s", meta);
        free(meta);
        free(name);
        free(box);
    }
    unsetenv("VAGRANT_HOME");
    free(home);
    free(disk);
}
END_TEST

/* The VMware box: a .vmx whose every line is `key = "value"`, naming the VMDK it carries, with
 * the definition's hardware; the VMDK monolithicSparse with the disk's size; byte-identical
 * with SOURCE_DATE_EPOCH. */
START_TEST(test_vmware_box_has_a_vmx_naming_its_sparse_vmdk)
{
    char *disk = make_disk("1536M");
    const struct bw_exporter *x = bw_exporter_find("vmware_desktop");
    ck_assert_ptr_nonnull(x);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    char hex[2][BW_HASH_MAX_HEX + 1];
    for (int i = 0; i < 2; i++) {
        char *box = bw_xasprintf("%s/v%d.box", dir, i);
        struct bw_export_input in = {.name = "say \"hi\"",
                                     .workdir = dir,
                                     .disk = disk,
                                     .memory = 2048ULL << 20,
                                     .cpus = 2,
                                     .efi = true,
                                     .os_family = "linux",
                                     .os_distro = "debian",
                                     .compression = "gzip",
                                     .level = 1};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(x->write_box(&in, box, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(bw_hash_file(box, BW_HASH_SHA256, hex[i], NULL, NULL, &err), 0);
        if (i == 1) {
            free(box);
            break;
        }
        struct member m[5];
        size_t n = read_box(box, m, 5);
        ck_assert_uint_eq(n, 4);
        ck_assert_str_eq(m[0].name, "metadata.json");
        ck_assert_str_eq(m[2].name, "box.vmx");
        ck_assert_str_eq(m[3].name, "disk.vmdk");
        json_t *meta = json_loadb(m[0].data.data, m[0].data.len, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(meta, "provider")), "vmware_desktop");
        json_decref(meta);
        bw_buf_addc(&m[2].data, '\0');
        regex_t re;
        ck_assert_int_eq(regcomp(&re, "^[.A-Za-z0-9_:]+ = \"[^\"]*\"$", REG_EXTENDED | REG_NOSUB),
                         0);
        for (char *line = m[2].data.data; *line;) {
            size_t len = strcspn(line, "\n");
            char *l = bw_xstrndup(line, len);
            ck_assert_msg(regexec(&re, l, 0, NULL, 0) == 0, "not key = \"value\": %s", l);
            free(l);
            line += len + (line[len] == '\n');
        }
        regfree(&re);
        const char *v = m[2].data.data;
        ck_assert_ptr_nonnull(strstr(v, "\nscsi0:0.fileName = \"disk.vmdk\"\n"));
        ck_assert_ptr_nonnull(strstr(v, "\nmemsize = \"2048\"\n"));
        ck_assert_ptr_nonnull(strstr(v, "\nnumvcpus = \"2\"\n"));
        ck_assert_ptr_nonnull(strstr(v, "\nfirmware = \"efi\"\n"));
        ck_assert_ptr_nonnull(strstr(v, "\nguestOS = \"debian10-64\"\n"));
        ck_assert_ptr_nonnull(strstr(v, "\nethernet0.connectionType = \"nat\"\n"));
        ck_assert_ptr_nonnull(strstr(v, "\ndisplayName = \"say |22hi|22\"\n"));
        char *vmdk = bw_xasprintf("%s/check.vmdk", dir);
        save(vmdk, &m[3].data);
        char *probe[] = {"qemu-img", "info", "--output=json", vmdk, NULL};
        struct bw_spawn_result res;
        ck_assert_msg(bw_spawn_run(probe, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
        json_t *info = json_loadb(res.out.data, res.out.len, 0, NULL);
        ck_assert_int_eq(json_integer_value(json_object_get(info, "virtual-size")), 1610612736);
        json_t *data = json_object_get(json_object_get(info, "format-specific"), "data");
        ck_assert_str_eq(json_string_value(json_object_get(data, "create-type")),
                         "monolithicSparse");
        json_decref(info);
        bw_spawn_result_release(&res);
        for (size_t k = 0; k < n; k++)
            bw_buf_release(&m[k].data);
        free(vmdk);
        free(box);
    }
    unsetenv("SOURCE_DATE_EPOCH");
    ck_assert_str_eq(hex[0], hex[1]);
    free(disk);
}
END_TEST

/* What xmllint's XPath finds in a file: the value as Vagrant's import_vm_xml.ps1 reads it. */
static char *xpath(const char *file, const char *expr)
{
    char *argv[] = {"xmllint", "--xpath", (char *)expr, (char *)file, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
    bw_buf_rtrim(&res.out);
    char *out = bw_xstrdup(rc == 0 ? res.out.data : "");
    bw_spawn_result_release(&res);
    bw_error_release(&err);
    return out;
}

/* The Hyper-V box: "Virtual Machines/box.xml" with every value Vagrant's Hyper-V import reads
 * (the generation, name, processors, memory, boot device, the drive on SCSI for generation 2 or
 * IDE for 1), "Virtual Hard Disks/disk.vhdx" with the disk's size; byte-identical with
 * SOURCE_DATE_EPOCH. */
START_TEST(test_hyperv_box_has_what_vagrant_s_import_reads)
{
    char *disk = make_disk("1536M");
    const struct bw_exporter *x = bw_exporter_find("hyperv");
    ck_assert_ptr_nonnull(x);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    char hex[3][BW_HASH_MAX_HEX + 1];
    for (int i = 0; i < 3; i++) {
        char *box = bw_xasprintf("%s/h%d.box", dir, i);
        struct bw_export_input in = {.name = "a <b> & c",
                                     .workdir = dir,
                                     .disk = disk,
                                     .memory = 2048ULL << 20,
                                     .cpus = 2,
                                     .efi = i < 2,
                                     .compression = "gzip",
                                     .level = 1};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(x->write_box(&in, box, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(bw_hash_file(box, BW_HASH_SHA256, hex[i], NULL, NULL, &err), 0);
        struct member m[5];
        size_t n = read_box(box, m, 5);
        ck_assert_uint_eq(n, 4);
        ck_assert_str_eq(m[0].name, "metadata.json");
        ck_assert_str_eq(m[2].name, "Virtual Machines/box.xml");
        ck_assert_str_eq(m[3].name, "Virtual Hard Disks/disk.vhdx");
        ck_assert_ptr_nonnull(strstr(m[0].data.data, "\"provider\":\"hyperv\""));
        char *xml = bw_xasprintf("%s/box%d.xml", dir, i);
        save(xml, &m[1 + 1].data);
        char *lint[] = {"xmllint", "--noout", xml, NULL};
        struct bw_spawn_result res;
        ck_assert_msg(bw_spawn_run(lint, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
        bw_spawn_result_release(&res);
        static const struct {
            const char *expr, *efi, *bios;
        } reads[] = {
            {"string(/configuration/properties/subtype)", "1", "0"}, /* generation - 1 */
            {"string(/configuration/properties/name)", "a <b> & c", "a <b> & c"},
            {"string(/configuration/settings/processors/count)", "2", "2"},
            {"string(//memory/bank/size)", "2048", "2048"},
            {"string(//memory/bank/limit)", "2048", "2048"},
            {"string(//memory/bank/dynamic_memory_enabled)", "False", "False"},
            {"string(//boot/device0)", "HardDrive", "HardDrive"},
            {"string(//secure_boot_enabled)", "False", "False"},
            {"count(//*[starts-with(name(.),'controller')]/*[pathname][type='VHD'])", "1", "1"},
            {"count(//*[starts-with(name(.),'controller')]/../ChannelInstanceGuid)", "1", "0"},
        };
        for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
            char *v = xpath(xml, reads[k].expr);
            ck_assert_msg(strcmp(v, in.efi ? reads[k].efi : reads[k].bios) == 0, "%s: %s",
                          reads[k].expr, v);
            free(v);
        }
        char *vhdx = bw_xasprintf("%s/check%d.vhdx", dir, i);
        save(vhdx, &m[3].data);
        uint64_t size;
        char fmt[16];
        ck_assert_msg(bw_disk_info(vhdx, &size, fmt, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(fmt, "vhdx");
        ck_assert_uint_eq(size, 1536ULL << 20);
        /* validation finds the disk in it */
        char *out = bw_xasprintf("%s/out%d.vhdx", dir, i);
        ck_assert_msg(bw_box_extract_image(box, out, &err) == 0, "%s", err.msg);
        ck_assert_msg(bw_disk_info(out, &size, fmt, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(fmt, "vhdx");
        for (size_t k = 0; k < n; k++)
            bw_buf_release(&m[k].data);
        free(out);
        free(vhdx);
        free(xml);
        free(box);
    }
    unsetenv("SOURCE_DATE_EPOCH");
    ck_assert_str_eq(hex[0], hex[1]);
    ck_assert_str_ne(hex[0], hex[2]);
    free(disk);
}
END_TEST

/* One build's output directory: a libvirt and a VirtualBox box of a disk of `size`, and the
 * manifest that lists them, as a build writes it. */
static char *fake_build(const char *name, const char *size)
{
    char *out = bw_xasprintf("%s/%s", dir, name);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    char *disk = make_disk(size);
    static const char *const providers[] = {"libvirt", "virtualbox"};
    struct bw_artifact a[2];
    char *paths[2], *files[2];
    struct bw_error err = BW_ERROR_INIT;
    for (size_t i = 0; i < 2; i++) {
        paths[i] = bw_xasprintf("tiny-%s.box", providers[i]);
        files[i] = bw_xasprintf("%s/%s", out, paths[i]);
        struct bw_export_input in = {.name = "tiny",
                                     .workdir = dir,
                                     .disk = disk,
                                     .memory = 256ULL << 20,
                                     .cpus = 1,
                                     .compression = "gzip",
                                     .level = 1};
        ck_assert_msg(bw_exporter_find(providers[i])->write_box(&in, files[i], &err) == 0, "%s",
                      err.msg);
        a[i] = (struct bw_artifact){paths[i], files[i], "vagrant-box", providers[i]};
    }
    char *manifest = bw_xasprintf("%s/manifest.json", out);
    ck_assert_int_eq(bw_write_manifest(manifest, "tiny", a, 2, NULL, &err), 0);
    for (size_t i = 0; i < 2; i++) {
        free(paths[i]);
        free(files[i]);
    }
    free(manifest);
    free(disk);
    return out;
}

static int publish_at(struct bw_spawn_result *res, const char *out, const char *catalog,
                      const char *version, const char *name, const char *url)
{
    char *argv[] = {BW_BINARY,       "publish",   (char *)out,     "--catalog",
                    (char *)catalog, "--version", (char *)version, "--name",
                    (char *)name,    "--url",     (char *)url,     NULL};
    if (!url)
        argv[9] = NULL;
    struct bw_error err = BW_ERROR_INIT;
    bw_spawn_run(argv, NULL, NULL, 0, res, &err);
    bw_error_release(&err);
    return res->status;
}

static int publish(struct bw_spawn_result *res, const char *out, const char *catalog,
                   const char *version, const char *name)
{
    return publish_at(res, out, catalog, version, name, NULL);
}

static char *vagrant(const char *home, char **args)
{
    char *argv[16] = {"vagrant"};
    size_t n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    setenv("VAGRANT_HOME", home, 1);
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
    unsetenv("VAGRANT_HOME");
    ck_assert_msg(rc == 0, "vagrant %s: %s\n%s", args[0], err.msg, res.out.data);
    char *out = bw_xstrdup(res.out.data);
    bw_spawn_result_release(&res);
    return out;
}

/* A pipeline publishes build 1.0.0, the real vagrant adds the box from the catalogue, the
 * pipeline publishes 2.0.0, and `vagrant box update` moves to it. */
START_TEST(test_publish_makes_a_catalogue_vagrant_adds_and_updates_from)
{
    char *one = fake_build("out-1", "64M"), *two = fake_build("out-2", "96M");
    char *catalog = bw_xasprintf("%s/catalog.json", dir);
    struct bw_spawn_result res;
    ck_assert_msg(publish(&res, one, catalog, "1.0.0", "org/tiny") == 0, "%s", res.err.data);
    bw_spawn_result_release(&res);
    json_t *c = json_load_file(catalog, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(c, "name")), "org/tiny");
    json_t *v = json_array_get(json_object_get(c, "versions"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "version")), "1.0.0");
    json_t *p = json_array_get(json_object_get(v, "providers"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "virtualbox");
    char *box = bw_xasprintf("%s/tiny-virtualbox.box", one);
    char *url = bw_xasprintf("file://%s", box);
    ck_assert_str_eq(json_string_value(json_object_get(p, "url")), url);
    char hex[BW_HASH_MAX_HEX + 1];
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_hash_file(box, BW_HASH_SHA256, hex, NULL, NULL, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "checksum")), hex);
    json_decref(c);

    char *home = bw_xasprintf("%s/vagrant.d", dir);
    char *curl = bw_xasprintf("file://%s", catalog);
    char *add[] = {"box", "add", curl, "--provider", "libvirt", NULL};
    free(vagrant(home, add));
    char *list[] = {"box", "list", NULL};
    char *l = vagrant(home, list);
    ck_assert_msg(strstr(l, "org/tiny") && strstr(l, "(libvirt, 1.0.0)"), "%s", l);
    free(l);

    ck_assert_msg(publish(&res, two, catalog, "2.0.0", "org/tiny") == 0, "%s", res.err.data);
    bw_spawn_result_release(&res);
    /* published versions are never changed */
    ck_assert_int_eq(publish(&res, two, catalog, "2.0.0", "org/tiny"), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "version 2.0.0 is already in the catalogue"));
    bw_spawn_result_release(&res);
    char *update[] = {"box", "update", "--box", "org/tiny", "--provider", "libvirt", NULL};
    free(vagrant(home, update));
    l = vagrant(home, list);
    ck_assert_msg(strstr(l, "(libvirt, 2.0.0)"), "%s", l);
    free(l);

    /* what a pipeline gets wrong, told plainly */
    ck_assert_int_eq(publish(&res, two, catalog, "v3", "org/tiny"), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "--version \"v3\": expected numbers"));
    bw_spawn_result_release(&res);
    ck_assert_int_eq(publish(&res, two, catalog, "3.0.0", "org/other"), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "the catalogue is for \"org/tiny\""));
    bw_spawn_result_release(&res);
    ck_assert_int_eq(publish(&res, dir, catalog, "3.0.0", "org/tiny"), 1);
    ck_assert_ptr_nonnull(strstr(res.err.data, "manifest.json"));
    bw_spawn_result_release(&res);

    free(curl);
    free(home);
    free(url);
    free(box);
    free(catalog);
    free(two);
    free(one);
}
END_TEST

/* The same from a web server, as users get it: the site (the catalogue and each build's boxes)
 * served by `boxwright serve`; vagrant checks the catalogue's URL is JSON (HEAD, Content-Type),
 * adds version 1 from it, and updates to version 2 once it is published. */
START_TEST(test_a_catalogue_on_a_web_server_is_added_and_updated_from)
{
    char *site = bw_xasprintf("%s/site", dir);
    ck_assert_int_eq(mkdir(site, 0755), 0);
    char *one = fake_build("site/1", "64M"), *two = fake_build("site/2", "96M");
    unsigned port = bw_free_port();
    char ports[16];
    snprintf(ports, sizeof(ports), "%u", port);
    char *serve[] = {BW_BINARY, "serve", site, "--port", ports, NULL};
    char *log = bw_xasprintf("%s/serve.log", dir);
    struct bw_error err = BW_ERROR_INIT;
    pid_t pid = bw_spawn_background(serve, log, &err);
    ck_assert_msg(pid > 0, "%s", err.msg);
    char *catalog = bw_xasprintf("%s/catalog.json", site);
    char *url1 = bw_xasprintf("http://127.0.0.1:%u/1", port);
    char *url2 = bw_xasprintf("http://127.0.0.1:%u/2", port);
    char *curl = bw_xasprintf("http://127.0.0.1:%u/catalog.json", port);
    struct bw_spawn_result res;
    ck_assert_msg(publish_at(&res, one, catalog, "1.0.0", "org/web", url1) == 0, "%s",
                  res.err.data);
    bw_spawn_result_release(&res);
    test_wait_port(port); /* the server is up once it takes a connection */
    char *home = bw_xasprintf("%s/vagrant-web.d", dir);
    char *add[] = {"box", "add", curl, "--provider", "virtualbox", NULL};
    free(vagrant(home, add));
    char *list[] = {"box", "list", NULL};
    char *l = vagrant(home, list);
    ck_assert_msg(strstr(l, "org/web") && strstr(l, "(virtualbox, 1.0.0)"), "%s", l);
    free(l);
    ck_assert_msg(publish_at(&res, two, catalog, "2.0.0", "org/web", url2) == 0, "%s",
                  res.err.data);
    bw_spawn_result_release(&res);
    char *update[] = {"box", "update", "--box", "org/web", "--provider", "virtualbox", NULL};
    free(vagrant(home, update));
    l = vagrant(home, list);
    ck_assert_msg(strstr(l, "(virtualbox, 2.0.0)"), "%s", l);
    free(l);
    /* vagrant took the catalogue and both boxes from the server */
    bw_spawn_stop(pid, 2000);
    struct bw_buf seen = BW_BUF_INIT;
    bw_buf_init(&seen);
    ck_assert_int_eq(bw_buf_read_file(&seen, log), 0);
    ck_assert_msg(strstr(seen.data, "HEAD /catalog.json 200"), "%s", seen.data);
    ck_assert_msg(strstr(seen.data, "GET /1/tiny-virtualbox.box 200"), "%s", seen.data);
    ck_assert_msg(strstr(seen.data, "GET /2/tiny-virtualbox.box 200"), "%s", seen.data);
    free(home);
    free(curl);
    free(url1);
    free(url2);
    free(catalog);
    free(log);
    free(two);
    free(one);
    free(site);
    bw_buf_release(&seen);
}
END_TEST

START_TEST(test_manifest_lists_sizes_and_sha256)
{
    char *disk = make_disk("64M");
    char *box = bw_xasprintf("%s/t.box", dir);
    struct bw_export_input in = {
        .name = "t", .workdir = dir, .disk = disk, .kvm = true, .compression = "gzip", .level = 1};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(libvirt_box(&in, box, &err), 0);
    char *manifest = bw_xasprintf("%s/manifest.json", dir);
    struct bw_artifact a[] = {{"t.box", box, "vagrant-box", "libvirt"}};
    ck_assert_int_eq(bw_write_manifest(manifest, "tiny", a, 1, NULL, &err), 0);
    json_t *m = json_load_file(manifest, 0, NULL);
    ck_assert_ptr_nonnull(m);
    json_t *art = json_array_get(json_object_get(m, "artifacts"), 0);
    char hex[BW_HASH_MAX_HEX + 1];
    ck_assert_int_eq(bw_hash_file(box, BW_HASH_SHA256, hex, NULL, NULL, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(art, "sha256")), hex);
    struct stat st;
    stat(box, &st);
    ck_assert_int_eq(json_integer_value(json_object_get(art, "size")), st.st_size);
    ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "tiny");
    ck_assert_str_eq(json_string_value(json_object_get(art, "provider")), "libvirt");
    json_decref(m);
    free(manifest);
    free(box);
    free(disk);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("vagrant");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* a guard against a hang, not a measure: the real vagrant, under ASan on a busy machine, took
     * over a minute adding its four boxes */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_libvirt_box_has_metadata_vagrantfile_and_the_disk_at_its_root);
    tcase_add_test(tc, test_raw_disks_are_refused_for_libvirt_boxes);
    tcase_add_test(tc, test_manifest_lists_sizes_and_sha256);
    tcase_add_test(tc, test_every_exporter_is_found_by_its_provider);
    tcase_add_test(tc, test_gzip_without_pigz_is_libarchive_s_and_reproducible);
    tcase_add_test(tc, test_the_same_disk_gives_the_same_box_with_source_date_epoch);
    tcase_add_test(tc, test_virtualbox_box_has_an_ovf_that_matches_its_vmdk);
    tcase_add_test(tc, test_virtualbox_box_is_reproducible_with_source_date_epoch);
    tcase_add_test(tc, test_vagrant_adds_a_box_of_every_format);
    tcase_add_test(tc, test_vmware_box_has_a_vmx_naming_its_sparse_vmdk);
    tcase_add_test(tc, test_hyperv_box_has_what_vagrant_s_import_reads);
    tcase_add_test(tc, test_publish_makes_a_catalogue_vagrant_adds_and_updates_from);
    tcase_add_test(tc, test_a_catalogue_on_a_web_server_is_added_and_updated_from);
    suite_add_tcase(s, tc);
    return test_run(s);
}
