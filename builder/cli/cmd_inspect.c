#include "cli.h"
#include "../drivers/driver.h"
#include "../base/buf.h"
#include "../core/prepare.h"
#include "../base/units.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_masked(const struct bw_definition *def, const char *label, const char *text)
{
    char *m = bw_vars_mask(&def->vars, text);
    printf("%-12s %s\n", label, m);
    free(m);
}

static void print_variables(const struct bw_definition *def)
{
    size_t wn = 4, wv = 5;
    struct bw_buf *vals = calloc(def->vars.n + 1, sizeof(*vals));
    for (size_t i = 0; i < def->vars.n; i++) {
        const struct bw_var *v = &def->vars.v[i];
        if (v->sensitive)
            bw_buf_adds(&vals[i], "<sensitive>");
        else
            bw_value_format(&vals[i], &v->value);
        if (strlen(v->name) > wn)
            wn = strlen(v->name);
        if (vals[i].len > 60) {
            vals[i].len = 57;
            bw_buf_adds(&vals[i], "...");
        }
        if (vals[i].len > wv)
            wv = vals[i].len;
    }
    printf("variables\n  %-*s  %-*s  %s\n", (int)wn, "NAME", (int)wv, "VALUE", "FROM");
    for (size_t i = 0; i < def->vars.n; i++) {
        printf("  %-*s  %-*s  %s\n", (int)wn, def->vars.v[i].name, (int)wv, vals[i].data,
               def->vars.v[i].origin);
        bw_buf_release(&vals[i]);
    }
    free(vals);
}

/* The compiled boot command: the rendered text (masked) and its key presses and waits. */
static void print_keys(const struct bw_definition *def, const struct bw_buf *text,
                       const struct bw_key_events *ev)
{
    print_masked(def, "  command", text->data);
    uint64_t waited = 0;
    size_t waits = 0, expects = 0;
    for (size_t i = 0; i < ev->n; i++) {
        if (ev->v[i].action == BW_KEY_WAIT) {
            waits++;
            waited += ev->v[i].wait_ms;
        }
        expects += ev->v[i].action == BW_KEY_EXPECT;
    }
    char wt[32];
    bw_format_duration(waited, wt, sizeof(wt));
    printf("%-12s %zu key presses, %zu wait%s (%s in all), %zu wait%s for the screen\n", "  keys",
           bw_key_events_presses(ev), waits, waits == 1 ? "" : "s", wt, expects,
           expects == 1 ? "" : "s");
}

/* How the boot command is typed and watched: what the typist and the install watch do. */
static void print_typing(const struct bw_definition *def)
{
    char t[32];
    if (def->boot.wait_for.text || def->boot.wait_for.regex) {
        bw_format_duration(def->boot.wait_for.timeout_ms, t, sizeof(t));
        printf("%-12s %s%s%s on the screen first (at most %s)\n", "  wait for",
               def->boot.wait_for.regex ? "/" : "\"",
               def->boot.wait_for.regex ? def->boot.wait_for.regex : def->boot.wait_for.text,
               def->boot.wait_for.regex ? "/" : "\"", t);
    }
    if (def->boot.read_back)
        printf("%-12s at most %ld keys in flight; each line read back from the screen (text modes) "
               "and retyped where wrong\n",
               "  typing", def->boot.keys_in_flight);
    else
        printf("%-12s at most %ld keys in flight; not read back (read_back false)\n", "  typing",
               def->boot.keys_in_flight);
    char s[32];
    bw_format_duration(def->boot.accept_timeout_ms, t, sizeof(t));
    bw_format_duration(def->boot.stall_timeout_ms, s, sizeof(s));
    printf("%-12s the screen must change within %s of the last key; an install with nothing "
           "moving for %s has stalled\n",
           "  watch", t, s);
}

static int run(int argc, char **argv)
{
    int status = BW_EXIT_OK;
    struct bw_cli_driver_opts drv = {NULL, NULL, NULL};
    struct bw_definition *def = bw_cli_parse_and_load(&bw_cmd_inspect, argc, argv, &drv, &status);
    if (!def)
        return status;

    struct bw_buf boot = BW_BUF_INIT;
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    bw_buf_init(&boot);

    char mem[32], disk[32], wait[32], hold[32], interval[32], sshto[32], shutto[32];
    bw_format_size(def->vm.memory, mem, sizeof(mem));
    bw_format_size(def->vm.disk_size, disk, sizeof(disk));
    bw_format_duration(def->boot.wait_ms, wait, sizeof(wait));
    bw_format_duration(def->boot.key_hold_ms, hold, sizeof(hold));
    bw_format_duration(def->boot.key_interval_ms, interval, sizeof(interval));
    struct bw_comm_def comm;
    bw_definition_comm(def, &comm);
    bw_format_duration(comm.timeout_ms, sshto, sizeof(sshto));
    bw_format_duration(def->shutdown.timeout_ms, shutto, sizeof(shutto));

    printf("%-12s %s (%s)\n", "template", def->name, def->file);
    if (def->description)
        printf("%-12s %s\n", "description", def->description);
    for (size_t i = 0; i < def->notes.n; i++)
        printf("%-12s %s\n", i ? "" : "notes", def->notes.v[i]);
    printf("%-12s %s%s%s%s%s\n", "os", def->os.family, def->os.distro ? " " : "",
           def->os.distro ? def->os.distro : "", def->os.version ? " " : "",
           def->os.version ? def->os.version : "");
    struct bw_strlist urls = {NULL, 0};
    struct bw_buf checksum = BW_BUF_INIT;
    bw_buf_init(&checksum);
    bw_prepare_source_shown(def, &urls, &checksum, &errs);
    if (def->image.urls.n)
        printf("%-12s disk image (%s), a qcow2 overlay on the cached copy, grown to vm.disk_size\n",
               "source", def->image.format);
    else
        printf("%-12s installer ISO\n", "source");
    for (size_t i = 0; i < urls.n; i++)
        print_masked(def, i ? "" : "  urls", urls.v[i]);
    print_masked(def, "  checksum", checksum.data);
    bw_strlist_release(&urls);
    bw_buf_release(&checksum);
    const struct bw_driver *d = bw_driver_find(drv.driver    ? drv.driver
                                               : def->driver ? def->driver
                                                             : "qemu");
    char *how = d->describe(drv.uri, drv.pool);
    printf("%-12s %s\n", "driver", how);
    free(how);
    printf("%-12s %ld cpu%s, %s memory, %s disk, %s firmware, %s disk, %s nic\n", "vm",
           def->vm.cpus, def->vm.cpus == 1 ? "" : "s", mem, disk, def->vm.firmware,
           def->vm.disk_model, def->vm.nic_model);
    if (strcmp(def->vm.firmware, "efi") == 0 && access(bw_ovmf_path(), R_OK) != 0)
        printf("%-12s efi needs OVMF, which this host lacks (%s): apt-get install ovmf\n", "",
               bw_ovmf_path());
    char host_ip[64];
    struct bw_error noaddr = BW_ERROR_INIT;
    const char *http_ip =
        d->http_host_address && d->http_host_address(host_ip, sizeof(host_ip), &noaddr) == 0
            ? host_ip
            : d->guest_http_ip;
    bw_error_release(&noaddr);
    bool isolated = strcmp(def->vm.network, "isolated") == 0;
    if (isolated && !d->isolated_network)
        printf("%-12s isolated: the %s driver cannot cut a guest's routes off the host, so a "
               "build fails there: set vm.network to \"user\" to build on it\n",
               "network", d->name);
    else
        printf("%-12s %s: %s; {{ .HTTPIP }} = %s\n", "network", def->vm.network,
               isolated ? d->isolated_network : d->user_network, http_ip);
    if (def->vm.network_reason)
        printf("%-12s %s\n", "  why", def->vm.network_reason);
    if (def->http.proxy_allow.n) {
        printf("%-12s boxwright's server ({{ .HTTPProxy }}) to", "  proxy");
        for (size_t i = 0; i < def->http.proxy_allow.n; i++)
            printf("%s %s", i ? "," : "", def->http.proxy_allow.v[i]);
        printf(", and nothing else\n");
    }
    /* What the answer files and the boot command get from this driver. */
    bw_vars_set_string(&def->vars, "HTTPIP", http_ip, "driver")->builtin = true;
    if (!d->guest_http_port)
        bw_vars_set_string(&def->vars, "HTTPPort", "(a free port)", "driver")->builtin = true;
    const char *method = def->boot.method;
    if (strcmp(method, "keys") == 0) {
        printf("%-12s method keys (type the boot command), wait %s, key hold %s, key interval %s\n",
               "boot", wait, hold, interval);
        size_t before = errs.n;
        bw_prepare_boot_command(def, NULL, &boot, &ev, &errs);
        if (errs.n == before)
            print_keys(def, &boot, &ev);
        print_typing(def);
    } else if (strcmp(method, "kernel") == 0) {
        printf("%-12s method kernel (direct kernel boot: %s and %s read out of the ISO; nothing "
               "typed)\n",
               "boot", def->boot.kernel, def->boot.initrd);
        struct bw_buf real = BW_BUF_INIT;
        if (bw_prepare_shown(def, ".boot.append", def->boot.append, &real, &boot, &errs) == 0)
            print_masked(def, "  append", boot.data);
        bw_buf_release(&real);
    } else {
        printf("%-12s method none (the image boots by itself; nothing typed)\n", "boot");
    }
    if (def->cloud_init.seed) {
        const struct bw_cloud_init *ci = &def->cloud_init;
        if (strcmp(ci->seed, "http") == 0)
            printf("%-12s NoCloud over HTTP (ds=nocloud-net;s=http://{{ .HTTPIP }}:{{ .HTTPPort "
                   "}}/ as the SMBIOS serial)",
                   "cloud-init");
        else
            printf("%-12s NoCloud on a volume labelled %s", "cloud-init", ci->label);
        printf("; user-data %s, meta-data %s, vendor-data %s%s%s\n", ci->user_data,
               ci->meta_data ? ci->meta_data : "(generated)",
               ci->vendor_data ? ci->vendor_data : "(empty)",
               ci->network_config ? ", network-config " : "",
               ci->network_config ? ci->network_config : "");
    }
    if (def->http.directory || def->http.render.n) {
        printf("%-12s directory %s", "http", def->http.directory ? def->http.directory : "(none)");
        for (size_t i = 0; i < def->http.render.n; i++)
            printf("%s%s", i ? ", " : "; rendered: ", def->http.render.v[i]);
        printf("\n");
    }
    if (def->cd.files.n) {
        printf("%-12s a CD labelled %s:", "cd", def->cd.label);
        for (size_t i = 0; i < def->cd.files.n; i++)
            printf("%s %s", i ? "," : "", def->cd.files.v[i]);
        printf(" (rendered)\n");
    }
    struct bw_buf user = BW_BUF_INIT;
    char upath[32];
    snprintf(upath, sizeof(upath), ".%s.username", comm.key);
    bw_prepare_string(def, upath, comm.username, &user, &errs);
    printf("%-12s user %s%s%s%s, port %ld%s%s, timeout %s\n", comm.key, user.data ? user.data : "?",
           comm.password ? ", password (set)" : "", comm.private_key ? ", key " : "",
           comm.private_key ? comm.private_key : "", comm.port,
           !comm.winrm  ? ""
           : comm.https ? (comm.insecure ? ", HTTPS (certificate not checked)" : ", HTTPS")
                        : ", HTTP",
           !comm.winrm ? ""
           : comm.ntlm ? ", NTLM"
                       : ", Basic",
           sshto);
    bw_buf_release(&user);
    /* Over WinRM scripts are PowerShell, run as the administrator WinRM let in: no sudo. */
    for (size_t i = 0; i < def->n_provision; i++) {
        const struct bw_provisioner *p = &def->provision[i];
        const char *shell = comm.winrm ? " (PowerShell)" : p->sudo ? " (sudo)" : "";
        if (p->script)
            printf("%-12s script %s%s\n", i ? "" : "provision", p->script, shell);
        else
            printf("%-12s %zu inline command%s%s\n", i ? "" : "provision", p->inline_cmds.n,
                   p->inline_cmds.n == 1 ? "" : "s", shell);
    }
    if (def->shutdown.command)
        print_masked(def, "shutdown", def->shutdown.command);
    printf("%-12s timeout %s\n", def->shutdown.command ? "" : "shutdown", shutto);
    for (size_t i = 0; i < def->n_exports; i++) {
        const struct bw_export *e = &def->exports[i];
        if (strcmp(e->type, "ami") == 0) { /* as written: rendered when the export runs */
            printf("%-12s ami %s in %s, from s3://%s/%s%s\n", i ? "" : "exports", e->name,
                   e->region, e->bucket, e->key ? e->key : "boxwright/", e->key ? "" : "NAME.vmdk");
            continue;
        }
        printf("%-12s %s box for %s, %s", i ? "" : "exports", e->type, e->provider, e->compression);
        if (e->level >= 0)
            printf(" level %ld", e->level);
        printf("\n");
    }
    for (size_t i = 0; i < def->n_checks; i++)
        printf("%-12s %s\n", i ? "" : "checks", def->checks[i].name);
    print_variables(def);
    /* Whatever did not render (source, boot command or append, SSH user) fails the command. */
    for (size_t i = 0; i < errs.n; i++)
        bw_cli_print_error(&errs.v[i]);
    if (errs.n)
        status = BW_EXIT_FAILED;

    bw_errors_release(&errs);
    bw_key_events_release(&ev);
    bw_buf_release(&boot);
    bw_definition_free(def);
    return status;
}

const struct bw_command bw_cmd_inspect = {
    "inspect",
    "show the resolved definition of a template or file",
    "usage: boxwright inspect [--var NAME=VALUE]... [--var-file FILE]...\n"
    "                         [--driver NAME] [--libvirt-uri URI]\n"
    "                         [--libvirt-pool POOL] TEMPLATE|FILE\n"
    "\n"
    "Shows what a build would use: the driver and the path its files and the\n"
    "guest's connections take, the source, the VM, the boot command as it\n"
    "will be typed (rendered, with its key count), the answer files, SSH,\n"
    "provisioning, exports, and every variable with its value and where the\n"
    "value came from (default, var-file, --var or built-in). Values of\n"
    "sensitive variables and passwords are never shown.\n"
    "\n"
    "  --var NAME=VALUE   set a variable (may repeat; applied after var files)\n"
    "  --var-file FILE    a JSON object of variable values (may repeat)\n"
    "  --driver, --libvirt-uri, --libvirt-pool  as for build\n"
    "\n"
    "Exit status: 0; 1 if the definition is invalid; 2 on a usage error.\n",
    run,
};
