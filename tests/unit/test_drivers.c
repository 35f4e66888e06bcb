/* Driver translations as golden files: a VM spec -> the exact QEMU command line. */
#include "golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/core/definition.h"
#include "../../builder/drivers/domxml.h"
#include "../../builder/drivers/driver.h"
#include "../../builder/export/exporter.h"
#include "../../builder/pipeline/vmspec.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static char *made[64];
static size_t n_made;

static void note_made(const char *name)
{
    ck_assert_uint_lt(n_made, sizeof(made) / sizeof(made[0]));
    made[n_made++] = bw_xstrdup(name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spec a build of `def` would use, with fixed paths and ports so the output is stable. */
static struct bw_vm_spec spec_of(const struct bw_definition *def)
{
    struct bw_vm_spec s = {0};
    struct bw_hypervisor hv = {&bw_driver_qemu, "tcg", NULL, NULL};
    bw_vm_spec_of(def, &hv, &s);
    s.name = def->name;
    s.workdir = "/work/output-tiny";
    s.iso = "/cache/sha256-0123/tiny-installer.iso";
    s.disk = "/work/output-tiny/disk.qcow2";
    s.ssh_host_port = 2222;
    s.http_socket = "/work/output-tiny/.work/http.sock"; /* the QEMU driver's nc goes here */
    s.http_port = 34567; /* the libvirt driver's chardev, the stream relay's port */
    if (def->image.urls.n) {
        /* The first boot of an image: no ISO; the seed over HTTP (SMBIOS) or on a volume. */
        s.iso = NULL;
        if (strcmp(def->cloud_init.seed, "http") == 0)
            s.smbios_serial = "ds=nocloud-net;s=http://10.0.2.100:8100/";
        else
            s.seed_iso = "/work/output-tiny/.work/seed.iso";
    }
    if (def->cd.files.n) /* the answer files' CD, as the build's cd step writes it */
        s.answer_iso = "/work/output-tiny/.work/answers.iso";
    return s;
}

/* A direct kernel boot of an installer, on a NAT (user) network with a seed volume. */
static void kernel_boot(struct bw_vm_spec *s)
{
    s->kernel = "/work/output-tiny/.work/kernel";
    s->initrd = "/work/output-tiny/.work/initrd";
    s->append = "console=ttyS0 auto url=http://10.0.2.100:8100/answer.cfg, with a comma";
    s->seed_iso = "/work/output-tiny/.work/seed,1.iso"; /* a comma QEMU must not split at */
    s->smbios_serial = "ds=nocloud-net;s=http://10.0.2.100:8100/,x";
    s->http_socket = "/work/output tiny/it's,here.sock"; /* a blank, a quote, a comma */
    s->isolated = false;
}

static void check_qemu_argv(const char *tmpl, const char *variant,
                            void (*tweak)(struct bw_vm_spec *))
{
    char *path = bw_xasprintf("%s/%s/definition.json", BW_TEMPLATES, tmpl);
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load(path, &errs);
    ck_assert_ptr_nonnull(def);
    struct bw_vm_spec spec = spec_of(def);
    if (tweak)
        tweak(&spec);
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = bw_driver_qemu.create(&spec, &err);
    ck_assert_msg(vm != NULL, "%s", err.msg);
    struct bw_buf out = BW_BUF_INIT;
    bw_buf_init(&out);
    for (char *const *a = bw_driver_qemu.command(vm); *a; a++)
        bw_buf_addf(&out, "%s\n", *a);
    char *name = bw_xasprintf("%s%s.argv", tmpl, variant);
    note_made(name);
    char *msg = golden_check("qemu", name, out.data, out.len);
    ck_assert_msg(msg == NULL, "%s", msg);
    free(name);
    bw_buf_release(&out);
    bw_driver_qemu.destroy(vm);
    bw_definition_free(def);
    free(path);
}

/* Every template of the catalogue (a directory of templates/ with a definition.json), sorted:
 * a new template gains its golden files, in every driver's directory, by being there. */
static char **catalogue(size_t *n)
{
    DIR *d = opendir(BW_TEMPLATES);
    ck_assert_ptr_nonnull(d);
    char **v = NULL;
    size_t alloc = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *def = bw_xasprintf("%s/%s/definition.json", BW_TEMPLATES, e->d_name);
        if (e->d_name[0] != '.' && access(def, R_OK) == 0) {
            BW_GROW(v, alloc, *n + 1);
            v[(*n)++] = bw_xstrdup(e->d_name);
        }
        free(def);
    }
    closedir(d);
    qsort(v, *n, sizeof(*v), by_name);
    ck_assert_uint_ge(*n, 1);
    return v;
}

/* Every file in tests/data/<sub>/ was compared by a case of this run: none is left over from a
 * template or variant that is gone. */
static void no_stale_golden_files(const char *sub, const char *suffix, char **names, size_t n)
{
    char **have = golden_list(sub, suffix);
    for (char **h = have; *h; h++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(names[i], *h) == 0;
        ck_assert_msg(found, "tests/data/%s/%s: no template or variant produces it", sub, *h);
    }
    golden_list_free(have);
}

static void forget_made(void)
{
    for (size_t i = 0; i < n_made; i++)
        free(made[i]);
    n_made = 0;
}

START_TEST(test_qemu_command_line_for_each_template)
{
    size_t n;
    char **templates = catalogue(&n);
    for (size_t i = 0; i < n; i++) {
        check_qemu_argv(templates[i], "", NULL);
        free(templates[i]);
    }
    free(templates);
    check_qemu_argv("tiny", "-kernel-user-seed", kernel_boot);
    no_stale_golden_files("qemu", ".argv", made, n_made);
    forget_made();
}
END_TEST

START_TEST(test_unsupported_models_are_errors_not_guesses)
{
    struct bw_vm_spec s = {0};
    s.name = "x";
    s.workdir = "/tmp";
    s.disk = "/tmp/d.qcow2";
    s.disk_model = "floppy";
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(bw_driver_qemu.create(&s, &err));
    ck_assert_int_eq(err.code, BW_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "floppy"));
    s.disk_model = "virtio";
    s.nic_model = "ne2k";
    ck_assert_ptr_null(bw_driver_qemu.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "ne2k"));
    bw_error_release(&err);
    ck_assert_ptr_eq(bw_driver_find("qemu"), &bw_driver_qemu);
    ck_assert_ptr_null(bw_driver_find("hyperv"));
}
END_TEST

/* The domain XML of the installer VM a libvirt build of `tmpl` would start, as a golden file. */
static void check_domain_xml(const char *tmpl, const char *variant,
                             void (*tweak)(struct bw_vm_spec *s, struct bw_domxml_paths *p))
{
    char *path = bw_xasprintf("%s/%s/definition.json", BW_TEMPLATES, tmpl);
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load(path, &errs);
    ck_assert_ptr_nonnull(def);
    struct bw_vm_spec spec = spec_of(def);
    spec.name = "boxwright-tiny-4242-0badcafe-installer";
    spec.http_port = 40123; /* the stream relay */
    spec.http_guest_port = 8100;
    struct bw_domxml_paths p = {
        spec.iso, NULL, spec.disk, "/work/output-tiny/installer/serial.log", NULL, spec.answer_iso};
    if (tweak)
        tweak(&spec, &p);
    struct bw_error err = BW_ERROR_INIT;
    char *xml = bw_domain_xml(&spec, &p, &err);
    ck_assert_msg(xml != NULL, "%s", err.msg);
    char *name = bw_xasprintf("%s%s.xml", tmpl, variant);
    note_made(name);
    char *msg = golden_check("libvirt", name, xml, strlen(xml));
    ck_assert_msg(msg == NULL, "%s", msg);
    free(name);
    free(xml);
    bw_definition_free(def);
    free(path);
}

/* What the validation VM of a remote build looks like: volume paths, no ISO, no serial file. */
static void remote_validate(struct bw_vm_spec *s, struct bw_domxml_paths *p)
{
    s->name = "boxwright-tiny-4242-0badcafe-validate";
    s->http_port = 0;
    s->http_guest_port = 0;
    p->iso = NULL;
    p->disk = "/var/lib/libvirt/images/boxwright-tiny-4242-0badcafe-validate.qcow2";
    p->serial = NULL;
}

/* Every model the schema allows that libvirt can express, KVM and EFI, and XML escaping. */
static void other_models(struct bw_vm_spec *s, struct bw_domxml_paths *p)
{
    s->accel = "kvm";
    s->firmware = "efi";
    s->disk_model = "scsi";
    s->nic_model = "e1000";
    s->cpus = 4;
    s->memory = 2ULL << 30;
    p->iso = "/cache/it's <odd> & \"quoted\".iso";
    p->nvram = "/work/output-tiny/installer/VARS.fd";
}

static void kernel_boot_xml(struct bw_vm_spec *s, struct bw_domxml_paths *p)
{
    kernel_boot(s);
    p->seed = s->seed_iso;
}

START_TEST(test_domain_xml_for_each_template)
{
    size_t n;
    char **templates = catalogue(&n);
    for (size_t i = 0; i < n; i++) {
        check_domain_xml(templates[i], "", NULL);
        free(templates[i]);
    }
    free(templates);
    check_domain_xml("tiny", "-remote-validate", remote_validate);
    check_domain_xml("tiny", "-kvm-efi-scsi-e1000", other_models);
    check_domain_xml("tiny", "-kernel-user-seed", kernel_boot_xml);
    no_stale_golden_files("libvirt", ".xml", made, n_made);
    forget_made();
}
END_TEST

START_TEST(test_domain_xml_refuses_what_libvirt_cannot_express)
{
    struct bw_vm_spec s = {0};
    s.name = "x";
    s.disk_model = "nvme";
    struct bw_domxml_paths p = {NULL, NULL, "/tmp/d.qcow2", NULL, NULL, NULL};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(bw_domain_xml(&s, &p, &err));
    ck_assert_int_eq(err.code, BW_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"nvme\""));
    ck_assert_ptr_nonnull(strstr(err.msg, "--driver qemu"));
    s.disk_model = "virtio";
    s.nic_model = "ne2k";
    ck_assert_ptr_null(bw_domain_xml(&s, &p, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "\"ne2k\""));
    bw_error_release(&err);
    ck_assert_ptr_eq(bw_driver_find("libvirt"), &bw_driver_libvirt);
}
END_TEST

/* Every driver of the table has what the build calls without checking, and is found by its
 * name; the members callers check (send_key, read_memory, screenshot, serial_log,
 * hypervisor_log) may be NULL. */
START_TEST(test_every_driver_of_the_table_has_its_required_members)
{
    size_t n;
    const struct bw_driver *const *d = bw_drivers(&n);
    ck_assert_uint_ge(n, 2);
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(d[i]->name);
        ck_assert_ptr_eq(bw_driver_find(d[i]->name), d[i]);
        ck_assert_msg(d[i]->describe && d[i]->choose_accel && d[i]->create && d[i]->command &&
                          d[i]->start && d[i]->send_chord && d[i]->wait_off && d[i]->stop &&
                          d[i]->destroy,
                      "driver %s lacks a required member", d[i]->name);
        /* Port 0 is the relay's (the guest reaches the host's loopback) or the port the
         * server bound on the host address the driver finds. */
        ck_assert_msg(d[i]->guest_http_ip && (d[i]->guest_http_port || d[i]->http_as_stream ||
                                              d[i]->http_host_address),
                      "driver %s does not say where the guest reaches HTTP", d[i]->name);
        ck_assert_msg(d[i]->box_provider && bw_exporter_find(d[i]->box_provider),
                      "driver %s names no box provider of the exporter table", d[i]->name);
        ck_assert_ptr_nonnull(strstr(bw_driver_names(), d[i]->name));
        ck_assert_msg(d[i]->user_network, "driver %s does not describe its network", d[i]->name);
    }
    ck_assert_ptr_null(bw_driver_find("virtualbox-typo"));
}
END_TEST

/* A remote libvirt host's KVM is not this machine's: "auto" does not probe it here. */
START_TEST(test_the_accelerator_is_chosen_by_the_driver_for_its_host)
{
    char why[512];
    const char *remote = "qemu+ssh://builder@kvm-host.example/system";
    ck_assert_str_eq(bw_driver_libvirt.choose_accel("auto", remote, why, sizeof(why)), "tcg");
    ck_assert_msg(strstr(why, remote) && strstr(why, "--accel kvm"), "%s", why);
    ck_assert_str_eq(bw_driver_libvirt.choose_accel("kvm", remote, why, sizeof(why)), "kvm");
    ck_assert_str_eq(bw_driver_libvirt.choose_accel("tcg", remote, why, sizeof(why)), "tcg");
    /* asked for TCG, no driver probes anything */
    ck_assert_str_eq(bw_driver_qemu.choose_accel("tcg", NULL, why, sizeof(why)), "tcg");
    ck_assert_str_eq(bw_driver_libvirt.choose_accel("tcg", "qemu:///system", why, sizeof(why)),
                     "tcg");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("drivers");
    TCase *tc = tcase_create("qemu");
    tcase_add_test(tc, test_qemu_command_line_for_each_template);
    tcase_add_test(tc, test_every_driver_of_the_table_has_its_required_members);
    tcase_add_test(tc, test_the_accelerator_is_chosen_by_the_driver_for_its_host);
    tcase_add_test(tc, test_unsupported_models_are_errors_not_guesses);
    suite_add_tcase(s, tc);
    TCase *lv = tcase_create("libvirt");
    tcase_add_test(lv, test_domain_xml_for_each_template);
    tcase_add_test(lv, test_domain_xml_refuses_what_libvirt_cannot_express);
    suite_add_tcase(s, lv);
    return test_run(s);
}
