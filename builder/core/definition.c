/* The definition: its schema as tables, its defaults and cross-field checks, loading and
 * freeing; see definition.h. */
#include "schema.h"
#include "definition.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"
#include "../drivers/driver.h"
#include "../export/exporter.h"
#include "../../iso-cache/iso_cache.h"
#include "../../http-server/proxy.h"

#include <errno.h>
#include <strings.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <string.h>
#include <sys/stat.h>

static const char *const firmware_choices[] = {"bios", "efi", NULL};

static const char *const disk_choices[] = {"virtio", "scsi", "sata", "ide", "nvme", NULL};

static const char *const nic_choices[] = {"virtio", "e1000", "e1000e", "rtl8139", NULL};

static const char *const method_choices[] = {"keys", "kernel", "none", NULL};

static const char *const network_choices[] = {"isolated", "user", NULL};

static const char *const format_choices[] = {"qcow2", "raw", "vmdk", NULL};

static const char *const seed_choices[] = {"http", "cd", NULL};

static const char *const label_choices[] = {"cidata", "CIDATA", NULL};

static const char *const family_choices[] = {"linux", "bsd", "windows", NULL};

static const char *const export_type_choices[] = {"vagrant", "ami", NULL};

static const char *const compression_choices[] = {"gzip", "zstd", "none", NULL};

#define OFF(field) offsetof(struct bw_definition, field)

static const struct field os_fields[] = {
    {"family", K_ENUM, OFF(os.family) - OFF(os), true, 0, 0, family_choices, NULL, NULL, NULL},
    {"distro", K_STRING, OFF(os.distro) - OFF(os), false, 0, 0, NULL, NULL, NULL, NULL},
    {"version", K_STRING, OFF(os.version) - OFF(os), false, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct schema os_schema = SCHEMA(os_fields);

static const struct field iso_fields[] = {
    {"urls", K_STRLIST, OFF(iso.urls) - OFF(iso), true, 1, 0, NULL, NULL, NULL,
     "a list of URLs or paths, in order of preference"},
    {"checksum", K_STRING, OFF(iso.checksum) - OFF(iso), true, 0, 0, NULL, NULL, NULL,
     "\"sha256:HEX\", \"sha512:HEX\", \"sha1:HEX\", \"md5:HEX\", \"file:URL\" or \"none\""},
    {"volume_id", K_STRING, OFF(iso.volume_id) - OFF(iso), false, 0, 0, NULL, NULL, NULL,
     "a POSIX extended regular expression for the ISO's volume ID"},
};

static const struct schema iso_schema = SCHEMA(iso_fields);

static const struct field image_fields[] = {
    {"urls", K_STRLIST, OFF(image.urls) - OFF(image), true, 1, 0, NULL, NULL, NULL,
     "a list of URLs or paths of the disk image, in order of preference"},
    {"checksum", K_STRING, OFF(image.checksum) - OFF(image), true, 0, 0, NULL, NULL, NULL,
     "\"sha256:HEX\", \"sha512:HEX\", \"sha1:HEX\", \"md5:HEX\", \"file:URL\" or \"none\""},
    {"format", K_ENUM, OFF(image.format) - OFF(image), false, 0, 0, format_choices, NULL, NULL,
     NULL},
};

static const struct schema image_schema = SCHEMA(image_fields);

#define IOFF(f) (OFF(cloud_init.f) - OFF(cloud_init))

static const struct field cloud_init_fields[] = {
    {"seed", K_ENUM, IOFF(seed), true, 0, 0, seed_choices, NULL, NULL,
     "\"http\" (served by boxwright) or \"cd\" (a volume labelled cidata)"},
    {"label", K_ENUM, IOFF(label), false, 0, 0, label_choices, NULL, NULL, NULL},
    {"user_data", K_STRING, IOFF(user_data), true, 0, 0, NULL, NULL, NULL,
     "a path to the user-data file"},
    {"meta_data", K_STRING, IOFF(meta_data), false, 0, 0, NULL, NULL, NULL, NULL},
    {"vendor_data", K_STRING, IOFF(vendor_data), false, 0, 0, NULL, NULL, NULL, NULL},
    {"network_config", K_STRING, IOFF(network_config), false, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct schema cloud_init_schema = SCHEMA(cloud_init_fields);

static const struct field vm_fields[] = {
    {"cpus", K_INT, OFF(vm.cpus) - OFF(vm), false, 1, 256, NULL, NULL, NULL, NULL},
    /* Upper bounds: "99999T" was accepted without a word; no host backs more. */
    {"memory", K_SIZE, OFF(vm.memory) - OFF(vm), false, 32L << 20, 4L << 40, NULL, NULL, NULL,
     NULL},
    {"disk_size", K_SIZE, OFF(vm.disk_size) - OFF(vm), false, 1L << 20, 64L << 40, NULL, NULL, NULL,
     NULL},
    {"firmware", K_ENUM, OFF(vm.firmware) - OFF(vm), false, 0, 0, firmware_choices, NULL, NULL,
     NULL},
    {"disk_model", K_ENUM, OFF(vm.disk_model) - OFF(vm), false, 0, 0, disk_choices, NULL, NULL,
     NULL},
    {"nic_model", K_ENUM, OFF(vm.nic_model) - OFF(vm), false, 0, 0, nic_choices, NULL, NULL, NULL},
    {"network", K_ENUM, OFF(vm.network) - OFF(vm), false, 0, 0, network_choices, NULL, NULL, NULL},
    {"network_reason", K_STRING, OFF(vm.network_reason) - OFF(vm), false, 0, 0, NULL, NULL, NULL,
     NULL},
};

static const struct schema vm_schema = SCHEMA(vm_fields);

static const struct field wait_for_fields[] = {
    {"text", K_STRING, OFF(boot.wait_for.text) - OFF(boot.wait_for), false, 0, 0, NULL, NULL, NULL,
     "text the screen shows when the guest is ready for the boot command"},
    {"regex", K_STRING, OFF(boot.wait_for.regex) - OFF(boot.wait_for), false, 0, 0, NULL, NULL,
     NULL, "a POSIX extended regular expression for a line of the screen"},
    {"timeout", K_DURATION, OFF(boot.wait_for.timeout_ms) - OFF(boot.wait_for), false, 0, 0, NULL,
     NULL, NULL, NULL},
};

static const struct schema wait_for_schema = SCHEMA(wait_for_fields);

static const struct field boot_fields[] = {
    {"method", K_ENUM, OFF(boot.method) - OFF(boot), false, 0, 0, method_choices, NULL, NULL, NULL},
    {"wait", K_DURATION, OFF(boot.wait_ms) - OFF(boot), false, 0, 0, NULL, NULL, NULL, NULL},
    {"command", K_STRLIST, OFF(boot.command) - OFF(boot), false, 0, 0, NULL, NULL, NULL,
     "a list of strings typed one after another"},
    {"kernel", K_STRING, OFF(boot.kernel) - OFF(boot), false, 0, 0, NULL, NULL, NULL,
     "the kernel's path inside the ISO"},
    {"initrd", K_STRING, OFF(boot.initrd) - OFF(boot), false, 0, 0, NULL, NULL, NULL,
     "the initrd's path inside the ISO"},
    {"append", K_STRING, OFF(boot.append) - OFF(boot), false, 0, 0, NULL, NULL, NULL, NULL},
    {"key_interval", K_DURATION, OFF(boot.key_interval_ms) - OFF(boot), false, 0, 0, NULL, NULL,
     NULL, NULL},
    {"key_hold", K_DURATION, OFF(boot.key_hold_ms) - OFF(boot), false, 0, 0, NULL, NULL, NULL,
     NULL},
    {"keys_in_flight", K_INT, OFF(boot.keys_in_flight) - OFF(boot), false, 1, 64, NULL, NULL, NULL,
     NULL},
    {"read_back", K_BOOL, OFF(boot.read_back) - OFF(boot), false, 0, 0, NULL, NULL, NULL, NULL},
    {"wait_for", K_OBJECT, OFF(boot.wait_for) - OFF(boot), false, 0, 0, NULL, &wait_for_schema,
     NULL, NULL},
    {"accept_timeout", K_DURATION, OFF(boot.accept_timeout_ms) - OFF(boot), false, 0, 0, NULL, NULL,
     NULL, NULL},
    {"stall_timeout", K_DURATION, OFF(boot.stall_timeout_ms) - OFF(boot), false, 0, 0, NULL, NULL,
     NULL, NULL},
    {"questions", K_STRLIST, OFF(boot.questions) - OFF(boot), false, 0, 0, NULL, NULL, NULL,
     "a list of POSIX extended regular expressions, each matched against a row of the screen"},
    {"question_timeout", K_DURATION, OFF(boot.question_timeout_ms) - OFF(boot), false, 0, 0, NULL,
     NULL, NULL, NULL},
};

static const struct schema boot_schema = SCHEMA(boot_fields);

static const struct field http_fields[] = {
    {"directory", K_STRING, OFF(http.directory) - OFF(http), false, 0, 0, NULL, NULL, NULL, NULL},
    {"render", K_STRLIST, OFF(http.render) - OFF(http), false, 0, 0, NULL, NULL, NULL, NULL},
    {"proxy_allow", K_STRLIST, OFF(http.proxy_allow) - OFF(http), false, 0, 0, NULL, NULL, NULL,
     "a list of hosts the guest may reach through the server as its HTTP proxy (\"host\", "
     "\"host:port\", \"*.domain\")"},
};

static const struct schema http_schema = SCHEMA(http_fields);

#define CDOFF(f) (OFF(cd.f) - OFF(cd))

static const struct field cd_fields[] = {
    {"files", K_STRLIST, CDOFF(files), true, 1, 0, NULL, NULL, NULL,
     "a list of files in the template, rendered onto the CD's root"},
    {"label", K_STRING, CDOFF(label), false, 0, 0, NULL, NULL, NULL,
     "a volume ID of 1 to 32 letters, digits, '_' or '-'"},
};

static const struct schema cd_schema = SCHEMA(cd_fields);

static const struct field ssh_fields[] = {
    {"username", K_STRING, OFF(ssh.username) - OFF(ssh), true, 0, 0, NULL, NULL, NULL, NULL},
    {"password", K_STRING, OFF(ssh.password) - OFF(ssh), false, 0, 0, NULL, NULL, NULL, NULL},
    {"private_key", K_STRING, OFF(ssh.private_key) - OFF(ssh), false, 0, 0, NULL, NULL, NULL,
     "a path to a private key file"},
    {"port", K_INT, OFF(ssh.port) - OFF(ssh), false, 1, 65535, NULL, NULL, NULL, NULL},
    {"timeout", K_DURATION, OFF(ssh.timeout_ms) - OFF(ssh), false, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct schema ssh_schema = SCHEMA(ssh_fields);

static const char *const transport_choices[] = {"basic", "ntlm", NULL};

static const struct field winrm_fields[] = {
    {"username", K_STRING, OFF(winrm.username) - OFF(winrm), true, 0, 0, NULL, NULL, NULL, NULL},
    {"password", K_STRING, OFF(winrm.password) - OFF(winrm), true, 0, 0, NULL, NULL, NULL, NULL},
    {"port", K_INT, OFF(winrm.port) - OFF(winrm), false, 1, 65535, NULL, NULL, NULL, NULL},
    {"timeout", K_DURATION, OFF(winrm.timeout_ms) - OFF(winrm), false, 0, 0, NULL, NULL, NULL,
     NULL},
    {"use_ssl", K_BOOL, OFF(winrm.use_ssl) - OFF(winrm), false, 0, 0, NULL, NULL, NULL, NULL},
    {"insecure", K_BOOL, OFF(winrm.insecure) - OFF(winrm), false, 0, 0, NULL, NULL, NULL, NULL},
    {"transport", K_ENUM, OFF(winrm.transport) - OFF(winrm), false, 0, 0, transport_choices, NULL,
     NULL, NULL},
};

static const struct schema winrm_schema = SCHEMA(winrm_fields);

static const struct field shutdown_fields[] = {
    {"command", K_STRING, OFF(shutdown.command) - OFF(shutdown), false, 0, 0, NULL, NULL, NULL,
     NULL},
    {"timeout", K_DURATION, OFF(shutdown.timeout_ms) - OFF(shutdown), false, 0, 0, NULL, NULL, NULL,
     NULL},
};

static const struct schema shutdown_schema = SCHEMA(shutdown_fields);

#define POFF(f) offsetof(struct bw_provisioner, f)

static const struct field provision_fields[] = {
    {"script", K_STRING, POFF(script), false, 0, 0, NULL, NULL, NULL, NULL},
    {"inline", K_STRLIST, POFF(inline_cmds), false, 1, 0, NULL, NULL, NULL, NULL},
    {"sudo", K_BOOL, POFF(sudo), false, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct schema provision_schema = SCHEMA(provision_fields);

#define EOFF(f) offsetof(struct bw_export, f)

static const struct field export_fields[] = {
    {"type", K_ENUM, EOFF(type), true, 0, 0, export_type_choices, NULL, NULL, NULL},
    /* what each type needs, and one of the exporter table's providers: check_exports() */
    {"provider", K_STRING, EOFF(provider), false, 0, 0, NULL, NULL, NULL, NULL},
    {"compression", K_ENUM, EOFF(compression), false, 0, 0, compression_choices, NULL, NULL, NULL},
    {"level", K_INT, EOFF(level), false, 0, 19, NULL, NULL, NULL, NULL},
    {"vagrantfile", K_STRING, EOFF(vagrantfile), false, 0, 0, NULL, NULL, NULL, NULL},
    {"region", K_STRING, EOFF(region), false, 0, 0, NULL, NULL, NULL, "an AWS region"},
    {"bucket", K_STRING, EOFF(bucket), false, 0, 0, NULL, NULL, NULL,
     "the S3 bucket the disk is uploaded to"},
    {"key", K_STRING, EOFF(key), false, 0, 0, NULL, NULL, NULL, "the disk's S3 key"},
    {"name", K_STRING, EOFF(name), false, 0, 0, NULL, NULL, NULL, "the AMI's name"},
    {"description", K_STRING, EOFF(description), false, 0, 0, NULL, NULL, NULL, NULL},
    {"tags", K_STRLIST, EOFF(tags), false, 0, 0, NULL, NULL, NULL, "tags as \"KEY=VALUE\" strings"},
    {"poll_interval", K_DURATION, EOFF(poll_interval_ms), false, 0, 0, NULL, NULL, NULL,
     "how often the snapshot import is looked at"},
};

static const struct schema export_schema = SCHEMA(export_fields);

#define COFF(f) offsetof(struct bw_check, f)

static const struct field check_fields[] = {
    {"name", K_STRING, COFF(name), true, 0, 0, NULL, NULL, NULL, NULL},
    {"command", K_STRING, COFF(command), true, 0, 0, NULL, NULL, NULL, NULL},
    {"expect_status", K_INT, COFF(expect_status), false, 0, 255, NULL, NULL, NULL, NULL},
    {"expect_output", K_STRING, COFF(expect_output), false, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct schema check_schema = SCHEMA(check_fields);

static void init_provisioner(void *p)
{
    ((struct bw_provisioner *)p)->sudo = true;
}

static void init_export(void *p)
{
    ((struct bw_export *)p)->level = -1;
}

static void init_check(void *p)
{
    (void)p;
}

static void list_provision(struct loader *ld, json_t *arr, const char *path, void *base)
{
    struct bw_definition *def = base;
    def->provision =
        bw_schema_walk_array(ld, arr, path, &provision_schema, sizeof(struct bw_provisioner),
                             &def->n_provision, init_provisioner);
    for (size_t i = 0; i < def->n_provision; i++) {
        struct bw_provisioner *p = &def->provision[i];
        json_t *v = json_array_get(arr, i);
        if (json_is_object(v) && !p->script == !p->inline_cmds.n) {
            char *ip = bw_xasprintf("%s[%zu]", path, i);
            bw_schema_report(ld, ip, false, "expected exactly one of \"script\" or \"inline\"");
            free(ip);
        }
    }
}

static void list_exports(struct loader *ld, json_t *arr, const char *path, void *base)
{
    struct bw_definition *def = base;
    def->exports = bw_schema_walk_array(ld, arr, path, &export_schema, sizeof(struct bw_export),
                                        &def->n_exports, init_export);
}

static void list_checks(struct loader *ld, json_t *arr, const char *path, void *base)
{
    struct bw_definition *def = base;
    def->checks = bw_schema_walk_array(ld, arr, path, &check_schema, sizeof(struct bw_check),
                                       &def->n_checks, init_check);
}

static const struct field top_fields[] = {
    {"name", K_STRING, OFF(name), true, 0, 0, NULL, NULL, NULL, NULL},
    {"description", K_STRING, OFF(description), false, 0, 0, NULL, NULL, NULL, NULL},
    {"notes", K_STRLIST, OFF(notes), false, 0, 0, NULL, NULL, NULL, NULL},
    /* a row of the driver table: checked in cross_checks() */
    {"driver", K_STRING, OFF(driver), false, 0, 0, NULL, NULL, NULL, NULL},
    {"os", K_OBJECT, OFF(os), true, 0, 0, NULL, &os_schema, NULL, NULL},
    {"variables", K_VARS, 0, false, 0, 0, NULL, NULL, NULL, NULL},
    {"sensitive_variables", K_LATER, 0, false, 0, 0, NULL, NULL, NULL, NULL},
    {"iso", K_OBJECT, OFF(iso), false, 0, 0, NULL, &iso_schema, NULL, NULL},
    {"image", K_OBJECT, OFF(image), false, 0, 0, NULL, &image_schema, NULL, NULL},
    {"vm", K_OBJECT, OFF(vm), false, 0, 0, NULL, &vm_schema, NULL, NULL},
    {"boot", K_OBJECT, OFF(boot), false, 0, 0, NULL, &boot_schema, NULL, NULL},
    {"cloud_init", K_OBJECT, OFF(cloud_init), false, 0, 0, NULL, &cloud_init_schema, NULL, NULL},
    {"http", K_OBJECT, OFF(http), false, 0, 0, NULL, &http_schema, NULL, NULL},
    {"cd", K_OBJECT, OFF(cd), false, 0, 0, NULL, &cd_schema, NULL, NULL},
    /* one of the two communicators: checked in cross_checks() */
    {"ssh", K_OBJECT, OFF(ssh), false, 0, 0, NULL, &ssh_schema, NULL, NULL},
    {"winrm", K_OBJECT, OFF(winrm), false, 0, 0, NULL, &winrm_schema, NULL, NULL},
    {"provision", K_LIST, 0, false, 0, 0, NULL, NULL, list_provision, NULL},
    {"shutdown", K_OBJECT, OFF(shutdown), false, 0, 0, NULL, &shutdown_schema, NULL, NULL},
    {"exports", K_LIST, 0, false, 0, 0, NULL, NULL, list_exports, NULL},
    {"checks", K_LIST, 0, false, 0, 0, NULL, NULL, list_checks, NULL},
};

static const struct schema top_schema = SCHEMA(top_fields);

static void set_defaults(struct bw_definition *d)
{
    d->vm.cpus = 1;
    d->vm.memory = 1ULL << 30;
    d->vm.disk_size = 20ULL << 30;
    d->boot.wait_ms = 10000;
    /* QMP send-key holds each press and release hold-time; with 4 keys in flight at most,
     * neither QEMU's input queue (50 events) nor its PS/2 buffer (16 bytes) can overflow.
     * See docs/definition.md and builder/typing/typist.h. */
    d->boot.key_interval_ms = 2;
    d->boot.key_hold_ms = 1;
    d->boot.keys_in_flight = 4;
    d->boot.read_back = true;
    d->boot.wait_for.timeout_ms = 5 * 60 * 1000;
    d->boot.accept_timeout_ms = 30 * 1000;
    d->boot.stall_timeout_ms = 5 * 60 * 1000;
    d->boot.question_timeout_ms = 60 * 1000;
    d->ssh.port = 22;
    d->ssh.timeout_ms = 15 * 60 * 1000;
    d->winrm.port = 5985;
    /* Windows installs, reboots and runs its first logon before WinRM answers. */
    d->winrm.timeout_ms = 2 * 60 * 60 * 1000;
    d->shutdown.timeout_ms = 5 * 60 * 1000;
}

static void fill_unset(struct bw_definition *d)
{
    if (!d->vm.firmware)
        d->vm.firmware = bw_xstrdup("bios");
    if (!d->vm.disk_model)
        d->vm.disk_model = bw_xstrdup("virtio");
    if (!d->vm.nic_model)
        d->vm.nic_model = bw_xstrdup("virtio");
    if (!d->vm.network)
        d->vm.network = bw_xstrdup("isolated");
    if (!d->boot.method)
        d->boot.method = bw_xstrdup(d->image.urls.n ? "none" : "keys");
    if (d->cd.files.n && !d->cd.label)
        d->cd.label = bw_xstrdup("ANSWERS");
    if (d->cloud_init.seed && !d->cloud_init.label)
        d->cloud_init.label = bw_xstrdup("cidata");
    if (d->image.urls.n && !d->image.format)
        d->image.format = bw_xstrdup("qcow2");
    for (size_t i = 0; i < d->n_exports; i++)
        if (!d->exports[i].compression)
            d->exports[i].compression = bw_xstrdup("gzip");
}

static bool is_valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              (p != s && (*p == '-' || *p == '.' || *p == '_'))))
            return false;
    return true;
}

static void check_regex(struct loader *ld, const char *path, const char *regex)
{
    if (!regex)
        return;
    regex_t re;
    int rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &re, why, sizeof(why));
        bw_schema_report(ld, path, false, "not a POSIX extended regular expression: %s", why);
    } else {
        regfree(&re);
    }
}

/* boot.wait_for: exactly one of text and regex, a regex that compiles; it replaces the blind
 * boot.wait unless that is given too. */
static void wait_for_checks(struct loader *ld, json_t *root)
{
    struct bw_definition *d = ld->def;
    json_t *boot = json_object_get(root, "boot");
    json_t *wf = json_object_get(boot, "wait_for");
    if (!json_is_object(wf))
        return;
    if (!!d->boot.wait_for.text == !!d->boot.wait_for.regex)
        bw_schema_report(
            ld, ".boot.wait_for", false,
            "expected exactly one of \"text\" and \"regex\" (what the screen shows when the "
            "guest is ready for the boot command)");
    if (d->boot.wait_for.text && !d->boot.wait_for.text[0])
        bw_schema_report(ld, ".boot.wait_for.text", false,
                         "got \"\", expected the text to wait for");
    check_regex(ld, ".boot.wait_for.regex", d->boot.wait_for.regex);
    if (!json_object_get(boot, "wait"))
        d->boot.wait_ms = 0;
}

/* One source; a boot method that fits it, with what that method needs. */
static void source_checks(struct loader *ld, json_t *root)
{
    struct bw_definition *d = ld->def;
    json_t *iso = json_object_get(root, "iso"), *image = json_object_get(root, "image");
    json_t *boot = json_object_get(root, "boot");
    if (iso && image) {
        bw_schema_report(
            ld, ".image", true,
            "\"iso\" and \"image\" are both given: expected one source, an installer ISO "
            "or a disk image");
        return;
    }
    if (!iso && !image && json_is_object(root))
        bw_schema_report(
            ld, "", false,
            "missing required key \"iso\" or \"image\" (the installer ISO, or a disk image "
            "to start from)");
    const char *m = d->boot.method;
    if (strcmp(m, "keys") == 0 && !json_is_object(boot)) {
        if (!boot)
            bw_schema_report(
                ld, "", false,
                "missing required key \"boot\" (an installer ISO needs a boot command, or "
                "method \"kernel\")");
        return;
    }
    if (strcmp(m, "keys") == 0 && !json_object_get(boot, "command"))
        bw_schema_report(
            ld, ".boot", true,
            "missing required key \"command\" (method \"keys\" types it at the installer's "
            "prompt)");
    bool kernel = strcmp(m, "kernel") == 0;
    if (kernel && !iso)
        bw_schema_report(
            ld, ".boot.method", false,
            "method \"kernel\" reads the kernel and initrd out of the ISO: expected an "
            "\"iso\" source (a disk image boots with method \"none\")");
    /* Required with method kernel, and refused with any other. */
    static const char *const kernel_keys[] = {"kernel", "initrd", "append"};
    for (size_t i = 0; i < 3; i++) {
        bool given = json_object_get(boot, kernel_keys[i]) != NULL;
        if (kernel && !given) {
            bw_schema_report(ld, ".boot", true, "missing required key \"%s\" (method \"kernel\")",
                             kernel_keys[i]);
        } else if (!kernel && given) {
            char *p = bw_xasprintf(".boot.%s", kernel_keys[i]);
            bw_schema_report(ld, p, true, "\"%s\" is used only with method \"kernel\", not \"%s\"",
                             kernel_keys[i], m);
            free(p);
        }
    }
    if (strcmp(m, "keys") != 0 && json_object_get(boot, "command"))
        bw_schema_report(
            ld, ".boot.command", true,
            "\"command\" is typed only with method \"keys\"; method \"%s\" types nothing", m);
    if (strcmp(m, "none") == 0 && iso)
        bw_schema_report(
            ld, ".boot.method", false,
            "method \"none\" boots the disk as it is: expected an \"image\" source (an "
            "installer ISO needs \"keys\" or \"kernel\")");
}

/* Why rel cannot name a file inside the template (absolute, or climbing out), or NULL. */
static const char *outside(const char *rel)
{
    if (rel[0] == '/')
        return "an absolute path";
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "a path with \"..\" in it";
        p += n;
        while (*p == '/')
            p++;
    }
    return NULL;
}

static void check_inside(struct loader *ld, const char *jpath, const char *rel)
{
    const char *why = rel ? outside(rel) : NULL;
    if (why)
        bw_schema_report(ld, jpath, false,
                         "got \"%s\", %s: expected a path inside the template (relative to its "
                         "directory, without \"..\")",
                         rel, why);
}

/* Every path the definition names stays inside the template (symlinks are checked when the
 * files are opened, by bw_definition_file). */
/* What each export's type needs: a box names a provider of the exporter table, once (one box
 * per provider: <name>-<provider>.box); an AMI names its region, bucket and name, one AMI per
 * region. */
static void check_exports(struct loader *ld, json_t *root)
{
    const struct bw_definition *d = ld->def;
    json_t *arr = json_object_get(root, "exports");
    for (size_t i = 0; i < d->n_exports; i++) {
        const struct bw_export *e = &d->exports[i];
        json_t *obj = json_array_get(arr, i);
        char jp[64];
        if (!e->type || !json_is_object(obj))
            continue;
        bool ami = strcmp(e->type, "ami") == 0;
        static const char *const box_only[] = {"provider", "compression", "level", "vagrantfile",
                                               NULL};
        static const char *const ami_only[] = {"region",      "bucket", "key",           "name",
                                               "description", "tags",   "poll_interval", NULL};
        for (const char *const *k = ami ? box_only : ami_only; *k; k++)
            if (json_object_get(obj, *k)) {
                snprintf(jp, sizeof(jp), ".exports[%zu].%s", i, *k);
                bw_schema_report(ld, jp, true, "\"%s\" is not a setting of %s export", *k,
                                 ami ? "an \"ami\"" : "a \"vagrant\"");
            }
        snprintf(jp, sizeof(jp), ".exports[%zu]", i);
        if (ami) {
            if (!e->region || !e->bucket || !e->name)
                bw_schema_report(ld, jp, false,
                                 "an \"ami\" export needs \"region\", \"bucket\" and \"name\"");
            if (e->tags.n > 16) {
                snprintf(jp, sizeof(jp), ".exports[%zu].tags", i);
                bw_schema_report(ld, jp, false, "%zu tags: expected at most 16", e->tags.n);
            }
            for (size_t t = 0; t < e->tags.n; t++) {
                const char *eq = strchr(e->tags.v[t], '=');
                if (!eq || eq == e->tags.v[t]) {
                    snprintf(jp, sizeof(jp), ".exports[%zu].tags[%zu]", i, t);
                    bw_schema_report(ld, jp, false, "got \"%s\": expected \"KEY=VALUE\"",
                                     e->tags.v[t]);
                }
            }
            for (size_t k = 0; e->region && k < i; k++)
                if (d->exports[k].region && strcmp(d->exports[k].region, e->region) == 0) {
                    snprintf(jp, sizeof(jp), ".exports[%zu].region", i);
                    bw_schema_report(ld, jp, false,
                                     "\"%s\" has an AMI at .exports[%zu]: expected one per region",
                                     e->region, k);
                    break;
                }
            continue;
        }
        const char *p = e->provider;
        if (!p) { /* unless it is there, of the wrong type (said already) */
            if (!json_object_get(obj, "provider"))
                bw_schema_report(ld, jp, false, "a \"vagrant\" export needs \"provider\"");
            continue;
        }
        snprintf(jp, sizeof(jp), ".exports[%zu].provider", i);
        if (!bw_exporter_find(p)) {
            struct bw_buf b = BW_BUF_INIT;
            bw_buf_adds(&b, "one of");
            for (const char *const *c = bw_exporter_providers(); *c; c++)
                bw_buf_addf(&b, "%s \"%s\"", c == bw_exporter_providers() ? "" : ",", *c);
            bw_schema_bad_value(ld, jp, json_object_get(obj, "provider"), b.data);
            bw_buf_release(&b);
            continue;
        }
        for (size_t k = 0; k < i; k++)
            if (d->exports[k].provider && strcmp(d->exports[k].provider, p) == 0) {
                bw_schema_report(
                    ld, jp, false,
                    "\"%s\" is already exported at .exports[%zu]: expected each provider once", p,
                    k);
                break;
            }
    }
}

static void path_checks(struct loader *ld)
{
    struct bw_definition *d = ld->def;
    check_inside(ld, ".http.directory", d->http.directory);
    static const char *const seed_names[] = {"user-data", "meta-data", "vendor-data",
                                             "network-config"};
    for (size_t i = 0; i < d->http.render.n; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".http.render[%zu]", i);
        const char *name = d->http.render.v[i];
        check_inside(ld, jp, name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(d->http.render.v[k], name) == 0)
                bw_schema_report(ld, jp, false,
                                 "\"%s\" is already at .http.render[%zu]: expected each "
                                 "answer file once",
                                 name, k);
        /* Both are served at /NAME: the rendered file would hide the seed from cloud-init. */
        for (size_t k = 0; d->cloud_init.seed && strcmp(d->cloud_init.seed, "http") == 0 &&
                           k < sizeof(seed_names) / sizeof(seed_names[0]);
             k++)
            if (strcmp(name, seed_names[k]) == 0)
                bw_schema_report(
                    ld, jp, false,
                    "\"%s\" is served at the same path as the cloud-init seed's %s: expected "
                    "another name (or the file under .cloud_init)",
                    name, seed_names[k]);
    }
    for (size_t i = 0; i < d->cd.files.n; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".cd.files[%zu]", i);
        const char *name = d->cd.files.v[i];
        check_inside(ld, jp, name);
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        for (size_t k = 0; k < i; k++) {
            const char *other = d->cd.files.v[k];
            other = strrchr(other, '/') ? strrchr(other, '/') + 1 : other;
            if (strcmp(base, other) == 0)
                bw_schema_report(ld, jp, false,
                                 "\"%s\" lands at the CD's root as %s, as .cd.files[%zu] does: "
                                 "expected each name once",
                                 name, base, k);
        }
        if (!*base)
            bw_schema_report(ld, jp, false, "\"%s\": expected a file, not a directory", name);
    }
    if (d->cd.label) {
        size_t n = strlen(d->cd.label);
        bool ok = n >= 1 && n <= 32;
        for (size_t i = 0; ok && i < n; i++) {
            char c = d->cd.label[i];
            ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        }
        if (!ok)
            bw_schema_report(ld, ".cd.label", false,
                             "got \"%s\", expected a volume ID of 1 to 32 letters, digits, '_' "
                             "or '-'",
                             d->cd.label);
        else if (d->cloud_init.seed && strcmp(d->cloud_init.seed, "cd") == 0 &&
                 d->cloud_init.label && strcasecmp(d->cd.label, d->cloud_init.label) == 0)
            bw_schema_report(ld, ".cd.label", false,
                             "\"%s\" is the cloud-init seed volume's label too: expected another "
                             "(cloud-init would read either)",
                             d->cd.label);
    }
    check_inside(ld, ".ssh.private_key", d->ssh.private_key);
    const struct bw_cloud_init *ci = &d->cloud_init;
    const char *seeds[] = {ci->user_data, ci->meta_data, ci->vendor_data, ci->network_config};
    const char *keys[] = {"user_data", "meta_data", "vendor_data", "network_config"};
    for (size_t i = 0; i < 4; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".cloud_init.%s", keys[i]);
        check_inside(ld, jp, seeds[i]);
    }
    for (size_t i = 0; i < d->n_provision; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".provision[%zu].script", i);
        check_inside(ld, jp, d->provision[i].script);
    }
}

/* Each http.proxy_allow entry as the server will read it (http-server/proxy.h). */
static void proxy_checks(struct loader *ld, json_t *root)
{
    json_t *list = json_object_get(json_object_get(root, "http"), "proxy_allow");
    const struct bw_strlist *allow = &ld->def->http.proxy_allow;
    for (size_t i = 0; i < allow->n; i++) {
        struct bw_proxy_host h;
        const char *why;
        if (bw_proxy_parse_allow(allow->v[i], &h, &why) == 0)
            continue;
        char jp[48];
        snprintf(jp, sizeof(jp), ".http.proxy_allow[%zu]", i);
        char *expected = bw_xasprintf("\"host\", \"host:port\" or \"*.domain\" (%s)", why);
        bw_schema_bad_value(ld, jp, json_array_get(list, i), expected);
        free(expected);
    }
}

static void cross_checks(struct loader *ld, json_t *root)
{
    struct bw_definition *d = ld->def;
    if (d->name && !is_valid_name(d->name))
        bw_schema_bad_value(
            ld, ".name", json_object_get(root, "name"),
            "lower-case letters, digits, '-', '.', '_', starting with a letter or digit "
            "(at most 63)");
    /* A checksum with a template in it is checked once rendered (bw_prepare_source). */
    const struct bw_source *src = bw_definition_source(d);
    if (src->checksum && !strstr(src->checksum, "{{")) {
        struct bw_checksum_spec spec;
        struct bw_error err = BW_ERROR_INIT;
        char *jp = bw_xasprintf("%s.checksum", bw_definition_source_key(d));
        if (bw_checksum_spec_parse(src->checksum, &spec, &err) < 0)
            bw_schema_report(ld, jp, false, "%s", err.msg);
        free(jp);
        bw_checksum_spec_release(&spec);
        bw_error_release(&err);
    }
    source_checks(ld, root);
    wait_for_checks(ld, root);
    check_regex(ld, ".iso.volume_id", ld->def->iso.volume_id);
    for (size_t i = 0; i < d->boot.questions.n; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".boot.questions[%zu]", i);
        check_regex(ld, jp, d->boot.questions.v[i]);
    }
    path_checks(ld);
    proxy_checks(ld, root);
    check_exports(ld, root);
    if (d->driver && !bw_driver_find(d->driver)) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_adds(&b, "one of");
        size_t n;
        const struct bw_driver *const *drv = bw_drivers(&n);
        for (size_t i = 0; i < n; i++)
            bw_buf_addf(&b, "%s \"%s\"", i ? "," : "", drv[i]->name);
        bw_schema_bad_value(ld, ".driver", json_object_get(root, "driver"), b.data);
        bw_buf_release(&b);
    }
    if (json_object_get(root, "ssh") && !d->ssh.password && !d->ssh.private_key)
        bw_schema_report(ld, ".ssh", false, "expected \"password\" or \"private_key\" (or both)");
    d->winrm.set = json_object_get(root, "winrm") != NULL;
    if (!json_object_get(root, "ssh") && !d->winrm.set)
        bw_schema_report(ld, "", true,
                         "missing required key \"ssh\" (or \"winrm\" for Windows): how the "
                         "build reaches the installed system");
    else if (json_object_get(root, "ssh") && d->winrm.set)
        bw_schema_report(ld, ".winrm", true,
                         "expected one communicator, \"ssh\" or \"winrm\", not both");
    if (d->winrm.set && !d->winrm.use_ssl && d->winrm.insecure)
        bw_schema_report(ld, ".winrm.insecure", false,
                         "expected \"use_ssl\": true with it: insecure skips the HTTPS "
                         "certificate check");
    json_t *sens = json_object_get(root, "sensitive_variables");
    if (sens && !json_is_array(sens))
        bw_schema_bad_value(ld, ".sensitive_variables", sens, "a list of variable names");
    if (json_is_array(sens)) {
        size_t i;
        json_t *item;
        json_array_foreach(sens, i, item)
        {
            const char *n = json_string_value(item);
            const struct bw_var *v = n ? bw_vars_get(&d->vars, n) : NULL;
            if (!v) {
                char *p = bw_xasprintf(".sensitive_variables[%zu]", i);
                bw_schema_bad_value(ld, p, item,
                                    "the name of a variable declared in \"variables\"");
                free(p);
            } else {
                ((struct bw_var *)v)->sensitive = true;
            }
        }
    }
}

static void add_builtins(struct loader *ld)
{
    struct bw_definition *d = ld->def;
    /* Defaults for render and inspect; a build replaces them with the real
     * address and port of its HTTP server. 10.0.2.100 is the guestfwd address
     * an isolated guest reaches boxwright's server at. */
    static const struct {
        const char *name, *value;
    } builtins[] = {
        {"HTTPIP", "10.0.2.100"},
        {"HTTPPort", "8100"},
    };
    static const char *const reserved[] = {"HTTPIP", "HTTPPort", "HTTPProxy", "Name"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (bw_vars_get(&d->vars, reserved[i])) {
            struct bw_buf p = BW_BUF_INIT;
            bw_buf_adds(&p, ".variables");
            bw_jsonpath_add_key(&p, reserved[i]);
            bw_schema_report(ld, p.data, true,
                             "\"%s\" is a built-in variable; set it with --var %s=VALUE instead",
                             reserved[i], reserved[i]);
            bw_buf_release(&p);
        }
    }
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        bw_vars_set_string(&d->vars, builtins[i].name, builtins[i].value, "built-in")->builtin =
            true;
    bw_vars_set_string(&d->vars, "Name", d->name ? d->name : "", "built-in")->builtin = true;
    bw_definition_set_proxy_var(d, "built-in");
}

void bw_definition_set_proxy_var(struct bw_definition *d, const char *origin)
{
    const struct bw_var *had = bw_vars_get(&d->vars, "HTTPProxy");
    if (had && strcmp(had->origin, "--var") == 0)
        return;
    const struct bw_var *ip = bw_vars_get(&d->vars, "HTTPIP");
    const struct bw_var *port = bw_vars_get(&d->vars, "HTTPPort");
    char *v = d->http.proxy_allow.n && ip && port && ip->value.s && port->value.s
                  ? bw_xasprintf("http://%s:%s/", ip->value.s, port->value.s)
                  : bw_xstrdup("");
    bw_vars_set_string(&d->vars, "HTTPProxy", v, origin)->builtin = true;
    free(v);
}

struct bw_definition *bw_definition_load_buffer(const char *name, const char *dir, const char *text,
                                                size_t len, struct bw_errors *errs)
{
    size_t first = errs->n;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        struct bw_error e = BW_ERROR_INIT;
        bw_error_at(&e, BW_ERR_SYNTAX, name, NULL, jerr.line, jerr.column, "invalid JSON: %s",
                    jerr.text);
        bw_errors_take(errs, &e);
        return NULL;
    }
    struct bw_definition *def = bw_xcalloc(1, sizeof(*def));
    def->file = bw_xstrdup(name);
    def->dir = bw_xstrdup(dir ? dir : ".");
    set_defaults(def);
    struct loader ld = {name, BW_JSONPOS_INIT, errs, def};
    bw_jsonpos_index(&ld.pos, text, len);
    if (!json_is_object(root)) {
        bw_schema_bad_value(&ld, "", root, "a JSON object");
    } else {
        bw_schema_walk(&ld, root, "", &top_schema, def);
        fill_unset(def);
        add_builtins(&ld);
        cross_checks(&ld, root);
    }
    bw_jsonpos_release(&ld.pos);
    json_decref(root);
    if (errs->n > first) {
        bw_definition_free(def);
        return NULL;
    }
    return def;
}

struct bw_definition *bw_definition_load(const char *path, struct bw_errors *errs)
{
    struct bw_buf text = BW_BUF_INIT;
    if (bw_buf_read_file(&text, path) < 0) {
        struct bw_error e = BW_ERROR_INIT;
        bw_error_at(&e, errno == ENOENT ? BW_ERR_NOT_FOUND : BW_ERR_IO, path, NULL, 0, 0,
                    "cannot read the definition: %s", strerror(errno));
        bw_errors_take(errs, &e);
        bw_buf_release(&text);
        return NULL;
    }
    char *copy = bw_xstrdup(path);
    struct bw_definition *def =
        bw_definition_load_buffer(path, dirname(copy), text.data, text.len, errs);
    free(copy);
    bw_buf_release(&text);
    return def;
}

void bw_definition_error(const struct bw_definition *def, struct bw_error *err, const char *path,
                         const char *fmt, ...)
{
    struct bw_buf text = BW_BUF_INIT;
    struct bw_jsonpos pos = BW_JSONPOS_INIT;
    int line = 0, col = 0;
    if (def->file && bw_buf_read_file(&text, def->file) == 0) {
        bw_jsonpos_index(&pos, text.data, text.len);
        const struct bw_jsonpos_entry *e = bw_jsonpos_find(&pos, path);
        if (e) {
            line = e->line;
            col = e->col;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(err, BW_ERR_SCHEMA, def->file, path, line, col, fmt, ap);
    va_end(ap);
    bw_jsonpos_release(&pos);
    bw_buf_release(&text);
}

static void strlist_free(struct bw_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

void bw_definition_free(struct bw_definition *d)
{
    if (!d)
        return;
    free(d->file);
    free(d->dir);
    free(d->name);
    free(d->description);
    free(d->driver);
    free(d->os.family);
    free(d->os.distro);
    free(d->os.version);
    strlist_free(&d->iso.urls);
    free(d->iso.checksum);
    free(d->iso.format);
    free(d->iso.volume_id);
    strlist_free(&d->image.urls);
    free(d->image.checksum);
    free(d->image.format);
    free(d->vm.network);
    free(d->vm.network_reason);
    strlist_free(&d->notes);
    free(d->boot.kernel);
    free(d->boot.initrd);
    free(d->boot.append);
    free(d->boot.wait_for.text);
    free(d->boot.wait_for.regex);
    free(d->cloud_init.seed);
    free(d->cloud_init.label);
    free(d->cloud_init.user_data);
    free(d->cloud_init.meta_data);
    free(d->cloud_init.vendor_data);
    free(d->cloud_init.network_config);
    free(d->vm.firmware);
    free(d->vm.disk_model);
    free(d->vm.nic_model);
    free(d->boot.method);
    strlist_free(&d->boot.command);
    strlist_free(&d->boot.questions);
    strlist_free(&d->http.proxy_allow);
    free(d->http.directory);
    strlist_free(&d->http.render);
    strlist_free(&d->cd.files);
    free(d->cd.label);
    free(d->ssh.username);
    free(d->ssh.password);
    free(d->ssh.private_key);
    free(d->winrm.username);
    free(d->winrm.password);
    free(d->winrm.transport);
    for (size_t i = 0; i < d->n_provision; i++) {
        free(d->provision[i].script);
        strlist_free(&d->provision[i].inline_cmds);
    }
    free(d->provision);
    free(d->shutdown.command);
    for (size_t i = 0; i < d->n_exports; i++) {
        free(d->exports[i].type);
        free(d->exports[i].provider);
        free(d->exports[i].compression);
        free(d->exports[i].vagrantfile);
        free(d->exports[i].region);
        free(d->exports[i].bucket);
        free(d->exports[i].key);
        free(d->exports[i].name);
        free(d->exports[i].description);
        strlist_free(&d->exports[i].tags);
    }
    free(d->exports);
    for (size_t i = 0; i < d->n_checks; i++) {
        free(d->checks[i].name);
        free(d->checks[i].command);
        free(d->checks[i].expect_output);
    }
    free(d->checks);
    bw_vars_release(&d->vars);
    free(d);
}

char *bw_definition_file(const struct bw_definition *def, const char *jpath, const char *rel,
                         struct bw_error *err)
{
    const char *why = outside(rel);
    if (why) {
        bw_definition_error(def, err, jpath,
                            "got \"%s\", %s: expected a path inside the template (relative to "
                            "its directory, without \"..\")",
                            rel, why);
        return NULL;
    }
    char *path = bw_xasprintf("%s/%s", def->dir, rel);
    char real[PATH_MAX], top[PATH_MAX];
    if (!realpath(path, real)) /* not there (yet): whoever opens it says so */
        return path;
    if (!realpath(def->dir, top)) {
        bw_error_at(err, BW_ERR_IO, def->dir, NULL, 0, 0, "cannot resolve: %s", strerror(errno));
        free(path);
        return NULL;
    }
    size_t n = strlen(top);
    if (strncmp(real, top, n) != 0 || (real[n] != '/' && real[n] != '\0')) {
        bw_definition_error(def, err, jpath,
                            "\"%s\" leads to %s through a symbolic link: expected a file inside "
                            "the template (%s)",
                            rel, real, top);
        free(path);
        return NULL;
    }
    return path;
}

const struct bw_source *bw_definition_source(const struct bw_definition *def)
{
    return def->image.urls.n ? &def->image : &def->iso;
}

const char *bw_definition_source_key(const struct bw_definition *def)
{
    return def->image.urls.n ? ".image" : ".iso";
}

char *bw_definition_boot_command(const struct bw_definition *def)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (size_t i = 0; i < def->boot.command.n; i++)
        bw_buf_adds(&b, def->boot.command.v[i]);
    return bw_buf_detach(&b);
}

static void need_file(const struct bw_definition *def, const char *jpath, const char *rel,
                      bool want_dir, struct bw_errors *errs)
{
    struct bw_error e = BW_ERROR_INIT;
    char *full = bw_definition_file(def, jpath, rel, &e);
    if (!full) {
        bw_errors_take(errs, &e);
        return;
    }
    struct stat st;
    const char *problem = NULL;
    if (stat(full, &st) < 0)
        problem = strerror(errno);
    else if (want_dir && !S_ISDIR(st.st_mode))
        problem = "not a directory";
    else if (!want_dir && !S_ISREG(st.st_mode))
        problem = "not a regular file";
    if (problem) {
        bw_error_at(&e, BW_ERR_NOT_FOUND, def->file, jpath, 0, 0, "\"%s\" (%s): %s, expected %s",
                    rel, full, problem, want_dir ? "a directory" : "a file");
        bw_errors_take(errs, &e);
    }
    free(full);
}

size_t bw_definition_check_files(const struct bw_definition *def, struct bw_errors *errs)
{
    size_t before = errs->n;
    if (def->http.directory)
        need_file(def, ".http.directory", def->http.directory, true, errs);
    for (size_t i = 0; i < def->http.render.n; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".http.render[%zu]", i);
        char *rel = bw_xasprintf("%s/%s", def->http.directory ? def->http.directory : ".",
                                 def->http.render.v[i]);
        need_file(def, jp, rel, false, errs);
        free(rel);
    }
    for (size_t i = 0; i < def->cd.files.n; i++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".cd.files[%zu]", i);
        need_file(def, jp, def->cd.files.v[i], false, errs);
    }
    if (def->ssh.private_key)
        need_file(def, ".ssh.private_key", def->ssh.private_key, false, errs);
    const struct bw_cloud_init *ci = &def->cloud_init;
    const char *seeds[] = {ci->user_data, ci->meta_data, ci->vendor_data, ci->network_config};
    const char *keys[] = {"user_data", "meta_data", "vendor_data", "network_config"};
    for (size_t i = 0; i < 4; i++)
        if (seeds[i]) {
            char jp[64];
            snprintf(jp, sizeof(jp), ".cloud_init.%s", keys[i]);
            need_file(def, jp, seeds[i], false, errs);
        }
    for (size_t i = 0; i < def->n_provision; i++) {
        if (!def->provision[i].script)
            continue;
        char jp[64];
        snprintf(jp, sizeof(jp), ".provision[%zu].script", i);
        need_file(def, jp, def->provision[i].script, false, errs);
    }
    return errs->n - before;
}

int bw_definition_use_iso(struct bw_definition *def, const char *path, struct bw_error *err)
{
    if (def->image.urls.n) {
        bw_error_at(err, BW_ERR_USAGE, def->file, ".image", 0, 0,
                    "builds from a disk image: --iso is for templates that boot an installer ISO");
        return -1;
    }
    if (strstr(path, "{{")) {
        bw_error_set(err, BW_ERR_USAGE,
                     "--iso \"%s\": a path with \"{{\" would be read as a "
                     "template",
                     path);
        return -1;
    }
    char *abs = realpath(path, NULL);
    if (!abs) {
        bw_error_at(err, BW_ERR_NOT_FOUND, path, NULL, 0, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    strlist_free(&def->iso.urls);
    def->iso.urls.v = bw_xcalloc(2, sizeof(char *));
    def->iso.urls.v[0] = abs;
    def->iso.urls.n = 1;
    free(def->iso.checksum);
    def->iso.checksum = bw_xstrdup("none"); /* the user's own file, taken as it is */
    return 0;
}

void bw_definition_comm(const struct bw_definition *d, struct bw_comm_def *c)
{
    memset(c, 0, sizeof(*c));
    if (d->winrm.set) {
        c->key = "winrm";
        c->winrm = true;
        c->username = d->winrm.username;
        c->password = d->winrm.password;
        c->port = d->winrm.port;
        c->timeout_ms = d->winrm.timeout_ms;
        c->https = d->winrm.use_ssl;
        c->insecure = d->winrm.insecure;
        c->ntlm = d->winrm.transport && strcmp(d->winrm.transport, "ntlm") == 0;
    } else {
        c->key = "ssh";
        c->username = d->ssh.username;
        c->password = d->ssh.password;
        c->private_key = d->ssh.private_key;
        c->port = d->ssh.port;
        c->timeout_ms = d->ssh.timeout_ms;
    }
}
