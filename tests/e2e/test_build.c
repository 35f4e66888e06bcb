/*
 * `boxwright build tiny` end to end, as a user runs it: from a clean cache
 * and output directory to a validated Vagrant box; the box validated again
 * by `box validate` and added by the real `vagrant box add`; and a build
 * interrupted (SIGINT) at each step that leaves nothing behind.
 *
 * The same tests run for each driver. With BW_E2E_DRIVER=libvirt (under
 * tests/e2e/with-libvirtd, which provides the daemon, a storage pool and an
 * sshd for qemu+ssh://) the build goes through libvirtd on this host, a
 * remote-style build goes over qemu+ssh:// through the storage pool, and the
 * interrupted builds are remote ones, so "nothing behind" covers domains and
 * volumes as well as processes and files.
 */
#include "fixture.h"
#include "../../builder/base/digest.h"
#include "../unit/golden.h"
#include "../unit/standins.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char work[64];
static char *iso, *iso_var, *cache_env;
static bool libvirt;                             /* BW_E2E_DRIVER=libvirt */
static const char *lv_uri, *lv_remote, *lv_pool; /* from with-libvirtd */

/* boxwright build tiny, on the driver under test (remote: over qemu+ssh:// and the pool). */
static void build_args(struct e2e_args *a, bool remote, const char *out)
{
    a->n = 0;
    e2e_push(a, BW_BINARY);
    e2e_push(a, "build");
    e2e_push(a, "tiny");
    e2e_push(a, "--var");
    e2e_push(a, iso_var);
    e2e_push(a, "--output");
    e2e_push(a, out);
    if (libvirt) {
        e2e_push(a, "--driver");
        e2e_push(a, "libvirt");
        e2e_push(a, "--libvirt-uri");
        e2e_push(a, remote ? lv_remote : lv_uri);
        e2e_push(a, "--libvirt-pool");
        e2e_push(a, lv_pool);
    }
}

/* Lines of `virsh CMD` output that contain needle (domains, volumes). */
static int virsh_lines(const char *cmd, const char *arg, const char *needle, struct bw_buf *seen)
{
    char *argv[] = {"virsh", "-q", "-c", (char *)lv_uri, (char *)cmd, (char *)arg, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "virsh %s: %s", cmd, err.msg);
    int n = 0;
    for (char *line = strtok(res.out.data, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, needle)) {
            n++;
            if (seen)
                bw_buf_addf(seen, "%s\n", line);
        }
    bw_spawn_result_release(&res);
    bw_error_release(&err);
    return n;
}

/* What libvirt still holds of boxwright's: domains (any state), and volumes other than the
 * cached ISO and its marker. Returns a description, or NULL when there is nothing. */
static char *libvirt_leftovers(void)
{
    if (!libvirt)
        return NULL;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    virsh_lines("list", "--all", "boxwright-", &b);
    struct bw_buf vols = BW_BUF_INIT;
    bw_buf_init(&vols);
    virsh_lines("vol-list", lv_pool, "boxwright-", &vols);
    for (char *line = strtok(vols.data, "\n"); line; line = strtok(NULL, "\n"))
        if (!strstr(line, ".iso ") && !strstr(line, ".iso.done "))
            bw_buf_addf(&b, "volume: %s\n", line);
    bw_buf_release(&vols);
    if (!b.len) {
        bw_buf_release(&b);
        return NULL;
    }
    return bw_buf_detach(&b);
}

static void setup(void)
{
    snprintf(work, sizeof(work), "/tmp/bw-build-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
    iso = e2e_fixture_iso();
    iso_var = bw_xasprintf("iso_url=file://%s", iso);
    cache_env = bw_xasprintf("BOXWRIGHT_CACHE_DIR=%s/cache", work);
}

static void teardown(void)
{
    test_rm_rf(work);
    free(iso);
    free(iso_var);
    free(cache_env);
}

/* QEMU processes mentioning `needle` (QEMU runs with paths in the output dir). */
static int processes_mentioning(const char *needle)
{
    return e2e_processes_with(needle, "qemu-system");
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n == 0;
}

static bool validation_booting(const char *line, void *ud)
{
    (void)ud;
    return strstr(line, "the box is booting") != NULL;
}

/* The AMI stand-ins of a build (QEMU only: the AMI is made from box.img, whatever ran the VM):
 * s3rver behind the signature-checking front, and the EC2 fake. */
struct aws {
    pid_t s3rver, front, ec2;
    unsigned s3_port, front_port, ec2_port;
    char *ec2_log, *env[5];
};

/* tiny with an AMI export added (its name and a tag rendered from the definition's variables),
 * run through env with the stand-ins' keys and endpoints. */
static char *tiny_with_an_ami(struct aws *w, struct e2e_args *a, const char *out)
{
    char *def_path;
    json_t *def = e2e_copy_template(work, "tiny", &def_path);
    json_array_append_new(json_object_get(def, "exports"),
                          json_pack("{s:s,s:s,s:s,s:s,s:[s,s],s:s}", "type", "ami", "region",
                                    "eu-west-1", "bucket", "images", "name",
                                    "{{ user `hostname` }}-1.0.0", "tags", "built-by=boxwright",
                                    "host={{ user `hostname` }}", "poll_interval", "1s"));
    e2e_save_json(def, def_path);
    w->s3rver = standin_s3rver(work, &w->s3_port);
    char *flog = bw_xasprintf("%s/front.log", work);
    w->front_port = 0;
    w->front = standin_s3_front(&w->front_port, w->s3_port, NULL, flog);
    w->ec2_log = bw_xasprintf("%s/ec2.log", work);
    w->ec2 = standin_ec2(&w->ec2_port, "ami.answers", w->ec2_log);
    w->env[0] = bw_xasprintf("AWS_ENDPOINT_URL_S3=http://127.0.0.1:%u", w->front_port);
    w->env[1] = bw_xasprintf("AWS_ENDPOINT_URL_EC2=http://127.0.0.1:%u", w->ec2_port);
    w->env[2] = bw_xstrdup("AWS_ACCESS_KEY_ID=" STANDIN_KEY);
    w->env[3] = bw_xstrdup("AWS_SECRET_ACCESS_KEY=" STANDIN_KEY);
    w->env[4] = NULL;
    a->n = 0;
    e2e_push(a, "/usr/bin/env");
    for (int i = 0; i < 4; i++)
        e2e_push(a, w->env[i]);
    e2e_push(a, BW_BINARY);
    e2e_push(a, "build");
    e2e_push(a, def_path);
    e2e_push(a, "--var");
    e2e_push(a, iso_var);
    e2e_push(a, "--output");
    e2e_push(a, out);
    free(flog);
    return def_path;
}

/* What the build's AMI step did: the image in the manifest and the log, the requests EC2 got
 * (rendered name and tag, BIOS boot), the validated disk in S3, nothing of the upload left. */
static void check_the_ami(struct aws *w, const char *out, const char *log)
{
    ck_assert_msg(strstr(log, "image ami-0fedcba9876543210 in eu-west-1"), "%s", log);
    ck_assert_msg(!strstr(log, STANDIN_KEY), "the AWS key was printed:\n%s", log);
    char *manifest = bw_xasprintf("%s/manifest.json", out);
    json_t *m = json_load_file(manifest, 0, NULL);
    ck_assert_ptr_nonnull(m);
    json_t *ami = json_array_get(json_object_get(m, "amis"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ami, "image")), "ami-0fedcba9876543210");
    ck_assert_str_eq(json_string_value(json_object_get(ami, "snapshot")), "snap-0123456789abcdef0");
    ck_assert_str_eq(json_string_value(json_object_get(ami, "region")), "eu-west-1");
    ck_assert_str_eq(json_string_value(json_object_get(ami, "name")), "tiny-1.0.0");
    ck_assert_str_eq(json_string_value(json_object_get(ami, "key")), "boxwright/tiny-1.0.0.vmdk");
    json_decref(m);
    struct bw_buf e = BW_BUF_INIT;
    bw_buf_init(&e);
    ck_assert_int_eq(bw_buf_read_file(&e, w->ec2_log), 0);
    ck_assert_msg(strstr(e.data, "Action=RegisterImage") &&
                      strstr(e.data, "BootMode=legacy-bios") && strstr(e.data, "Name=tiny-1.0.0&"),
                  "%s", e.data);
    ck_assert_msg(strstr(e.data, "Tag.2.Key=host&Tag.2.Value=tiny&"), "%s", e.data);
    bw_buf_release(&e);
    /* S3 holds the disk that passed the checks */
    char *url = bw_xasprintf("http://127.0.0.1:%u/images/boxwright/tiny-1.0.0.vmdk", w->s3_port);
    char *back = bw_xasprintf("%s/s3.vmdk", work), *img = bw_xasprintf("%s/box.img", out);
    char *get[] = {"curl", "-sf", "-o", back, url, NULL};
    struct bw_spawn_result r;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_spawn_run(get, NULL, NULL, 0, &r, &err), 0);
    bw_spawn_result_release(&r);
    char *cmp[] = {"qemu-img", "compare", "-q", img, back, NULL};
    ck_assert_msg(bw_spawn_run(cmp, NULL, NULL, 0, &r, &err) == 0, "S3 holds another disk");
    bw_spawn_result_release(&r);
    char *vmdk = bw_xasprintf("%s.ami.vmdk", img);
    ck_assert_int_ne(access(vmdk, F_OK), 0);
    bw_spawn_stop(w->ec2, 1000);
    bw_spawn_stop(w->front, 1000);
    bw_spawn_stop(w->s3rver, 2000);
    for (int i = 0; i < 4; i++)
        free(w->env[i]);
    free(w->ec2_log);
    free(vmdk);
    free(img);
    free(back);
    free(url);
    free(manifest);
}

START_TEST(test_build_tiny_from_a_clean_cache_to_a_validated_box)
{
    char *out = bw_xasprintf("%s/out", work);
    struct e2e_args a;
    struct aws w;
    char *def_path = NULL;
    if (libvirt)
        build_args(&a, false, out);
    else /* and an AMI */
        def_path = tiny_with_an_ami(&w, &a, out);
    /* one install, a box for every format */
    e2e_push(&a, "--export");
    e2e_push(&a, libvirt ? "libvirt,virtualbox,vmware_desktop,hyperv"
                         : "libvirt,virtualbox,vmware_desktop,hyperv,ami");
    struct bw_spawn_result res;
    int status = e2e_run(a.v, cache_env, &res);
    ck_assert_msg(status == 0, "build failed (%d):\n%s", status, res.err.data);
    if (!libvirt)
        check_the_ami(&w, out, res.err.data);
    free(def_path);
    /* What the guest asked for, as it asked; the boot command typed and read back. */
    ck_assert_msg(strstr(res.err.data, "guest GET /answer.cfg 200") &&
                      strstr(res.err.data, "installer)"),
                  "%s", res.err.data);
    ck_assert_msg(strstr(res.err.data, "0 retyped, 56 read back on the screen"), "%s",
                  res.err.data);
    ck_assert_ptr_nonnull(strstr(res.err.data, "provisioned by boxwright"));
    bw_spawn_result_release(&res);

    /* The manifest lists each box, in the order asked for, with its real size and digest. */
    char *manifest = bw_xasprintf("%s/manifest.json", out);
    json_t *m = json_load_file(manifest, 0, NULL);
    ck_assert_ptr_nonnull(m);
    static const char *const boxes[] = {"tiny-libvirt.box", "tiny-virtualbox.box",
                                        "tiny-vmware_desktop.box", "tiny-hyperv.box"};
    char hex[BW_HASH_MAX_HEX + 1];
    struct bw_error err = BW_ERROR_INIT;
    for (size_t i = 0; i < 4; i++) {
        json_t *box = json_array_get(json_object_get(m, "artifacts"), i);
        ck_assert_str_eq(json_string_value(json_object_get(box, "path")), boxes[i]);
        char *f = bw_xasprintf("%s/%s", out, boxes[i]);
        struct stat st;
        ck_assert_int_eq(stat(f, &st), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(box, "size")), st.st_size);
        ck_assert_int_eq(bw_hash_file(f, BW_HASH_SHA256, hex, NULL, NULL, &err), 0);
        ck_assert_str_eq(json_string_value(json_object_get(box, "sha256")), hex);
        free(f);
    }
    char *boxfile = bw_xasprintf("%s/tiny-libvirt.box", out);
    /* ... and what the guest fetched from the HTTP server. */
    json_t *fetched = json_array_get(json_object_get(m, "guest_fetched"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(fetched, "path")), "answer.cfg");
    ck_assert_int_eq(json_integer_value(json_object_get(fetched, "fetches")), 1);
    json_decref(m);
    /* The validation report: five checks, none failed. */
    char *junit = bw_xasprintf("%s/tiny-validation.xml", out);
    struct bw_buf x = BW_BUF_INIT;
    bw_buf_init(&x);
    ck_assert_int_eq(bw_buf_read_file(&x, junit), 0);
    ck_assert_ptr_nonnull(strstr(x.data, "tests=\"5\" failures=\"0\""));
    bw_buf_release(&x);
    /* Nothing left running or lying around. */
    ck_assert_int_eq(processes_mentioning(out), 0);
    char *left = libvirt_leftovers();
    ck_assert_msg(left == NULL, "left in libvirt:\n%s", left);
    char *wk = bw_xasprintf("%s/.work", out);
    ck_assert_int_ne(access(wk, F_OK), 0);

    /* The box on its own: boxwright's validator, then the real vagrant. It works in $TMPDIR
     * (a directory of the test's, through env) and leaves nothing there. */
    char *tmp = bw_xasprintf("%s/tmp", work);
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    char *tmp_env = bw_xasprintf("TMPDIR=%s", tmp);
    struct e2e_args v = {{NULL}, 0};
    e2e_push(&v, "/usr/bin/env");
    e2e_push(&v, tmp_env);
    e2e_push(&v, BW_BINARY);
    e2e_push(&v, "box");
    e2e_push(&v, "validate");
    e2e_push(&v, boxfile);
    e2e_push(&v, "--template");
    e2e_push(&v, "tiny");
    if (libvirt) {
        e2e_push(&v, "--driver");
        e2e_push(&v, "libvirt");
        e2e_push(&v, "--libvirt-uri");
        e2e_push(&v, lv_uri);
    }
    status = e2e_run(v.v, cache_env, &res);
    ck_assert_msg(status == 0, "box validate failed:\n%s%s", res.out.data, res.err.data);
    ck_assert_ptr_nonnull(strstr(res.out.data, "5 passed, 0 failed"));
    ck_assert_msg(strstr(res.err.data, "running 5 checks"), "no progress:\n%s", res.err.data);
    ck_assert_msg(dir_is_empty(tmp), "box validate left files in $TMPDIR");
    bw_spawn_result_release(&res);
    /* Ctrl-C once the box is booting: exit 130, the VM gone, nothing left in $TMPDIR. */
    struct bw_buf ilog = BW_BUF_INIT;
    bw_buf_init(&ilog);
    status =
        e2e_signal_when(v.v, cache_env, validation_booting, NULL, "the box booting", &ilog, SIGINT);
    ck_assert_msg(status == 130, "box validate interrupted: exit %d\n%s", status, ilog.data);
    ck_assert_msg(processes_mentioning(tmp) == 0, "the validation VM is left running");
    left = libvirt_leftovers();
    ck_assert_msg(left == NULL, "left in libvirt:\n%s", left);
    ck_assert_msg(dir_is_empty(tmp), "an interrupted box validate left files in $TMPDIR");
    bw_buf_release(&ilog);
    /* The disk inside the VirtualBox, VMware and Hyper-V boxes boots too (QEMU reads their
     * VMDKs and the VHDX; the drivers do not matter here, so once, through QEMU). */
    for (size_t i = 1; !libvirt && i < 4; i++) {
        char *f = bw_xasprintf("%s/%s", out, boxes[i]);
        v.v[5] = f;
        status = e2e_run(v.v, cache_env, &res);
        ck_assert_msg(status == 0, "box validate %s failed:\n%s%s", boxes[i], res.out.data,
                      res.err.data);
        ck_assert_ptr_nonnull(strstr(res.out.data, "5 passed, 0 failed"));
        bw_spawn_result_release(&res);
        free(f);
    }
    if (access("/usr/bin/vagrant", X_OK) == 0) {
        char *home = bw_xasprintf("VAGRANT_HOME=%s/vagrant", work);
        char *envp[] = {home, "PATH=/usr/bin:/bin:/usr/sbin:/sbin", NULL};
        char *aargv[] = {"vagrant", "box", "add", "--name", "boxwright/tiny-test", boxfile, NULL};
        ck_assert_msg(bw_spawn_run(aargv, envp, NULL, 0, &res, &err) == 0,
                      "vagrant box add: %s\n%s", err.msg, res.out.data);
        bw_spawn_result_release(&res);
        char *largv[] = {"vagrant", "box", "list", NULL};
        ck_assert_int_eq(bw_spawn_run(largv, envp, NULL, 0, &res, &err), 0);
        ck_assert_msg(strstr(res.out.data, "boxwright/tiny-test") &&
                          strstr(res.out.data, "libvirt"),
                      "%s", res.out.data);
        bw_spawn_result_release(&res);
        free(home);
    }
    free(wk);
    free(tmp_env);
    free(tmp);
    free(junit);
    free(boxfile);
    free(manifest);
    free(out);
}
END_TEST

/* Starts a --json build and sends sig once `step` has begun; returns its exit status and
 * appends its events to log. Under libvirt, `remote` makes it a qemu+ssh:// build. */
static int signal_at(const char *step, const char *out, struct bw_buf *log, int sig, bool remote)
{
    struct e2e_args a;
    if (libvirt) {
        build_args(&a, remote, out);
    } else { /* the ISO alone: the template is the one its volume ID names */
        a.n = 0;
        e2e_push(&a, BW_BINARY);
        e2e_push(&a, "build");
        e2e_push(&a, "--iso");
        e2e_push(&a, iso);
        e2e_push(&a, "--output");
        e2e_push(&a, out);
    }
    e2e_push(&a, "--json");
    return e2e_signal_at(a.v, cache_env, step, log, sig);
}

static bool starts_with_png_signature(const char *path)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bool ok = bw_buf_read_file(&b, path) == 0 && b.len > 8 && memcmp(b.data, "\x89PNG", 4) == 0;
    bw_buf_release(&b);
    return ok;
}

/*
 * Every step but the last (manifest takes milliseconds and can finish before
 * any signal lands): exit 130, no QEMU left, no work files. Where a VM is
 * surely up when the signal lands (not just starting, not powering off), the
 * guest's screen and serial console are kept as evidence.
 */
START_TEST(test_sigint_at_each_step_leaves_nothing_behind)
{
    static const struct {
        const char *step;
        bool vm_running;
    } steps[] = {{"output", false},    {"iso", false},      {"http", false},     {"disk", false},
                 {"installer", false}, {"type", true},      {"install", true},   {"boot", false},
                 {"ssh", true},        {"provision", true}, {"shutdown", false}, {"export", false},
                 {"validate", false}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char *out = bw_xasprintf("%s/out-%s", work, steps[i].step);
        struct bw_buf log = BW_BUF_INIT;
        bw_buf_init(&log);
        int status = signal_at(steps[i].step, out, &log, SIGINT, true);
        ck_assert_msg(status == 130, "interrupted at %s: exit %d", steps[i].step, status);
        ck_assert_msg(libvirt || strstr(log.data, "template tiny (from its volume ID)"), "%s",
                      log.data);
        /* The events say so; in the step it happened in, for the steps that surely last (a
         * quick one can end before the signal lands, and the next one then says it). */
        bool lasts = strcmp(steps[i].step, "type") == 0 || strcmp(steps[i].step, "install") == 0 ||
                     strcmp(steps[i].step, "ssh") == 0;
        char *said = bw_xasprintf("step %s: interrupted during %s", steps[i].step, steps[i].step);
        ck_assert_msg(strstr(log.data, lasts ? said : "interrupted during "),
                      "after SIGINT at %s:\n%s", steps[i].step, log.data);
        free(said);
        ck_assert_msg(processes_mentioning(out) == 0, "QEMU left running after %s", steps[i].step);
        char *left = libvirt_leftovers();
        ck_assert_msg(left == NULL, "left in libvirt after %s:\n%s", steps[i].step, left);
        /* Remote: the ISO went into the pool once, for the first of these builds to need it. */
        if (libvirt && strcmp(steps[i].step, "type") == 0)
            ck_assert_msg(strstr(log.data, "uploaded") || strstr(log.data, "already in pool"),
                          "no word of the ISO in the pool:\n%s", log.data);
        bw_buf_release(&log);
        char *wk = bw_xasprintf("%s/.work", out);
        ck_assert_msg(access(wk, F_OK) != 0, "work files left after %s", steps[i].step);
        if (steps[i].vm_running) {
            char *png = bw_xasprintf("%s/failure-screen.png", out);
            char *serial = bw_xasprintf("%s/failure-serial.log", out);
            ck_assert_msg(starts_with_png_signature(png), "no screenshot after %s", steps[i].step);
            struct stat st; /* the screen may show what was typed: the owner's only */
            ck_assert_msg(stat(png, &st) == 0 && (st.st_mode & 077) == 0,
                          "failure screen open to others after %s: %o", steps[i].step,
                          st.st_mode & 0777);
            /* A remote host keeps the serial console. */
            ck_assert_msg(libvirt || access(serial, F_OK) == 0, "no serial log after %s",
                          steps[i].step);
            free(png);
            free(serial);
        }
        free(wk);
        free(out);
    }
}
END_TEST

/*
 * SIGKILL runs no cleanup at all. libvirtd still removes the domain, because it was started to
 * be destroyed when boxwright's connection closes, and a remote build's ssh tunnel goes too
 * (it asked for SIGTERM when its parent dies). A remote build's disk volume stays: that is
 * the documented cost, and this test removes it.
 */
START_TEST(test_sigkill_leaves_no_domain_and_no_tunnel)
{
    for (int remote = 0; remote < 2; remote++) {
        char *out = bw_xasprintf("%s/out-kill-%d", work, remote);
        struct bw_buf log = BW_BUF_INIT;
        bw_buf_init(&log);
        int status = signal_at("install", out, &log, SIGKILL, remote);
        ck_assert_int_eq(status, 128 + SIGKILL);
        struct bw_buf domains = BW_BUF_INIT;
        bw_buf_init(&domains);
        int left = 1, tunnels = 1;
        for (int i = 0; i < 50 && (left || tunnels); i++) {
            bw_buf_reset(&domains);
            left = virsh_lines("list", "--all", "boxwright-", &domains);
            tunnels = e2e_processes_with("ExitOnForwardFailure", NULL);
            usleep(100 * 1000);
        }
        ck_assert_msg(left == 0, "domains left 5 s after SIGKILL:\n%s", domains.data);
        ck_assert_msg(tunnels == 0, "ssh tunnel left 5 s after SIGKILL (remote %d)", remote);
        ck_assert_int_eq(processes_mentioning(out), 0);
        if (remote) {
            struct bw_buf vols = BW_BUF_INIT;
            bw_buf_init(&vols);
            virsh_lines("vol-list", lv_pool, ".qcow2", &vols);
            for (char *line = strtok(vols.data, "\n"); line; line = strtok(NULL, "\n")) {
                char name[256];
                if (sscanf(line, " %255s", name) == 1) {
                    char *argv[] = {"virsh",         "-q",         "-c",
                                    (char *)lv_uri,  "vol-delete", "--pool",
                                    (char *)lv_pool, name,         NULL};
                    struct bw_spawn_result res;
                    struct bw_error err = BW_ERROR_INIT;
                    bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
                    bw_spawn_result_release(&res);
                    bw_error_release(&err);
                }
            }
            bw_buf_release(&vols);
        }
        bw_buf_release(&domains);
        bw_buf_release(&log);
        free(out);
    }
}
END_TEST

/* Remote: the ISO and the disks cross the libvirt connection (storage upload and download). */
START_TEST(test_remote_build_moves_the_iso_and_disks_through_the_pool)
{
    char *out = bw_xasprintf("%s/out-remote", work);
    struct e2e_args a;
    build_args(&a, true, out);
    struct bw_spawn_result res;
    int status = e2e_run(a.v, cache_env, &res);
    ck_assert_msg(status == 0, "remote build failed (%d):\n%s", status, res.err.data);
    ck_assert_msg(strstr(res.err.data, "to pool") && strstr(res.err.data, "downloaded the disk") &&
                      strstr(res.err.data, "ssh tunnel to 127.0.0.1"),
                  "%s", res.err.data);
    int passed = 0;
    for (const char *p = res.err.data; (p = strstr(p, "PASS ")); p++)
        passed++;
    ck_assert_msg(passed == 5 && !strstr(res.err.data, "FAIL "), "%s", res.err.data);
    bw_spawn_result_release(&res);
    char *left = libvirt_leftovers();
    ck_assert_msg(left == NULL, "left in libvirt:\n%s", left);
    ck_assert_int_eq(virsh_lines("vol-list", lv_pool, ".iso.done", NULL), 1);
    free(out);
}
END_TEST

/* A copy of templates/tiny in the work directory whose boot command is cmd (a JSON string's
 * contents) and whose boot.stall_timeout is stall; returns its definition's path. */
static char *tiny_variant(const char *name, const char *cmd, const char *stall)
{
    char *dir = bw_xasprintf("%s/%s", work, name);
    char *argv[] = {"cp", "-r", BW_TEMPLATES "/tiny", dir, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&res);
    char *def = bw_xasprintf("%s/definition.json", dir);
    json_t *root = json_load_file(def, 0, NULL);
    ck_assert_ptr_nonnull(root);
    json_t *boot = json_object_get(root, "boot");
    json_object_set_new(boot, "command", json_pack("[s]", cmd));
    json_object_set_new(boot, "stall_timeout", json_string(stall));
    ck_assert_int_eq(json_dump_file(root, def, JSON_INDENT(2)), 0);
    json_decref(root);
    free(dir);
    return def;
}

static void variant_args(struct e2e_args *a, const char *def, const char *out)
{
    build_args(a, false, out);
    a->v[2] = (char *)def; /* the definition file instead of the template "tiny" */
}

/*
 * A boot command with a typo in the answer file's name: the guest asks for it, gets 404, and
 * the build says which file it asked for and which one exists; the installer powers off
 * without its answer file, and the build fails there, not at the SSH timeout.
 */
START_TEST(test_a_missing_answer_file_is_a_warning_and_fails_the_install)
{
    char *def = tiny_variant(
        "typo",
        "<esc><expect /^boot:/>auto url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/answer.cgf<enter>",
        "5m");
    char *out = bw_xasprintf("%s/out-typo", work);
    struct e2e_args a;
    variant_args(&a, def, out);
    e2e_push(&a, "--json");
    struct bw_spawn_result res;
    int status = e2e_run(a.v, cache_env, &res);
    ck_assert_msg(status == 1, "exit %d:\n%s%s", status, res.out.data, res.err.data);
    /* Each request is an event, with the VM that asked. */
    ck_assert_msg(strstr(res.out.data, "\"event\":\"request\"") &&
                      strstr(res.out.data, "\"vm\":\"installer\",\"method\":\"GET\",\"path\":"
                                           "\"/answer.cgf\",\"status\":404") &&
                      strstr(res.out.data, "\"nearest\":\"answer.cfg\""),
                  "%s", res.out.data);
    ck_assert_msg(strstr(res.out.data, "\"event\":\"warning\",\"message\":\"the installer asked "
                                       "for /answer.cgf and got 404 (the nearest file served: "
                                       "answer.cfg)\""),
                  "%s", res.out.data);
    ck_assert_msg(strstr(res.err.data, "step install: the installer powered off without fetching "
                                       "answer.cgf, which the boot command points it at"),
                  "%s", res.err.data);
    ck_assert_int_eq(processes_mentioning(out), 0);
    bw_spawn_result_release(&res);
    free(out);
    free(def);
}
END_TEST

/*
 * A boot command that never presses Enter: the installer sits at its prompt. Nothing moves on
 * the screen, the serial console, the HTTP server or the disk, and the build stops when the
 * stall timeout runs out, showing the prompt with the command on it.
 */
START_TEST(test_an_installer_that_stalls_fails_at_once_with_the_screen)
{
    char *def = tiny_variant("stall", "<esc><expect /^boot:/>auto hostname=stalled", "20s");
    char *out = bw_xasprintf("%s/out-stall", work);
    struct e2e_args a;
    variant_args(&a, def, out);
    struct bw_spawn_result res;
    time_t t0 = time(NULL);
    int status = e2e_run(a.v, cache_env, &res);
    long took = (long)(time(NULL) - t0);
    ck_assert_msg(status == 1, "exit %d:\n%s", status, res.err.data);
    ck_assert_msg(strstr(res.err.data, "step install: nothing has moved for 2") &&
                      strstr(res.err.data, "(boot.stall_timeout)") &&
                      strstr(res.err.data, "the screen shows:") &&
                      strstr(res.err.data, "boot: auto hostname=stalled"),
                  "%s", res.err.data);
    ck_assert_msg(took < 120, "took %ld s", took);
    /* The screen is kept as a picture and as text. */
    char *txt = bw_xasprintf("%s/failure-screen.png", out);
    ck_assert(starts_with_png_signature(txt));
    free(txt);
    ck_assert_int_eq(processes_mentioning(out), 0);
    bw_spawn_result_release(&res);
    free(out);
    free(def);
}
END_TEST

/*
 * Ctrl-C in a terminal reaches the whole foreground process group. QEMU runs in a group of its
 * own, so it is not stopped by it behind boxwright's back: the install step is interrupted,
 * never taken for an installer that powered off, and its evidence is kept.
 */
START_TEST(test_ctrl_c_during_install_is_an_interruption_not_a_power_off)
{
    char *out = bw_xasprintf("%s/out-ctrl-c", work);
    struct bw_buf log = BW_BUF_INIT;
    bw_buf_init(&log);
    int status = signal_at("install", out, &log, SIGINT, false);
    ck_assert_msg(status == 130, "exit %d:\n%s", status, log.data);
    ck_assert_msg(!strstr(log.data, "the installer powered off"), "%s", log.data);
    ck_assert_msg(!strstr(log.data, "\"step\":\"boot\",\"event\":\"step\""), "%s", log.data);
    ck_assert_msg(strstr(log.data, "step install: interrupted during install"), "%s", log.data);
    char *png = bw_xasprintf("%s/failure-screen.png", out);
    ck_assert_msg(starts_with_png_signature(png), "no screenshot:\n%s", log.data);
    ck_assert_int_eq(processes_mentioning(out), 0);
    free(png);
    bw_buf_release(&log);
    free(out);
}
END_TEST

/* SIGKILL runs no cleanup: QEMU goes anyway, because it dies with its parent. */
START_TEST(test_sigkill_leaves_no_qemu)
{
    char *out = bw_xasprintf("%s/out-kill", work);
    struct bw_buf log = BW_BUF_INIT;
    bw_buf_init(&log);
    int status = signal_at("install", out, &log, SIGKILL, false);
    ck_assert_int_eq(status, 128 + SIGKILL);
    int left = 1;
    for (int i = 0; i < 50 && left; i++) {
        left = processes_mentioning(out);
        usleep(100 * 1000);
    }
    ck_assert_msg(left == 0, "QEMU still running 5 s after boxwright was killed");
    bw_buf_release(&log);
    free(out);
}
END_TEST

int main(void)
{
    int skip = e2e_environment(&libvirt, &lv_uri);
    if (skip)
        return skip;
    lv_remote = getenv("BW_LIBVIRT_REMOTE_URI");
    lv_pool = getenv("BW_LIBVIRT_POOL");
    if (libvirt && (!lv_uri || !lv_remote || !lv_pool)) {
        printf("BW_E2E_DRIVER=libvirt needs tests/e2e/with-libvirtd around it; skipping\n");
        return 77;
    }
    Suite *s = suite_create(libvirt ? "e2e-build-libvirt" : "e2e-build");
    TCase *tc = tcase_create(libvirt ? "libvirt" : "qemu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_build_tiny_from_a_clean_cache_to_a_validated_box);
    if (libvirt) {
        tcase_add_test(tc, test_remote_build_moves_the_iso_and_disks_through_the_pool);
        tcase_add_test(tc, test_sigkill_leaves_no_domain_and_no_tunnel);
    } else { /* what the build does around the VMs: the same for every driver */
        tcase_add_test(tc, test_a_missing_answer_file_is_a_warning_and_fails_the_install);
        tcase_add_test(tc, test_an_installer_that_stalls_fails_at_once_with_the_screen);
        tcase_add_test(tc, test_ctrl_c_during_install_is_an_interruption_not_a_power_off);
        tcase_add_test(tc, test_sigkill_leaves_no_qemu);
    }
    tcase_add_test(tc, test_sigint_at_each_step_leaves_nothing_behind);
    suite_add_tcase(s, tc);
    return test_run(s);
}
