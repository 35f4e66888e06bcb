/*
 * The catalogue's debian-12 template against Debian's real installer:
 *
 *   `boxwright build debian-12` from an ISO laid out like the netinst, made
 *   from the real d-i (apt package debian-installer-12-netboot-amd64: its
 *   kernel, initrd and isolinux menus), on the isolated network, with a small
 *   mirror of the installer components next to the preseed in the template's
 *   http directory. The template's own boot command is typed at d-i's boot:
 *   prompt; d-i must then fetch the preseed, take the mirror from it, and load
 *   installer components from it, with no question asked on the way (a
 *   question would stop it, and the build's stall watch would fail the test
 *   with the screen). Our machines' apt mirror serves 97 of d-i's 387 udebs,
 *   so no install can finish here: once d-i is loading components the test
 *   interrupts the build as a terminal's Ctrl-C would, and checks that the
 *   build says so and leaves nothing running.
 *
 * Under UEFI (debian-12-efi, OVMF) the same, from d-i's GRUB menu. And a
 * preseed with its mirror lines dropped: d-i stops at its mirror question,
 * and the build must fail on it at once (20 s here) with the question's text
 * (boot.questions, read from the serial console where the Debian templates
 * put d-i's dialogs), not after the stall timeout.
 *
 * With BW_E2E_DRIVER=libvirt (under tests/e2e/with-libvirtd) the same builds
 * go through libvirtd.
 */
#include "fixture.h"
#include "../unit/golden.h"
#include "../unit/standins.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char work[64];
static char *cache_env;
static bool libvirt;
static const char *lv_uri;

static void setup(void)
{
    snprintf(work, sizeof(work), "/tmp/bw-debian-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
    cache_env = bw_xasprintf("BOXWRIGHT_CACHE_DIR=%s/cache", work);
}

static pid_t mirror_pid; /* the internal mirror's web server, when one runs */

static void teardown(void)
{
    if (mirror_pid)
        bw_spawn_stop(mirror_pid, 2000);
    mirror_pid = 0;
    test_rm_rf(work);
    free(cache_env);
}

/* Installer components fetched from the mirror so far, counted from the build's events. */
struct progress {
    size_t udebs;
};

static bool loading_components(const char *line, void *ud)
{
    struct progress *p = ud;
    if (strstr(line, "\"event\":\"request\"") && strstr(line, ".udeb\"") &&
        strstr(line, "\"status\":200"))
        p->udebs++;
    return p->udebs >= 3;
}

/* Does the log have a request event for path with status? */
static bool fetched(const char *log, const char *path, int status)
{
    char *want = bw_xasprintf("\"path\":\"%s\",\"status\":%d", path, status);
    bool yes = strstr(log, want) != NULL;
    free(want);
    return yes;
}

/*
 * Builds template tmpl (debian-12: BIOS, isolinux's boot: prompt; debian-12-efi: UEFI, d-i's
 * GRUB menu under OVMF) from the netinst-like ISO until d-i loads its components, then
 * interrupts it; checks what d-i fetched and that nothing asked a question. The mirror is
 * next to the preseed on boxwright's server, or (proxied) an internal mirror on this host
 * that the isolated guest reaches only through boxwright's server as its HTTP proxy
 * (http.proxy_allow names it, and nothing else).
 */
static void d_i_run(const char *tmpl, bool efi, bool proxied)
{
    char *iso = e2e_fixture_debian_netinst();
    char *mirror = e2e_fixture_debian_mirror();
    unsigned mirror_port = 0;
    char *mirror_host = bw_xstrdup("10.0.2.100:8100");
    if (proxied) {
        /* the internal mirror: a web server of its own, http://127.0.0.1:PORT/debian/ */
        char *root = bw_xasprintf("%s/mirror-root", work);
        char *link = bw_xasprintf("%s/debian", root);
        ck_assert_int_eq(mkdir(root, 0755), 0);
        ck_assert_int_eq(symlink(mirror, link), 0);
        char *mlog = bw_xasprintf("%s/mirror.log", work);
        mirror_pid = standin_mirror(root, &mirror_port, mlog);
        free(mirror_host);
        mirror_host = bw_xasprintf("127.0.0.1:%u", mirror_port);
        free(mlog);
        free(link);
        free(root);
    }
    char *def_path;
    json_t *def = e2e_copy_template(work, tmpl, &def_path);
    /* The test guest is isolated, as every test guest is; d-i needs no route: its mirror is on
     * boxwright's server, or behind it. A question stops it; the watch fails the build when nothing
     * has moved for 5 minutes (d-i sits 1-3 minutes on a blank screen after fetching the preseed,
     * under TCG here). */
    json_object_set_new(json_object_get(def, "vm"), "network", json_string("isolated"));
    json_object_set_new(json_object_get(def, "boot"), "stall_timeout", json_string("5m"));
    if (proxied)
        json_object_set_new(json_object_get(def, "http"), "proxy_allow",
                            json_pack("[s]", mirror_host));
    /* Under OVMF the screen is a framebuffer, but the firmware mirrors its console on the
     * serial port: the build waits for GRUB's menu there, not for a clock that a loaded TCG
     * host may outrun (the template keeps Bento's fixed wait, for drivers with no serial). */
    if (efi) {
        json_t *boot = json_object_get(def, "boot");
        json_object_set_new(boot, "wait", json_string("1s"));
        json_object_set_new(boot, "wait_for", json_pack("{s:s}", "regex", "^GNU GRUB +version"));
    }
    e2e_save_json(def, def_path);
    char *http_debian = bw_xasprintf("%s/%s/http/debian", work, tmpl);
    if (!proxied) {
        char *cp[] = {"cp", "-r", mirror, http_debian, NULL};
        struct bw_spawn_result res;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(bw_spawn_run(cp, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
        bw_spawn_result_release(&res);
    }
    char *mirror_var = bw_xasprintf("mirror_host=%s", mirror_host);

    char *out = bw_xasprintf("%s/out", work);
    char *iso_var = bw_xasprintf("iso_url=file://%s", iso);
    char *sum_var = bw_xasprintf("iso_checksum=file:file://%s.sha256", iso);
    struct e2e_args a = {{NULL}, 0};
    e2e_push(&a, BW_BINARY);
    e2e_push(&a, "build");
    e2e_push(&a, def_path);
    e2e_push(&a, "--json");
    e2e_push(&a, "--output");
    e2e_push(&a, out);
    e2e_push(&a, "--var");
    e2e_push(&a, iso_var);
    e2e_push(&a, "--var");
    e2e_push(&a, sum_var);
    e2e_push(&a, "--var");
    e2e_push(&a, mirror_var);
    e2e_push(&a, "--var");
    e2e_push(&a, "mirror_directory=/debian");
    e2e_push(&a, "--var");
    e2e_push(&a, "allow_unauthenticated=true");
    if (libvirt) {
        e2e_push(&a, "--driver");
        e2e_push(&a, "libvirt");
        e2e_push(&a, "--libvirt-uri");
        e2e_push(&a, lv_uri);
    }
    struct bw_buf log = BW_BUF_INIT;
    bw_buf_init(&log);
    struct progress p = {0};
    int status = e2e_signal_when(a.v, cache_env, loading_components, &p,
                                 "d-i loading installer components from the mirror", &log, SIGINT);

    if (efi)
        /* The build saw GRUB's menu on the serial console, and the boot command edited its
         * Install entry in the framebuffer, blind... */
        ck_assert_msg(strstr(log.data, "the serial console shows /^GNU GRUB +version/") &&
                          strstr(log.data, "the screen is in graphics mode"),
                      "%s", log.data);
    else
        /* The boot command was typed at isolinux's boot: prompt and read back from the screen
         * (retyped where a loaded host lost keys)... */
        ck_assert_msg(strstr(log.data, "the screen shows /^boot:/") &&
                          strstr(log.data, "read back on the screen"),
                      "%s", log.data);
    /* ...d-i fetched the preseed, found the suite and the architecture on the mirror, and
     * read the components' index: nothing was asked of anyone on the way. Proxied, each
     * request names the mirror in full. */
    ck_assert_msg(fetched(log.data, "/preseed.cfg", 200), "no preseed fetched:\n%s", log.data);
    char *base = proxied ? bw_xasprintf("http://%s", mirror_host) : bw_xstrdup("");
    static const char *const wanted[] = {
        "/debian/dists/bookworm/Release",
        "/debian/dists/bookworm/main/binary-amd64/Release",
        "/debian/dists/bookworm/main/debian-installer/binary-amd64/Packages.xz",
    };
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        char *path = bw_xasprintf("%s%s", base, wanted[i]);
        ck_assert_msg(fetched(log.data, path, 200), "%s not fetched:\n%s", path, log.data);
        free(path);
    }
    ck_assert_uint_ge(p.udebs, 3);
    /* The suites d-i probes and the mirror lacks are warnings, each with the path (and the
     * nearest file that is there, when the mirror is boxwright's). */
    if (proxied) {
        char *w =
            bw_xasprintf("asked the proxy for %s/debian/dists/stable/Release and got 404", base);
        ck_assert_msg(strstr(log.data, w), "%s", log.data);
        ck_assert_msg(!strstr(log.data, "http.proxy_allow does not name"), "%s", log.data);
        free(w);
    } else {
        ck_assert_msg(strstr(log.data, "asked for /debian/dists/stable/Release and got 404 (the "
                                       "nearest file served: debian/dists/bookworm/Release)"),
                      "%s", log.data);
    }
    free(base);
    /* The interrupt is an interruption of the install, and nothing is left running. */
    ck_assert_msg(status == 130, "exit %d:\n%s", status, log.data);
    ck_assert_msg(strstr(log.data, "interrupted during install"), "%s", log.data);
    ck_assert_msg(e2e_processes_with(out, "qemu-system") == 0, "QEMU left running");
    char *wk = bw_xasprintf("%s/.work", out);
    ck_assert_msg(access(wk, F_OK) != 0, "work files left");
    printf("real d-i (%s): preseed, mirror%s and %zu installer components fetched, no "
           "question\n",
           tmpl, proxied ? " (an internal one, through the proxy)" : "", p.udebs);
    free(mirror_var);
    free(mirror_host);

    free(wk);
    bw_buf_release(&log);
    free(iso_var);
    free(sum_var);
    free(out);
    free(http_debian);
    free(def_path);
    free(mirror);
    free(iso);
}

START_TEST(test_real_d_i_takes_the_preseed_and_the_mirror_without_a_question)
{
    d_i_run("debian-12", false, false);
}
END_TEST

START_TEST(test_real_d_i_under_uefi_takes_the_preseed_and_the_mirror_without_a_question)
{
    d_i_run("debian-12-efi", true, true);
}
END_TEST

/*
 * A preseed that leaves a question open (its mirror lines dropped): d-i fetches the preseed,
 * then stops at a critical dialog about the mirror. The build must fail on that question once
 * it has stood 20 s (boot.questions, boot.question_timeout), quoting its title and text from the
 * serial console where d-i draws its dialogs, long before the stall timeout; nothing is left.
 */
START_TEST(test_a_question_the_preseed_leaves_open_fails_the_build_with_its_text)
{
    char *iso = e2e_fixture_debian_netinst();
    char *def_path;
    json_t *def = e2e_copy_template(work, "debian-12", &def_path);
    json_object_set_new(json_object_get(def, "vm"), "network", json_string("isolated"));
    /* the template's minute, shortened: this is CI's time */
    json_object_set_new(json_object_get(def, "boot"), "question_timeout", json_string("20s"));
    e2e_save_json(def, def_path);
    char *preseed = bw_xasprintf("%s/debian-12/http/preseed.cfg", work);
    char *sed = bw_xasprintf("sed -i '/mirror\\//d' '%s'", preseed);
    ck_assert_int_eq(system(sed), 0);
    char *out = bw_xasprintf("%s/out", work);
    char *iso_var = bw_xasprintf("iso_url=file://%s", iso);
    char *sum_var = bw_xasprintf("iso_checksum=file:file://%s.sha256", iso);
    struct e2e_args a = {{NULL}, 0};
    e2e_push(&a, BW_BINARY);
    e2e_push(&a, "build");
    e2e_push(&a, def_path);
    e2e_push(&a, "--json");
    e2e_push(&a, "--output");
    e2e_push(&a, out);
    e2e_push(&a, "--var");
    e2e_push(&a, iso_var);
    e2e_push(&a, "--var");
    e2e_push(&a, sum_var);
    if (libvirt) {
        e2e_push(&a, "--driver");
        e2e_push(&a, "libvirt");
        e2e_push(&a, "--libvirt-uri");
        e2e_push(&a, lv_uri);
    }
    struct bw_spawn_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = e2e_run(a.v, cache_env, &res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec);
    ck_assert_msg(status == 1, "exit %d:\n%s", status, res.err.data);
    /* The BIOS boot command was typed at isolinux's boot: prompt and read back, and d-i took
     * the preseed... */
    ck_assert_msg(strstr(res.out.data, "the screen shows /^boot:/") &&
                      strstr(res.out.data, "read back on the screen"),
                  "%s", res.out.data);
    ck_assert_msg(fetched(res.out.data, "/preseed.cfg", 200), "no preseed:\n%s", res.out.data);
    /* ...then stopped at its mirror question, which the build names with its text. */
    ck_assert_msg(strstr(res.err.data, "the installer asks \"[!!] ") &&
                      strstr(res.err.data, "a question the answer file leaves open") &&
                      strstr(res.err.data, "the serial console shows:"),
                  "%s", res.err.data);
    /* well before the 10 minutes the template gives a stall */
    ck_assert_msg(took < 600, "took %.0f s:\n%s", took, res.err.data);
    ck_assert_msg(e2e_processes_with(out, "qemu-system") == 0, "QEMU left running");
    const char *q = strstr(res.err.data, "the installer asks");
    printf("d-i's question, in %.0f s: %.*s\n", took, (int)strcspn(q, "\n"), q);
    bw_spawn_result_release(&res);
    free(iso_var);
    free(sum_var);
    free(out);
    free(sed);
    free(preseed);
    free(def_path);
    free(iso);
}
END_TEST

int main(void)
{
    int skip = e2e_environment(&libvirt, &lv_uri);
    if (skip)
        return skip;
    Suite *s = suite_create(libvirt ? "e2e-debian-libvirt" : "e2e-debian");
    TCase *tc = tcase_create(libvirt ? "libvirt" : "qemu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1100);
    /* CI runs two real d-i builds, one per firmware: UEFI to the mirror's components, BIOS to
     * a question (its boot command and the preseed fetch checked on the way), as two ctest
     * tests side by side (tests/CMakeLists.txt names each by BW_DEBIAN_TEST, a part of a test's
     * name). The BIOS build to the components runs when asked for by name. */
    const struct {
        const TTest *test;
        bool always;
    } tests[] = {
        {test_real_d_i_takes_the_preseed_and_the_mirror_without_a_question, false},
        {test_real_d_i_under_uefi_takes_the_preseed_and_the_mirror_without_a_question, true},
        {test_a_question_the_preseed_leaves_open_fails_the_build_with_its_text, true},
    };
    const char *only = getenv("BW_DEBIAN_TEST");
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (only ? strstr(tests[i].test->name, only) != NULL : tests[i].always)
            tcase_add_test(tc, tests[i].test);
    suite_add_tcase(s, tc);
    return test_run(s);
}
