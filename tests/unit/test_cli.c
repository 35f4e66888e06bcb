/* The boxwright binary as a user runs it: exit codes, help, and each command's output. */
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/drivers/driver.h"

#include "golden.h"
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct bw_spawn_result res;

/* Runs boxwright with the NULL-terminated arguments; returns its exit status. */
static int run(const char *first, ...)
{
    char *argv[32] = {BW_BINARY};
    size_t n = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    bw_spawn_result_release(&res);
    struct bw_error err = BW_ERROR_INIT;
    bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
    bw_error_release(&err);
    return res.status;
}

static void teardown(void)
{
    bw_spawn_result_release(&res);
}

static const char *const commands[] = {"templates", "inspect", "validate", "render", "keys",
                                       "serve",     "iso",     "detect",   "build",  "box",
                                       "publish",   "ami",     "help"};

START_TEST(test_help_lists_every_command_and_each_has_its_own)
{
    ck_assert_int_eq(run("--help", NULL), 0);
    char *overview = bw_xstrdup(res.out.data);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        ck_assert_msg(strstr(overview, commands[i]), "overview lacks %s", commands[i]);
        ck_assert_int_eq(run(commands[i], "--help", NULL), 0);
        char *own = bw_xstrdup(res.out.data);
        ck_assert_msg(strncmp(own, "usage: boxwright ", 17) == 0, "%s --help: %s", commands[i],
                      own);
        ck_assert_ptr_nonnull(strstr(own, "Exit status"));
        ck_assert_int_eq(run("help", commands[i], NULL), 0);
        ck_assert_str_eq(res.out.data, own);
        free(own);
    }
    free(overview);
    /* A subcommand's --help is help too, not an argument ("iso rm --help" once looked for an
     * entry named --help). */
    static const char *const subs[] = {"fetch", "verify", "ls", "rm"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        ck_assert_msg(run("iso", subs[i], "--help", NULL) == 0, "iso %s --help: %d", subs[i],
                      res.status);
        ck_assert_ptr_nonnull(strstr(res.out.data, "usage: boxwright iso"));
    }
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
    ck_assert_int_eq(run(NULL), 2);
    ck_assert_int_eq(run("frobnicate", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "unknown command \"frobnicate\""));
    ck_assert_int_eq(run("validate", NULL), 2);
    ck_assert_int_eq(run("validate", "--bogus", "tiny", NULL), 2);
    ck_assert_int_eq(run("keys", "--encoding", "morse", "a", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "events|qmp|linux|scancode|keysym"));
    ck_assert_int_eq(run("render", "tiny", "--var", "nosuch=1", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "unknown variable \"nosuch\""));
    ck_assert_int_eq(run("help", "nothing", NULL), 2);
    ck_assert_int_eq(run("serve", "--port", "9-1", "tiny", NULL), 2);
    /* A negative rate is not "no limit" (strtoul wraps it); a missing argument is not an
     * unknown option. */
    ck_assert_int_eq(run("serve", "--max-rate", "-5", "tiny", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "--max-rate \"-5\": expected a number"));
    ck_assert_int_eq(run("build", "tiny", "--output", NULL), 2);
    ck_assert_msg(strstr(res.err.data, "option \"--output\" needs an argument"), "%s",
                  res.err.data);
    ck_assert_int_eq(run("validate", "tiny", "--var", NULL), 2);
    ck_assert_msg(strstr(res.err.data, "option \"--var\" needs an argument"), "%s", res.err.data);
    ck_assert_int_eq(run("iso", "fetch", "x", "-c", NULL), 2);
    ck_assert_msg(strstr(res.err.data, "option \"-c\" needs an argument"), "%s", res.err.data);
    /* Every documented serve option parses: this fails on the argument (1), not usage (2). */
    ck_assert_int_eq(run("serve", "--quiet", "--json", "--listing", "--max-rate", "0", "--bind",
                         "127.0.0.1", "--port", "8100-8101", "no-such-template", NULL),
                     1);
}
END_TEST

START_TEST(test_templates_lists_the_catalogue)
{
    ck_assert_int_eq(run("templates", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "NAME"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "\ntiny "));
    ck_assert_ptr_nonnull(strstr(res.out.data, "linux busybox 1"));
    ck_assert_int_eq(run("templates", "--json", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "{\"name\":\"tiny\",\"os\":\"linux busybox 1\""));
}
END_TEST

START_TEST(test_validate_accepts_tiny_and_lists_every_error_of_a_bad_file)
{
    ck_assert_int_eq(run("validate", "tiny", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "valid (1 answer file rendered"));
    char *bad = bw_xasprintf("%s/definitions/wrong-types.json", BW_TEST_DATA);
    ck_assert_int_eq(run("validate", bad, NULL), 1);
    ck_assert_ptr_nonnull(strstr(res.err.data, "wrong-types.json:5:18: .vm.cpus: got \"two\""));
    ck_assert_ptr_nonnull(strstr(res.err.data, "errors in the definition"));
    free(bad);
    ck_assert_int_eq(run("validate", "no-such-template", NULL), 1);
    ck_assert_ptr_nonnull(strstr(res.err.data, "templates: "));
    ck_assert_ptr_nonnull(strstr(res.err.data, "tiny"));
    ck_assert_int_eq(run("validate", "/nonexistent/def.json", NULL), 1);
}
END_TEST

/* Every template in the catalogue validates (its answer files through their linters), says why
 * it needs its network, and renders; a template listed by `templates` is one a user can start
 * from. */
START_TEST(test_every_template_in_the_catalogue_validates_and_renders)
{
    DIR *d = opendir(BW_TEMPLATES);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        ck_assert_msg(run("validate", e->d_name, NULL) == 0, "%s: %s", e->d_name, res.err.data);
        ck_assert_msg(strstr(res.out.data, ": valid ("), "%s: %s", e->d_name, res.out.data);
        /* and says which network it needs, and why */
        ck_assert_msg(run("inspect", e->d_name, NULL) == 0, "%s: %s", e->d_name, res.err.data);
        ck_assert_msg(strstr(res.out.data, "\n  why        "), "%s: no network reason: %s",
                      e->d_name, res.out.data);
        char out[] = "/tmp/bw-cli-catalogue-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(out));
        ck_assert_msg(run("render", e->d_name, "--out", out, NULL) == 0, "%s: %s", e->d_name,
                      res.err.data);
        char *rm = bw_xasprintf("rm -rf '%s'", out);
        ck_assert_msg(system(rm) == 0, "%s", rm);
        free(rm);
    }
    closedir(d);
    ck_assert_uint_ge(n, 3);
    /* The Debian preseed went through debconf-set-selections, and the boot line points d-i at
     * it on boxwright's server. */
    ck_assert_int_eq(run("validate", "debian-12", NULL), 0);
    ck_assert_msg(strstr(res.out.data, "checked: preseed.cfg (debconf-set-selections)"), "%s",
                  res.out.data);
    ck_assert_int_eq(run("inspect", "debian-12", NULL), 0);
    ck_assert_msg(strstr(res.out.data, "auto preseed/url=http://10.0.2.100:8100/preseed.cfg "
                                       "netcfg/get_hostname=debian-12"),
                  "%s", res.out.data);
}
END_TEST

START_TEST(test_render_writes_answer_files_and_the_exact_boot_command)
{
    char dir[] = "/tmp/bw-render-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *out = bw_xasprintf("%s/out", dir);
    ck_assert_int_eq(run("render", "tiny", "--out", out, "--var", "HTTPIP=192.0.2.9", "--var",
                         "HTTPPort=9123", "--var", "hostname=box1", NULL),
                     0);
    char *boot = bw_xasprintf("%s/boot_command.txt", out);
    char *answer = bw_xasprintf("%s/answer.cfg", out);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, boot), 0);
    ck_assert_str_eq(b.data, "<esc><expect /^boot:/>auto url=http://192.0.2.9:9123/answer.cfg "
                             "hostname=box1<enter>");
    bw_buf_reset(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, answer), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "hostname=box1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "password_hash=$6$"));
    ck_assert_ptr_null(strstr(b.data, "password=vagrant"));
    /* It holds a password hash: its owner's alone, as is everything render writes. */
    struct stat st;
    ck_assert_int_eq(stat(answer, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(boot, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_ptr_nonnull(strstr(res.out.data, boot));
    bw_buf_release(&b);
    unlink(boot);
    unlink(answer);
    rmdir(out);
    rmdir(dir);
    free(boot);
    free(answer);
    free(out);
}
END_TEST

START_TEST(test_inspect_shows_origins_and_never_the_password)
{
    ck_assert_int_eq(
        run("inspect", "tiny", "--var", "password=s3cr3t-pw", "--var", "hostname=web1", NULL), 0);
    ck_assert_ptr_null(strstr(res.out.data, "s3cr3t-pw"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "<sensitive>"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "hostname=web1<enter>"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "--var"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "built-in"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "vagrant box for libvirt"));
}
END_TEST

/* A cloud build: where it starts, how it boots, where the seed goes, what the network is. */
START_TEST(test_inspect_and_validate_a_cloud_image_template)
{
    ck_assert_int_eq(run("inspect", "debian-12-cloud", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "source       disk image (qcow2)"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "boot         method none"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "network      isolated"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "cloud-init   NoCloud over HTTP"));
    ck_assert_int_eq(run("validate", "debian-12-cloud", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "3 seed files rendered"));
    ck_assert_int_eq(run("render", "debian-12-cloud", "--out", "/tmp/bw-cli-render-cloud", NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "/tmp/bw-cli-render-cloud/nocloud/user-data"));
    ck_assert_ptr_null(strstr(res.out.data, "boot_command.txt"));
    test_rm_rf("/tmp/bw-cli-render-cloud");

    /* A kernel command line that does not render fails inspect, with its position. */
    FILE *f = fopen("/tmp/bw-cli-kernel.json", "w");
    fputs("{\"name\": \"k\", \"os\": {\"family\": \"linux\"},"
          " \"iso\": {\"urls\": [\"x.iso\"], \"checksum\": \"none\"},"
          " \"boot\": {\"method\": \"kernel\", \"kernel\": \"/vmlinuz\","
          " \"initrd\": \"/initrd.gz\", \"append\": \"url={{ .Nope }}\"},"
          " \"ssh\": {\"username\": \"u\", \"password\": \"p\"}}",
          f);
    fclose(f);
    ck_assert_int_eq(run("inspect", "/tmp/bw-cli-kernel.json", NULL), 1);
    ck_assert_ptr_nonnull(strstr(res.out.data, "boot         method kernel"));
    ck_assert_ptr_nonnull(strstr(res.err.data, ".boot.append:1:8: undefined variable .Nope"));
    unlink("/tmp/bw-cli-kernel.json");
}
END_TEST

START_TEST(test_inspect_says_which_path_each_driver_takes)
{
    ck_assert_int_eq(run("inspect", "tiny", NULL), 0);
    ck_assert_ptr_nonnull(
        strstr(res.out.data, "driver       qemu: qemu-system-x86_64 run directly"));
    ck_assert_int_eq(run("inspect", "tiny", "--driver", "libvirt", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "libvirt at qemu:///system (this host)"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "used in place"));
    ck_assert_int_eq(run("inspect", "tiny", "--driver", "libvirt", "--libvirt-uri",
                         "qemu+ssh://root@build1/system", "--libvirt-pool", "images", NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "(remote)"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "uploaded to pool images once per sha256"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "through an ssh tunnel"));
    ck_assert_ptr_null(strstr(res.out.data, "fails"));
    ck_assert_int_eq(run("inspect", "tiny", "--driver", "libvirt", "--libvirt-uri",
                         "qemu+tls://build1/system", NULL),
                     0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "needs a qemu+ssh:// URI"));
    /* VirtualBox: unproven, said so; what it cannot do (isolate the guest) is said before a build
     * fails on it; the guest's HTTP address is the driver's. */
    ck_assert_int_eq(run("inspect", "tiny", "--driver", "virtualbox", NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "virtualbox (unproven on a real VirtualBox)"));
    ck_assert_ptr_nonnull(
        strstr(res.out.data, "the virtualbox driver cannot cut a guest's routes"));
    ck_assert_ptr_nonnull(strstr(res.out.data, "url=http://10.0.2.2:(a free port)/answer.cfg"));
    /* Bad drivers are usage errors that list the good ones, for every command that takes one. */
    ck_assert_int_eq(run("inspect", "tiny", "--driver", "vbox", NULL), 2);
    ck_assert_ptr_nonnull(
        strstr(res.err.data, "--driver \"vbox\": expected qemu, libvirt, virtualbox"));
    ck_assert_int_eq(run("build", "--driver", "vbox", "tiny", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "expected qemu, libvirt, virtualbox"));
    ck_assert_int_eq(run("validate", "--driver", "qemu", "tiny", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "unknown option \"--driver\""));
    /* So are bad --export lists: an unknown provider, one twice, an empty one. */
    ck_assert_int_eq(run("build", "--export", "libvirt,virtualbx", "tiny", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "no such provider \"virtualbx\""));
    ck_assert_ptr_nonnull(strstr(res.err.data, "libvirt, virtualbox, vmware_desktop"));
    ck_assert_int_eq(run("build", "--export", "virtualbox,virtualbox", "tiny", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "twice \"virtualbox\""));
    ck_assert_int_eq(run("build", "--export", "libvirt,", "tiny", NULL), 2);
    ck_assert_ptr_nonnull(strstr(res.err.data, "no such provider \"\""));
    ck_assert_int_eq(
        run("box", "export", "d.qcow2", "--provider", "parallels", "-o", "x.box", NULL), 2);
    ck_assert_ptr_nonnull(strstr(
        res.err.data,
        "--provider \"parallels\": expected one of libvirt, virtualbox, vmware_desktop, hyperv"));
    ck_assert_int_eq(run("box", "export", "/nonexistent.qcow2", "--provider", "libvirt", "-o",
                         "/tmp/bw-never.box", NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(res.err.data, "/nonexistent.qcow2"));
    ck_assert_int_ne(access("/tmp/bw-never.box", F_OK), 0);
}
END_TEST

/* A scratch directory /tmp/bw-NAME-XXXXXX for a build: DIR/cache becomes its ISO cache (run()
 * passes the environment on) and DIR/out is for its output. A shell `script`, if not NULL,
 * runs in DIR first and must succeed. Caller ends with scratch_done(). */
static char *scratch(const char *name, const char *script)
{
    char *dir = bw_xasprintf("/tmp/bw-%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *cache = bw_xasprintf("%s/cache", dir);
    setenv("BOXWRIGHT_CACHE_DIR", cache, 1);
    free(cache);
    if (script) {
        char *cmd = bw_xasprintf("set -e; cd %s; %s", dir, script);
        char *sh[] = {"/bin/sh", "-c", cmd, NULL};
        struct bw_spawn_result r = {0};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(bw_spawn_run(sh, NULL, NULL, 0, &r, &err) == 0, "%s: %s", err.msg,
                      r.err.data);
        bw_spawn_result_release(&r);
        free(cmd);
    }
    return dir;
}

static void scratch_done(char *dir)
{
    unsetenv("BOXWRIGHT_CACHE_DIR");
    test_rm_rf(dir);
    free(dir);
}

/*
 * A template whose files are symbolic links out of it (its http directory to /, a script to
 * /etc/passwd, a seed to /etc/shadow): the same refusal in validate, render and serve, and
 * nothing of those files in what render writes.
 */
START_TEST(test_a_template_cannot_reach_files_outside_it_through_links)
{
    char *dir = scratch("links", "mkdir scripts cloud; ln -s / http; ln -s /etc/passwd "
                                 "scripts/evil.sh; ln -s /etc/shadow cloud/user-data");
    char *def = bw_xasprintf("%s/definition.json", dir);
    FILE *f = fopen(def, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"name\": \"links\", \"os\": {\"family\": \"linux\"},\n"
          " \"image\": {\"urls\": [\"file:///srv/x.qcow2\"], \"checksum\": \"none\"},\n"
          " \"cloud_init\": {\"seed\": \"http\", \"user_data\": \"cloud/user-data\"},\n"
          " \"http\": {\"directory\": \"http\"},\n"
          " \"ssh\": {\"username\": \"u\", \"password\": \"p\"},\n"
          " \"provision\": [{\"script\": \"scripts/evil.sh\"}]}\n",
          f);
    fclose(f);
    ck_assert_int_eq(run("validate", def, NULL), 1);
    ck_assert_msg(strstr(res.err.data, ".http.directory: \"http\" leads to / through a symbolic "
                                       "link: expected a file inside the template"),
                  "%s", res.err.data);
    ck_assert_msg(strstr(res.err.data, ".provision[0].script: \"scripts/evil.sh\" leads to "
                                       "/etc/passwd"),
                  "%s", res.err.data);
    ck_assert_msg(strstr(res.err.data, ".cloud_init.user_data: \"cloud/user-data\" leads to "
                                       "/etc/shadow"),
                  "%s", res.err.data);
    char *out = bw_xasprintf("%s/out", dir);
    ck_assert_int_eq(run("render", def, "--out", out, NULL), 1);
    ck_assert_msg(strstr(res.err.data, "leads to /etc/shadow"), "%s", res.err.data);
    char *seed = bw_xasprintf("%s/nocloud/user-data", out);
    ck_assert_int_ne(access(seed, F_OK), 0);
    ck_assert_int_eq(run("serve", def, "--port", "0", NULL), 1);
    ck_assert_msg(strstr(res.err.data, "leads to / through a symbolic link"), "%s", res.err.data);
    free(seed);
    free(out);
    free(def);
    scratch_done(dir);
}
END_TEST

/* An answer file named like the file render writes the boot command to would be overwritten
 * by it: refused, with both names. */
START_TEST(test_render_refuses_an_answer_file_named_like_its_own_output)
{
    char *dir = scratch("collide", "mkdir http; echo x > http/boot_command.txt");
    char *def = bw_xasprintf("%s/definition.json", dir);
    FILE *f = fopen(def, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"name\": \"c\", \"os\": {\"family\": \"linux\"},\n"
          " \"iso\": {\"urls\": [\"x.iso\"], \"checksum\": \"none\"},\n"
          " \"boot\": {\"command\": [\"<enter>\"]},\n"
          " \"http\": {\"directory\": \"http\", \"render\": [\"boot_command.txt\"]},\n"
          " \"ssh\": {\"username\": \"u\", \"password\": \"p\"}}\n",
          f);
    fclose(f);
    char *out = bw_xasprintf("%s/out", dir);
    ck_assert_int_eq(run("render", def, "--out", out, NULL), 1);
    ck_assert_msg(strstr(res.err.data, "an answer file is named boot_command.txt, where render "
                                       "writes the boot command"),
                  "%s", res.err.data);
    free(out);
    free(def);
    scratch_done(dir);
}
END_TEST

/* vm.firmware "efi" on a host without OVMF: validate and inspect say what is missing (the build
 * would have failed only at boot, with QEMU's "could not load PC BIOS"). */
START_TEST(test_efi_without_ovmf_is_said_before_building)
{
    char *def = bw_xasprintf("%s/definitions/minimal.json", BW_TEST_DATA);
    char *dir = scratch("efi", NULL);
    char *efi = bw_xasprintf("%s/efi.json", dir);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, def), 0);
    char *text = bw_xstrdup(b.data);
    char *at = strstr(text, "\"boot\"");
    ck_assert_ptr_nonnull(at);
    FILE *f = fopen(efi, "w");
    fprintf(f, "%.*s\"vm\": {\"firmware\": \"efi\"},\n  %s", (int)(at - text), text, at);
    fclose(f);
    setenv("BOXWRIGHT_OVMF", "/nonexistent/OVMF.fd", 1);
    ck_assert_int_eq(run("validate", efi, NULL), 0);
    ck_assert_msg(strstr(res.err.data, "needs OVMF, which this host lacks (/nonexistent/OVMF.fd): "
                                       "apt-get install ovmf"),
                  "%s", res.err.data);
    ck_assert_int_eq(run("inspect", efi, NULL), 0);
    ck_assert_ptr_nonnull(strstr(res.out.data, "efi needs OVMF"));
    unsetenv("BOXWRIGHT_OVMF");
    bw_buf_release(&b);
    free(text);
    free(efi);
    free(def);
    scratch_done(dir);
}
END_TEST

/* A --json build that fails ends its stdout with an error event: a pipeline reading only
 * stdout learns which step failed and why. */
START_TEST(test_a_failed_json_build_ends_with_an_error_event)
{
    char *dir = scratch("jsonfail", NULL);
    char *out = bw_xasprintf("%s/out", dir);
    char *url = bw_xasprintf("iso_url=file://%s/missing.iso", dir);
    ck_assert_int_eq(run("build", "tiny", "--json", "--accel", "tcg", "-o", out, "--var", url,
                         "--skip-validate", NULL),
                     1);
    char *last = strrchr(res.out.data, '{');
    ck_assert_ptr_nonnull(last);
    json_error_t je;
    json_t *ev = json_loads(last, 0, &je);
    ck_assert_msg(ev != NULL, "last line is not JSON: %s", last);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "event")), "error");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "step")), "build");
    const char *msg = json_string_value(json_object_get(ev, "message"));
    ck_assert_msg(strstr(msg, "step iso") && strstr(msg, "missing.iso"), "message: %s", msg);
    /* The same words as on stderr. */
    ck_assert_ptr_nonnull(strstr(res.err.data, msg));
    json_decref(ev);
    scratch_done(dir);
    free(out);
    free(url);
}
END_TEST

/* Every line of a --json stream is one JSON object; returns how many lines there were. */
static size_t all_json(const char *stream, const char *what)
{
    size_t n = 0;
    char *copy = bw_xstrdup(stream);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), n++) {
        json_error_t je;
        json_t *v = json_loads(line, 0, &je);
        ck_assert_msg(json_is_object(v), "%s: not a JSON object (%s): %s", what, je.text, line);
        json_decref(v);
    }
    free(copy);
    return n;
}

/* Sends raw request bytes to 127.0.0.1:port and reads the answer (to the end). */
static void raw_http(unsigned port, const char *req, size_t len)
{
    /* bash goes on past an exec whose redirection fails: without the exit, a refused
     * connection (the server not up yet) sent the request to the fd 3 this process has, which
     * is Check's channel to its parent ("Bad message type arg 1195725856": "GET "). */
    char *cmd =
        bw_xasprintf("exec 3<>/dev/tcp/127.0.0.1/%u || exit 1; cat >&3; cat <&3 >/dev/null", port);
    char *sh[] = {"/bin/bash", "-c", cmd, NULL};
    struct bw_spawn_result r;
    struct bw_error err = BW_ERROR_INIT;
    bw_spawn_run(sh, NULL, req, len, &r, &err);
    bw_spawn_result_release(&r);
    bw_error_release(&err);
    free(cmd);
}

/* Every command's --json output parses, line by line, whatever the input held: templates,
 * iso fetch and verify (events on stderr, the path on stdout), serve (a request line with
 * control bytes and invalid UTF-8 in it) and a failing build. */
START_TEST(test_every_json_output_of_every_command_parses)
{
    ck_assert_int_eq(run("templates", "--json", NULL), 0);
    ck_assert_uint_ge(all_json(res.out.data, "templates"), 2);

    char *dir = scratch("json", "printf 'hello\\n' > file.iso; mkdir www; echo x > www/a.txt");
    char *url = bw_xasprintf("file://%s/file.iso", dir);
    const char *sum = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    ck_assert_int_eq(run("iso", "fetch", url, "--checksum", sum, "--json", NULL), 0);
    ck_assert_uint_ge(all_json(res.err.data, "iso fetch"), 1);
    char *path = bw_xstrdup(res.out.data);
    path[strcspn(path, "\n")] = '\0';
    ck_assert_int_eq(run("iso", "verify", path, "--checksum", sum, "--json", NULL), 0);
    all_json(res.err.data, "iso verify");

    char *www = bw_xasprintf("%s/www", dir);
    char ports[32];
    unsigned p = bw_free_port(); /* a port the kernel hands out, not a guess */
    snprintf(ports, sizeof(ports), "%u", p);
    char *log = bw_xasprintf("%s/serve.log", dir);
    char *cmd = bw_xasprintf("exec %s serve %s --port %s --json > %s 2>/dev/null", BW_BINARY, www,
                             ports, log);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    struct bw_buf got = BW_BUF_INIT;
    bw_buf_init(&got);
    for (int i = 0; i < 50 && !strstr(got.data, "/a.txt"); i++) {
        usleep(100 * 1000);
        raw_http(p, "GET /a.txt HTTP/1.0\r\n\r\n", 24);
        bw_buf_reset(&got);
        bw_buf_read_file(&got, log);
    }
    static const char bad[] = "GET /\x1b[2J\xff\xfe%41 HTTP/1.0\r\n\r\n";
    raw_http(p, bad, sizeof(bad) - 1);
    usleep(300 * 1000);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    bw_buf_reset(&got);
    ck_assert_int_eq(bw_buf_read_file(&got, log), 0);
    ck_assert_uint_ge(all_json(got.data, "serve"), 2);
    ck_assert_msg(strstr(got.data, "\"path\":\"/%1B[2J%FF%FE%41\""), "%s", got.data);
    bw_buf_release(&got);

    char *out = bw_xasprintf("%s/out", dir);
    char *var = bw_xasprintf("iso_url=file://%s/missing.iso", dir);
    ck_assert_int_eq(run("build", "tiny", "--json", "--accel", "tcg", "-o", out, "--var", var,
                         "--skip-validate", NULL),
                     1);
    ck_assert_uint_ge(all_json(res.out.data, "build"), 3);
    free(var);
    free(out);
    free(cmd);
    free(log);
    free(www);
    free(path);
    free(url);
    scratch_done(dir);
}
END_TEST

/* QEMU's own reason for not starting reaches the user at once, and stays in the output
 * directory after the work directory is gone. What fails here is a stand-in for
 * qemu-system-x86_64 on PATH that refuses to start, as QEMU does on a bad option. */
START_TEST(test_a_qemu_that_will_not_start_is_reported_in_its_own_words)
{
    char *dir = scratch(
        "noqemu", "mkdir bin; printf 'not really an ISO' > x.iso; sha256sum x.iso > "
                  "x.iso.sha256; printf '#!/bin/sh\\necho \"qemu-system-x86_64: -machine q35: "
                  "stand-in refuses\" >&2\\nexit 1\\n' > bin/qemu-system-x86_64; chmod +x "
                  "bin/qemu-system-x86_64");
    char *out = bw_xasprintf("%s/out", dir);
    char *url = bw_xasprintf("iso_url=file://%s/x.iso", dir);
    char *path = bw_xasprintf("%s/bin:%s", dir, getenv("PATH"));
    char *old_path = bw_xstrdup(getenv("PATH"));
    setenv("PATH", path, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = run("build", "tiny", "--accel", "tcg", "-o", out, "--var", url, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    setenv("PATH", old_path, 1);
    ck_assert_msg(status == 1, "exit %d: %s", status, res.err.data);
    ck_assert_msg(strstr(res.err.data, "step installer") &&
                      strstr(res.err.data, "QEMU exited (status 1) while starting: "
                                           "qemu-system-x86_64: -machine q35: stand-in refuses"),
                  "%s", res.err.data);
    /* Not after the 30 s a slow QEMU is given to open its QMP socket. */
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
    char *kept = bw_xasprintf("%s/failure-qemu.log", out);
    ck_assert_msg(strstr(res.err.data, kept), "%s", res.err.data);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, kept), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "stand-in refuses"));
    bw_buf_release(&b);
    char *wk = bw_xasprintf("%s/.work", out);
    ck_assert_int_ne(access(wk, F_OK), 0);
    scratch_done(dir);
    free(wk);
    free(kept);
    free(out);
    free(url);
    free(path);
    free(old_path);
}
END_TEST

/* An image in another format than the definition says is refused before any VM boots: QEMU
 * is told the declared format, and would boot a raw file's bytes as qcow2 or the reverse. */
START_TEST(test_an_image_in_another_format_than_declared_is_refused)
{
    char *dir = scratch("format", "qemu-img create -q -f raw disk.img 4M; "
                                  "sha512sum disk.img > SHA512SUMS");
    char *out = bw_xasprintf("%s/out", dir);
    char *url = bw_xasprintf("image_url=file://%s/disk.img", dir);
    char *sums = bw_xasprintf("checksum=file:file://%s/SHA512SUMS", dir);
    int status = run("build", "debian-12-cloud", "--accel", "tcg", "-o", out, "--var", url, "--var",
                     sums, NULL);
    ck_assert_msg(status == 1, "exit %d: %s", status, res.err.data);
    ck_assert_msg(strstr(res.err.data, "debian-12-cloud/definition.json") &&
                      strstr(res.err.data, ".image.format") &&
                      strstr(res.err.data, "\"qcow2\", but the image") &&
                      strstr(res.err.data, "is raw: expected \"raw\""),
                  "%s", res.err.data);
    /* file:line:col of the value in the definition. */
    int line = 0, col = 0;
    const char *at = strstr(res.err.data, "definition.json:");
    ck_assert_int_eq(sscanf(at, "definition.json:%d:%d:", &line, &col), 2);
    ck_assert_int_gt(line, 1);
    ck_assert_int_gt(col, 1);
    ck_assert_ptr_null(strstr(res.err.data, "==> installer"));
    ck_assert_ptr_null(strstr(res.err.data, "==> boot"));
    scratch_done(dir);
    free(out);
    free(url);
    free(sums);
}
END_TEST

/* detect names the template from the ISO's volume ID (ISOs made by xorriso with the labels of
 * Debian's netinst and of the tests' installer), says what it found and what the catalogue
 * knows when none matches, and refuses a file that is no ISO; build --iso without a template
 * fails the same way before anything starts, and refuses a template that boots a disk image. */
START_TEST(test_detect_names_the_template_from_the_volume_id)
{
    char *dir =
        scratch("detect", "mkdir d; echo x > d/f; "
                          "xorriso -as mkisofs -quiet -V 'Debian 12.5.0 amd64 n' -o deb.iso d; "
                          "xorriso -as mkisofs -quiet -V BW_TEST_INSTALLER -o tiny.iso d; "
                          "xorriso -as mkisofs -quiet -V 'Debian 12.5.0 amd64 1' -o dvd.iso d; "
                          "xorriso -as mkisofs -quiet -V Rocky-9-8-x86_64-dvd -o rocky.iso d; "
                          "head -c 40000 /dev/zero > plain.iso");
    char *deb = bw_xasprintf("%s/deb.iso", dir), *tiny = bw_xasprintf("%s/tiny.iso", dir);
    char *dvd = bw_xasprintf("%s/dvd.iso", dir), *plain = bw_xasprintf("%s/plain.iso", dir);
    ck_assert_int_eq(run("detect", deb, NULL), 0);
    ck_assert_msg(strstr(res.out.data, "volume ID \"Debian 12.5.0 amd64 n\"\ndebian-12 (firmware "
                                       "bios)\n"),
                  "%s", res.out.data);
    /* Rocky's boot ISO carries its DVD's label; one template boots it under UEFI, one by BIOS */
    char *rocky = bw_xasprintf("%s/rocky.iso", dir);
    ck_assert_int_eq(run("detect", rocky, NULL), 0);
    ck_assert_msg(strstr(res.out.data, "rocky-9 (firmware efi)\nrocky-9-bios (firmware bios)\n"),
                  "%s", res.out.data);
    free(rocky);
    ck_assert_int_eq(run("detect", tiny, "--json", NULL), 0);
    ck_assert_str_eq(res.out.data, "{\"volume_id\":\"BW_TEST_INSTALLER\",\"templates\":[{\"name\":"
                                   "\"tiny\",\"firmware\":\"bios\"}]}\n");
    /* the DVD's label ends in 1, not n: no template of ours installs from it */
    ck_assert_int_eq(run("detect", dvd, NULL), 1);
    ck_assert_msg(strstr(res.err.data, "volume ID \"Debian 12.5.0 amd64 1\": no template knows it; "
                                       "expected one of: "),
                  "%s", res.err.data);
    ck_assert_msg(strstr(res.err.data, ", debian-12 /^Debian 12"), "%s", res.err.data);
    ck_assert_msg(strstr(res.err.data, "tiny /^BW_TEST_INSTALLER$/"), "%s", res.err.data);
    ck_assert_int_eq(run("detect", "--json", dvd, NULL), 1);
    ck_assert_str_eq(res.out.data, "{\"volume_id\":\"Debian 12.5.0 amd64 1\",\"templates\":[]}\n");
    ck_assert_int_eq(run("detect", plain, NULL), 1);
    ck_assert_msg(strstr(res.err.data, "plain.iso: not an ISO 9660 image: expected a Primary "
                                       "Volume Descriptor"),
                  "%s", res.err.data);
    ck_assert_int_eq(run("build", "--iso", dvd, "--output", "/nonexistent/out", NULL), 1);
    ck_assert_msg(strstr(res.err.data, "no template knows it"), "%s", res.err.data);
    ck_assert_int_eq(run("build", "debian-12-cloud", "--iso", deb, NULL), 2);
    ck_assert_msg(strstr(res.err.data, "--iso is for templates that boot an installer ISO"), "%s",
                  res.err.data);
    ck_assert_int_eq(run("detect", NULL), 2);
    free(deb);
    free(tiny);
    free(dvd);
    free(plain);
    scratch_done(dir);
}
END_TEST

/* validate warns when an answer file sends the installer to a host an isolated guest cannot
 * reach (debian-12's mirror, once its network is made isolated), and only then: not for the
 * template as shipped (NAT), nor for tiny, whose installer fetches from boxwright's server. */
START_TEST(test_validate_warns_of_hosts_an_isolated_guest_cannot_reach)
{
    char *dir = scratch("reach", "cp -r " BW_TEMPLATES "/debian-12 d; sed -i "
                                 "'s/\"network\": \"user\"/\"network\": \"isolated\"/' "
                                 "d/definition.json");
    char *def = bw_xasprintf("%s/d/definition.json", dir);
    ck_assert_int_eq(run("validate", def, NULL), 0);
    ck_assert_msg(strstr(res.err.data, "warning: ") &&
                      strstr(res.err.data, "/d/http/preseed.cfg:27: the installer is sent to "
                                           "deb.debian.org, which the isolated network cannot "
                                           "reach"),
                  "%s", res.err.data);
    ck_assert_int_eq(run("validate", def, "--var", "mirror_host=10.0.2.100", NULL), 0);
    ck_assert_msg(!strstr(res.err.data, "cannot reach"), "%s", res.err.data);
    /* a mirror the server proxies the guest to */
    char *sed = bw_xasprintf("sed -i 's/\"directory\": \"http\",/\"directory\": \"http\", "
                             "\"proxy_allow\": [\"deb.debian.org\"],/' '%s'",
                             def);
    ck_assert_int_eq(system(sed), 0);
    free(sed);
    ck_assert_int_eq(run("validate", def, NULL), 0);
    ck_assert_msg(!strstr(res.err.data, "cannot reach"), "%s", res.err.data);
    ck_assert_int_eq(run("inspect", def, NULL), 0);
    ck_assert_msg(strstr(res.out.data, "  proxy      boxwright's server ({{ .HTTPProxy }}) to "
                                       "deb.debian.org, and nothing else\n"),
                  "%s", res.out.data);
    ck_assert_int_eq(run("render", "--out", dir, def, NULL), 0);
    char *preseed = bw_xasprintf("%s/preseed.cfg", dir);
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    ck_assert_int_eq(bw_buf_read_file(&text, preseed), 0);
    ck_assert_msg(strstr(text.data, "d-i mirror/http/proxy string http://10.0.2.100:8100/\n"), "%s",
                  text.data);
    /* {{ .HTTPProxy }} follows the server's address as --var sets it */
    ck_assert_int_eq(run("render", "--out", dir, "--var", "HTTPIP=192.168.1.5", def, NULL), 0);
    bw_buf_reset(&text);
    ck_assert_int_eq(bw_buf_read_file(&text, preseed), 0);
    ck_assert_msg(strstr(text.data, "d-i mirror/http/proxy string http://192.168.1.5:8100/\n"),
                  "%s", text.data);
    bw_buf_release(&text);
    free(preseed);
    ck_assert_int_eq(run("validate", "debian-12", NULL), 0);
    ck_assert_msg(!strstr(res.err.data, "cannot reach"), "%s", res.err.data);
    ck_assert_int_eq(run("validate", "tiny", NULL), 0);
    ck_assert_msg(!strstr(res.err.data, "cannot reach"), "%s", res.err.data);
    free(def);
    scratch_done(dir);
}
END_TEST

/* windows-server-2022: the answer file renders onto the CD with every value escaped for XML (a
 * password with markup in it stays one value), passes the Autounattend checks, and its
 * namespace names are not taken for hosts an isolated guest would be sent to; a real URL in it
 * is, at the file's own path. inspect tells the communicator and the CD. */
START_TEST(test_windows_answer_cd_renders_and_validates)
{
    char *dir = scratch("win", "cp -r " BW_TEMPLATES "/windows-server-2022 w");
    char *def = bw_xasprintf("%s/w/definition.json", dir);
    ck_assert_int_eq(run("render", "--out", dir, "--var", "password=p<a&s\"s", def, NULL), 0);
    char *xml = bw_xasprintf("%s/cd/Autounattend.xml", dir);
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    ck_assert_int_eq(bw_buf_read_file(&text, xml), 0);
    ck_assert_msg(strstr(text.data, "<Value>p&lt;a&amp;s&quot;s</Value>") &&
                      !strstr(text.data, "p<a&s"),
                  "%s", text.data);
    ck_assert_msg(strstr(text.data, "<ComputerName>vagrant-2022</ComputerName>"), "%s", text.data);
    ck_assert_int_eq(run("validate", def, NULL), 0);
    ck_assert_msg(strstr(res.out.data, "checked: Autounattend.xml (XML checks)"), "%s",
                  res.out.data);
    ck_assert_msg(!strstr(res.err.data, "cannot reach"), "%s", res.err.data);
    char *sed = bw_xasprintf("sed -i 's|<TimeZone>UTC</TimeZone>|<TimeZone>UTC</TimeZone>"
                             "<!-- http://updates.example.com/kb -->|' '%s/w/answer/"
                             "Autounattend.xml'",
                             dir);
    ck_assert_int_eq(system(sed), 0);
    free(sed);
    ck_assert_int_eq(run("validate", def, NULL), 0);
    ck_assert_msg(strstr(res.err.data, "/w/answer/Autounattend.xml:") &&
                      strstr(res.err.data, "the installer is sent to updates.example.com"),
                  "%s", res.err.data);
    ck_assert_int_eq(run("inspect", def, NULL), 0);
    ck_assert_msg(strstr(res.out.data, "winrm        user vagrant, password (set), port 5985, "
                                       "HTTP, Basic, timeout 3h\n") &&
                      strstr(res.out.data, "cd           a CD labelled ANSWERS: "
                                           "answer/Autounattend.xml (rendered)\n") &&
                      strstr(res.out.data, "script scripts/provision.ps1 (PowerShell)"),
                  "%s", res.out.data);
    bw_buf_release(&text);
    free(xml);
    free(def);
    scratch_done(dir);
}
END_TEST

START_TEST(test_keys_prints_one_event_per_line_in_each_encoding)
{
    ck_assert_int_eq(run("keys", "-e", "qmp", "A<enter>", NULL), 0);
    ck_assert_str_eq(res.out.data,
                     "press shift\npress a\nrelease a\nrelease shift\npress ret\nrelease ret\n");
    ck_assert_int_eq(run("keys", "--encoding", "scancode", "<up>", NULL), 0);
    ck_assert_str_eq(res.out.data, "press e0 48\nrelease e0 c8\n");
    ck_assert_int_eq(run("keys", "<wait1m30s>", NULL), 0);
    ck_assert_str_eq(res.out.data, "wait 90000ms\n");
    ck_assert_int_eq(run("keys", "ab<entr>", NULL), 1);
    ck_assert_ptr_nonnull(strstr(res.err.data, "BOOT_COMMAND:1:3: unknown key <entr>"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("binary");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_help_lists_every_command_and_each_has_its_own);
    tcase_add_test(tc, test_usage_errors_exit_2);
    tcase_add_test(tc, test_templates_lists_the_catalogue);
    tcase_add_test(tc, test_validate_accepts_tiny_and_lists_every_error_of_a_bad_file);
    tcase_add_test(tc, test_every_template_in_the_catalogue_validates_and_renders);
    tcase_add_test(tc, test_a_template_cannot_reach_files_outside_it_through_links);
    tcase_add_test(tc, test_render_refuses_an_answer_file_named_like_its_own_output);
    tcase_add_test(tc, test_efi_without_ovmf_is_said_before_building);
    tcase_add_test(tc, test_render_writes_answer_files_and_the_exact_boot_command);
    tcase_add_test(tc, test_inspect_shows_origins_and_never_the_password);
    tcase_add_test(tc, test_inspect_says_which_path_each_driver_takes);
    tcase_add_test(tc, test_inspect_and_validate_a_cloud_image_template);
    tcase_add_test(tc, test_keys_prints_one_event_per_line_in_each_encoding);
    tcase_add_test(tc, test_a_failed_json_build_ends_with_an_error_event);
    tcase_add_test(tc, test_every_json_output_of_every_command_parses);
    tcase_add_test(tc, test_a_qemu_that_will_not_start_is_reported_in_its_own_words);
    tcase_add_test(tc, test_an_image_in_another_format_than_declared_is_refused);
    tcase_add_test(tc, test_detect_names_the_template_from_the_volume_id);
    tcase_add_test(tc, test_validate_warns_of_hosts_an_isolated_guest_cannot_reach);
    tcase_add_test(tc, test_windows_answer_cd_renders_and_validates);
    suite_add_tcase(s, tc);
    return test_run(s);
}
