/* cloud-init seeds: rendering, the cidata volume, its lint, and files read out of an ISO. */
#include "golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/core/definition.h"
#include "../../builder/core/prepare.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/seed/agama.h"
#include "../../builder/seed/autoinstall.h"
#include "../../builder/seed/kickstart.h"
#include "../../builder/seed/lint.h"
#include "../../builder/disk/iso.h"
#include "../../builder/seed/seed.h"
#include "../../builder/seed/xmlanswer.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *scratch(void)
{
    char tmpl[] = "/tmp/bw-seed-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return bw_xstrdup(tmpl);
}

static void add_file(struct bw_rendered *r, const char *name, const char *data, size_t len)
{
    BW_GROW(r->v, r->alloc, r->n + 1);
    struct bw_rendered_file *f = &r->v[r->n++];
    memset(f, 0, sizeof(*f));
    f->name = bw_xstrdup(name);
    bw_buf_init(&f->data);
    bw_buf_add(&f->data, data, len);
    bw_buf_init(&f->shown); /* nothing sensitive in it: shown as it is */
    bw_buf_add(&f->shown, data, len);
}

/* Runs argv; returns its stdout (caller frees); fails the test on a non-zero exit. */
static char *run_out(char *const argv[])
{
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
    ck_assert_msg(rc == 0, "%s: %s", argv[0], err.msg);
    char *out = bw_buf_detach(&res.out);
    bw_spawn_result_release(&res);
    return out;
}

static struct bw_definition *seeds_definition(void)
{
    char *path = bw_xasprintf("%s/seeds/definition.json", golden_data_dir());
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load(path, &errs);
    ck_assert_msg(def != NULL, "%s", errs.n ? errs.v[0].msg : "?");
    free(path);
    return def;
}

START_TEST(test_rendered_seeds_match_golden_files)
{
    struct bw_definition *def = seeds_definition();
    struct bw_rendered seeds = BW_RENDERED_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    ck_assert_uint_eq(bw_prepare_seed(def, "iid-test-1", &seeds, &errs), 0);
    /* user-data and network-config rendered, meta-data generated, vendor-data empty. */
    static const char *const names[] = {"user-data", "meta-data", "vendor-data", "network-config"};
    ck_assert_uint_eq(seeds.n, 4);
    for (size_t i = 0; i < seeds.n; i++) {
        ck_assert_str_eq(seeds.v[i].name, names[i]);
        char *golden = bw_xasprintf("%s.out", names[i]);
        char *msg = golden_check("seeds", golden, seeds.v[i].data.data, seeds.v[i].data.len);
        ck_assert_msg(msg == NULL, "%s", msg);
        free(golden);
    }
    ck_assert_uint_eq(seeds.v[2].data.len, 0);
    bool schema;
    ck_assert_uint_eq(bw_seed_lint(def, &seeds, &schema, &errs), 0);
    bw_rendered_release(&seeds);
    bw_errors_release(&errs);
    bw_definition_free(def);
}
END_TEST

/* The volume as cloud-init finds it (blkid's label) and as two other readers see it. */
START_TEST(test_cidata_volume_reads_back_with_label_and_bytes)
{
    char *dir = scratch();
    char *iso = bw_xasprintf("%s/seed.iso", dir);
    struct bw_rendered files = BW_RENDERED_INIT;
    const char *ud = "#cloud-config\nhostname: from-the-cd\n";
    const char *md = "instance-id: iid-cd-1\nlocal-hostname: from-the-cd\n";
    char big[70000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    add_file(&files, "user-data", ud, strlen(ud));
    add_file(&files, "meta-data", md, strlen(md));
    add_file(&files, "vendor-data", "", 0);
    add_file(&files, "network-config", big, sizeof(big));
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_seed_volume_write(iso, "cidata", &files, &err) == 0, "%s", err.msg);
    char *part = bw_xasprintf("%s.part", iso);
    ck_assert_int_ne(access(part, F_OK), 0);

    /* blkid: what cloud-init's NoCloud uses to find the volume. */
    char *blkid[] = {"blkid", "-o", "value", "-s", "LABEL", iso, NULL};
    char *label = run_out(blkid);
    ck_assert_str_eq(label, "cidata\n");
    char *type[] = {"blkid", "-o", "value", "-s", "TYPE", iso, NULL};
    char *fstype = run_out(type);
    ck_assert_str_eq(fstype, "iso9660\n");

    /* libarchive reads the same names and bytes back. */
    struct archive *a = archive_read_new();
    archive_read_support_format_iso9660(a);
    ck_assert_int_eq(archive_read_open_filename(a, iso, 10240), ARCHIVE_OK);
    struct archive_entry *e;
    size_t seen = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        for (size_t i = 0; i < files.n; i++) {
            if (strcmp(archive_entry_pathname(e), files.v[i].name) != 0)
                continue;
            seen++;
            ck_assert_int_eq(archive_entry_size(e), (la_int64_t)files.v[i].data.len);
            char *buf = bw_xmalloc(files.v[i].data.len + 1);
            la_ssize_t n = archive_read_data(a, buf, files.v[i].data.len + 1);
            ck_assert_int_eq(n, (la_ssize_t)files.v[i].data.len);
            ck_assert(memcmp(buf, files.v[i].data.data, files.v[i].data.len) == 0);
            free(buf);
        }
    }
    ck_assert_uint_eq(seen, 4);
    archive_read_free(a);

    /* xorriso: the primary volume id (ISO 9660 allows only upper case there; blkid above read
     * the Joliet label, which keeps the case), and a file extracted byte for byte. */
    char *pvd[] = {"xorriso", "-indev", iso, "-pvd_info", NULL};
    char *info = run_out(pvd);
    ck_assert_msg(strstr(info, "Volume Id    : CIDATA") != NULL, "%s", info);
    char *out = bw_xasprintf("%s/user-data.out", dir);
    char *extract[] = {"xorriso",  "-osirrox",   "on", "-indev", iso,
                       "-extract", "/user-data", out,  NULL};
    free(run_out(extract));
    struct bw_buf got = BW_BUF_INIT;
    bw_buf_init(&got);
    ck_assert_int_eq(bw_buf_read_file(&got, out), 0);
    ck_assert_str_eq(got.data, ud);
    bw_buf_release(&got);

    /* CIDATA is written as given (cloud-init accepts either case). */
    ck_assert_msg(bw_seed_volume_write(iso, "CIDATA", &files, &err) == 0, "%s", err.msg);
    char *upper = run_out(blkid);
    ck_assert_str_eq(upper, "CIDATA\n");

    free(upper);
    free(out);
    free(info);
    free(fstype);
    free(label);
    free(part);
    bw_rendered_release(&files);
    test_rm_rf(dir);
    free(iso);
    free(dir);
}
END_TEST

START_TEST(test_cidata_volume_error_names_the_path)
{
    struct bw_rendered files = BW_RENDERED_INIT;
    add_file(&files, "user-data", "#cloud-config\n", 14);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_lt(bw_seed_volume_write("/nonexistent-dir/seed.iso", "cidata", &files, &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent-dir/seed.iso") != NULL, "%s", err.msg);
    bw_error_release(&err);
    bw_rendered_release(&files);
}
END_TEST

/* Kernel and initrd out of an ISO (made with xorriso, as distros make theirs). */
START_TEST(test_kernel_and_initrd_extracted_from_an_iso)
{
    char *dir = scratch();
    char *tree = bw_xasprintf("%s/tree/install.amd", dir);
    char *mk[] = {"mkdir", "-p", tree, NULL};
    free(run_out(mk));
    char *kernel = bw_xasprintf("%s/vmlinuz", tree);
    char *initrd = bw_xasprintf("%s/initrd.gz", tree);
    FILE *f = fopen(kernel, "wb");
    for (int i = 0; i < 300000; i++)
        fputc((int)(((unsigned)i * 7919u) & 0xffu), f);
    fclose(f);
    f = fopen(initrd, "wb");
    fputs("an initrd", f);
    fclose(f);
    char *iso = bw_xasprintf("%s/installer.iso", dir);
    char *root = bw_xasprintf("%s/tree", dir);
    char *mkiso[] = {"xorriso", "-as",       "mkisofs", "-quiet", "-R", "-J",
                     "-V",      "INSTALLER", "-o",      iso,      root, NULL};
    free(run_out(mkiso));

    char *k = bw_xasprintf("%s/kernel", dir), *i = bw_xasprintf("%s/initrd", dir);
    const char *inside[] = {"/install.amd/vmlinuz", "install.amd/initrd.gz"};
    const char *out[] = {k, i};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_iso_extract(iso, inside, out, 2, &err) == 0, "%s", err.msg);
    char *cmp1[] = {"cmp", kernel, k, NULL};
    char *cmp2[] = {"cmp", initrd, i, NULL};
    free(run_out(cmp1));
    free(run_out(cmp2));

    /* A path that is not there: the error names it and the ISO, and nothing is left. */
    const char *missing[] = {"/install.amd/vmlinuz", "/casper/initrd"};
    unlink(k);
    ck_assert_int_lt(bw_iso_extract(iso, missing, out, 2, &err), 0);
    char *msg = bw_error_format(&err);
    ck_assert_msg(strstr(msg, "/casper/initrd") && strstr(msg, iso), "%s", msg);
    free(msg);
    bw_error_release(&err);

    free(k);
    free(i);
    free(root);
    free(iso);
    free(kernel);
    free(initrd);
    free(tree);
    test_rm_rf(dir);
    free(dir);
}
END_TEST

/* Lint of a user-data file: the position of a YAML error, and the #cloud-config header. */
static size_t lint_text(const char *text, struct bw_errors *errs, bool *schema)
{
    char *dir = scratch();
    char *path = bw_xasprintf("%s/user-data", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    struct bw_definition def;
    memset(&def, 0, sizeof(def));
    def.dir = dir;
    def.cloud_init.user_data = "user-data"; /* relative to the definition, as always */
    struct bw_rendered seeds = BW_RENDERED_INIT;
    add_file(&seeds, "user-data", text, strlen(text));
    size_t n = bw_seed_lint(&def, &seeds, schema, errs);
    bw_rendered_release(&seeds);
    test_rm_rf(dir);
    free(path);
    free(dir);
    return n;
}

START_TEST(test_lint_names_line_and_column_and_the_header)
{
    struct bw_errors errs = BW_ERRORS_INIT;
    bool schema;
    ck_assert_uint_eq(lint_text("#cloud-config\nusers:\n  - name: a\n   bad: [\n", &errs, &schema),
                      1);
    char *s = bw_error_format(&errs.v[0]);
    ck_assert_msg(strstr(s, "user-data (rendered):4:4: YAML: did not find expected '-' indicator"),
                  "%s", s);
    free(s);
    bw_errors_release(&errs);

    ck_assert_uint_eq(lint_text("hostname: x\n", &errs, &schema), 1);
    s = bw_error_format(&errs.v[0]);
    ck_assert_msg(strstr(s, ":1:1: user-data does not start with \"#cloud-config\""), "%s", s);
    free(s);
    bw_errors_release(&errs);

    /* A script is user-data too, and is not YAML. */
    ck_assert_uint_eq(lint_text("#!/bin/sh\necho: [\n", &errs, &schema), 0);
}
END_TEST

/* With cloud-init installed, its schema rejects what YAML alone accepts. */
START_TEST(test_lint_uses_cloud_inits_schema_when_installed)
{
    if (access("/usr/bin/cloud-init", X_OK) != 0) {
        printf("cloud-init not installed: schema test skipped\n");
        return;
    }
    struct bw_errors errs = BW_ERRORS_INIT;
    bool schema = false;
    ck_assert_uint_eq(lint_text("#cloud-config\nruncmd: not-a-list\n", &errs, &schema), 1);
    ck_assert(schema);
    char *s = bw_error_format(&errs.v[0]);
    ck_assert_msg(strstr(s, "cloud-init schema") && strstr(s, "runcmd"), "%s", s);
    free(s);
    bw_errors_release(&errs);
    ck_assert_uint_eq(lint_text("#cloud-config\nruncmd: [\"true\"]\n", &errs, &schema), 0);
    ck_assert(schema);
}
END_TEST

/* cloud-init quotes the value it rejects: where that value came from a sensitive variable, the
 * error shows the file as it may be shown ("<sensitive>"), not the secret. */
START_TEST(test_schema_errors_do_not_quote_a_secret)
{
    if (access("/usr/bin/cloud-init", X_OK) != 0) {
        printf("cloud-init not installed: schema test skipped\n");
        return;
    }
    char *dir = scratch();
    struct bw_definition def;
    memset(&def, 0, sizeof(def));
    def.dir = dir;
    def.cloud_init.user_data = "user-data";
    struct bw_rendered seeds = BW_RENDERED_INIT;
    const char *real = "#cloud-config\npackage_upgrade: Sup3rS3cretPW\n";
    add_file(&seeds, "user-data", real, strlen(real));
    bw_buf_reset(&seeds.v[0].shown);
    bw_buf_adds(&seeds.v[0].shown, "#cloud-config\npackage_upgrade: <sensitive>\n");
    struct bw_errors errs = BW_ERRORS_INIT;
    bool schema = false;
    ck_assert_uint_eq(bw_seed_lint(&def, &seeds, &schema, &errs), 1);
    char *s = bw_error_format(&errs.v[0]);
    ck_assert_msg(strstr(s, "package_upgrade") && !strstr(s, "Sup3r"), "%s", s);
    free(s);
    bw_errors_release(&errs);
    bw_rendered_release(&seeds);
    test_rm_rf(dir);
    free(dir);
}
END_TEST

/* Lints one answer file named name (secret: the value shown as "<sensitive>"); the errors each
 * formatted on a line into *out, and what was checked into *checked (both caller frees). */
static size_t answer_lint(const char *name, const char *text, const char *secret, char **out,
                          char **checked)
{
    struct bw_definition def;
    memset(&def, 0, sizeof(def));
    def.dir = "/tpl";
    def.http.directory = "http";
    struct bw_rendered files = BW_RENDERED_INIT;
    add_file(&files, name, text, strlen(text));
    if (secret) {
        /* the shown copy: every occurrence of the secret replaced */
        struct bw_buf *sh = &files.v[0].shown;
        bw_buf_reset(sh);
        size_t sl = strlen(secret);
        for (const char *p = text; *p;) {
            const char *hit = strstr(p, secret);
            if (!hit) {
                bw_buf_adds(sh, p);
                break;
            }
            bw_buf_add(sh, p, (size_t)(hit - p));
            bw_buf_adds(sh, "<sensitive>");
            p = hit + sl;
        }
    }
    struct bw_buf ok = BW_BUF_INIT, missing = BW_BUF_INIT, all = BW_BUF_INIT;
    bw_buf_init(&ok);
    bw_buf_init(&missing);
    bw_buf_init(&all);
    struct bw_errors errs = BW_ERRORS_INIT;
    size_t n = bw_answer_lint(&def, &files, &ok, &missing, &errs);
    ck_assert_uint_eq(n, errs.n);
    for (size_t i = 0; i < errs.n; i++) {
        char *e = bw_error_format(&errs.v[i]);
        bw_buf_addf(&all, "%s\n", e);
        free(e);
    }
    ck_assert_msg(missing.len == 0, "tool missing: %s", missing.data);
    *out = bw_xstrdup(all.data);
    *checked = bw_xstrdup(ok.data);
    bw_buf_release(&ok);
    bw_buf_release(&missing);
    bw_buf_release(&all);
    bw_errors_release(&errs);
    bw_rendered_release(&files);
    return n;
}

/* A preseed goes through debconf-set-selections: a line it cannot parse and a type it does not
 * know (d-i would skip the line in silence) are errors at their lines; a secret on such a line
 * is not quoted; a correct preseed passes and is named as checked. */
START_TEST(test_preseed_lint_names_the_line_and_keeps_secrets)
{
    char *out, *checked;
    ck_assert_uint_eq(answer_lint("preseed.cfg",
                                  "d-i debian-installer/locale string en_US.UTF-8\n"
                                  "d-i netcfg/get_domain\n"
                                  "d-i time/zone strin UTC\n"
                                  "d-i passwd/user-password Sup3rS3cretPW x\n"
                                  "d-i passwd/user-password-again password Sup3rS3cretPW\n",
                                  "Sup3rS3cretPW", &out, &checked),
                      3);
    ck_assert_msg(strstr(out, "/tpl/http/preseed.cfg (rendered):2:1: preseed: cannot parse this "
                              "line: expected \"OWNER QUESTION TYPE VALUE\""),
                  "%s", out);
    ck_assert_msg(strstr(out, "preseed.cfg (rendered):3:1: preseed: unknown type \"strin\""), "%s",
                  out);
    ck_assert_msg(strstr(out, "preseed.cfg (rendered):4:1: preseed: unknown type (not shown"), "%s",
                  out);
    ck_assert_msg(!strstr(out, "Sup3r"), "%s", out);
    ck_assert_str_eq(checked, "preseed.cfg (debconf-set-selections)");
    free(out);
    free(checked);

    ck_assert_uint_eq(answer_lint("debian/preseed.cfg",
                                  "# comment\n#_preseed_V1\nd-i a/b string \\\n  continued\n"
                                  "d-i passwd/root-login boolean false\n",
                                  NULL, &out, &checked),
                      0);
    ck_assert_str_eq(checked, "debian/preseed.cfg (debconf-set-selections)");
    free(out);
    free(checked);

    /* Other names are not taken for preseeds. */
    ck_assert_uint_eq(answer_lint("answer.cfg", "not a preseed at all\n", NULL, &out, &checked), 0);
    ck_assert_str_eq(checked, "");
    free(out);
    free(checked);
}
END_TEST

/* XML answer files must be well formed; the message is libxml2's, at its line and column, and
 * never quotes a line with a secret on it. */
START_TEST(test_xml_answer_files_must_be_well_formed)
{
    char *out, *checked;
    ck_assert_uint_eq(answer_lint("autoinst.xml", "<?xml version=\"1.0\"?>\n<profile>\n<a></b>\n",
                                  NULL, &out, &checked),
                      2);
    ck_assert_msg(strstr(out, "autoinst.xml (rendered):3:8: XML: Opening and ending tag mismatch: "
                              "a line 3 and b: expected well-formed XML"),
                  "%s", out);
    ck_assert_str_eq(checked, "autoinst.xml (XML checks)");
    free(out);
    free(checked);
    ck_assert_uint_eq(answer_lint("answers.xml", "<answers><pw>Sup3rS3cretPW</pw></answers>\n",
                                  "Sup3rS3cretPW", &out, &checked),
                      0);
    free(out);
    free(checked);
    ck_assert_uint_eq(answer_lint("Autounattend.xml",
                                  "<unattend><pw>Sup3rS3cretPW</p></unattend>\n", "Sup3rS3cretPW",
                                  &out, &checked),
                      1);
    ck_assert_msg(strstr(out, ":1:32: XML: not well formed (the words are not shown") &&
                      !strstr(out, "Sup3r"),
                  "%s", out);
    free(out);
    free(checked);
}
END_TEST

/* A checker of one file's text: appends errors, returns their count. */
typedef size_t (*text_check)(const char *file, const char *text, size_t len,
                             struct bw_errors *errs);

/*
 * Every tests/data/SUB/NAME.SUFFIX through check, each against its golden errors (NAME.err);
 * the files named in `clean` (a NULL-terminated list) must pass, every other must fail. Returns
 * how many files were checked.
 */
static size_t golden_checks(const char *sub, const char *suffix, text_check check,
                            const char *const *clean)
{
    char **names = golden_list(sub, suffix);
    size_t n = 0;
    for (char **p = names; *p; p++, n++) {
        char *path = bw_xasprintf("%s/%s/%s", golden_data_dir(), sub, *p);
        struct bw_buf text = BW_BUF_INIT, all = BW_BUF_INIT;
        bw_buf_init(&text);
        bw_buf_init(&all);
        ck_assert_int_eq(bw_buf_read_file(&text, path), 0);
        struct bw_errors errs = BW_ERRORS_INIT;
        ck_assert_uint_eq(check(*p, text.data, text.len, &errs), errs.n);
        for (size_t i = 0; i < errs.n; i++) {
            char *e = bw_error_format(&errs.v[i]);
            bw_buf_addf(&all, "%s\n", e);
            free(e);
        }
        char *golden = golden_swap_suffix(*p, suffix, ".err");
        char *msg = golden_check(sub, golden, all.data, all.len);
        ck_assert_msg(msg == NULL, "%s", msg);
        bool should_pass = false;
        for (const char *const *c = clean; *c; c++)
            should_pass = should_pass || strcmp(*p, *c) == 0;
        ck_assert_msg(should_pass == !errs.n, "%s: %s", *p, all.data);
        free(golden);
        bw_errors_release(&errs);
        bw_buf_release(&text);
        bw_buf_release(&all);
        free(path);
    }
    golden_list_free(names);
    return n;
}

static size_t xml_answer(const char *file, const char *text, size_t len, struct bw_errors *errs)
{
    return bw_xml_answer_check(file, text, len, NULL, NULL, NULL, errs);
}

/*
 * XML answer files (tests/data/xml/NAME.xml) through boxwright's XML checks, each against its
 * golden errors (NAME.err): the catalogue's AutoYaST profile, a clean Autounattend and any other
 * well-formed XML pass; Bento's Leap 15 profile reboots (a build would wait out its timeout);
 * the rest break YaST's types, namespaces, XML itself, or leave out what an unattended build
 * needs. An entity bomb and an external entity are neither expanded nor read.
 */
START_TEST(test_xml_answer_checks_match_golden_errors)
{
    static const char *const clean[] = {"leap-15.xml", "other.xml", "unattend.xml", NULL};
    ck_assert_uint_ge(golden_checks("xml", ".xml", xml_answer, clean), 10);
}
END_TEST

static size_t agama(const char *file, const char *text, size_t len, struct bw_errors *errs)
{
    return bw_agama_check(file, text, len, errs);
}

/*
 * Agama profiles (tests/data/agama/NAME.json) through boxwright's Agama checks, each against its
 * golden errors (NAME.err): the catalogue's and Bento's pass; one without product or login, one
 * with wrong types and scripts, duplicate keys, broken JSON and a root that is not an object
 * do not.
 */
START_TEST(test_agama_checks_match_golden_errors)
{
    static const char *const clean[] = {"leap-16.json", "bento-leap-16.json", NULL};
    ck_assert_uint_ge(golden_checks("agama", ".json", agama, clean), 7);
}
END_TEST

static size_t kickstart(const char *file, const char *text, size_t len, struct bw_errors *errs)
{
    return bw_kickstart_check(file, text, len, NULL, NULL, errs);
}

/*
 * Kickstarts (tests/data/kickstart/NAME.ks) through boxwright's kickstart checks, each against
 * its golden errors (NAME.err): the catalogue's kind passes; Bento's reboots (a build would wait
 * on it) and carries a removed command; and every rule, at its line and column.
 */
START_TEST(test_kickstart_checks_match_golden_errors)
{
    static const char *const clean[] = {"good.ks", "included.ks", NULL};
    ck_assert_uint_ge(golden_checks("kickstart", ".ks", kickstart, clean), 6);
}
END_TEST

/* In a template a kickstart is found by its name and checked in-process; a secret on a line
 * in error is never quoted. */
START_TEST(test_kickstart_lint_by_name_keeps_secrets)
{
    char *out, *checked;
    ck_assert_uint_eq(answer_lint("rhel/ks.cfg",
                                  "lang en_US.UTF-8\nkeyboard us\ntimezone UTC\n"
                                  "rootpw --plaintext Sup3rS3cretPW\nautopart\npoweroff\n"
                                  "Sup3rS3cretPW --x\n%Sup3rS3cretPW\n",
                                  "Sup3rS3cretPW", &out, &checked),
                      2);
    ck_assert_msg(strstr(out, "/tpl/http/rhel/ks.cfg (rendered):7:1: kickstart: unknown command "
                              "(not shown"),
                  "%s", out);
    ck_assert_msg(strstr(out, "ks.cfg (rendered):8:1: kickstart: unknown section: expected"), "%s",
                  out);
    ck_assert_msg(!strstr(out, "Sup3r"), "%s", out);
    ck_assert_str_eq(checked, "rhel/ks.cfg (kickstart checks)");
    free(out);
    free(checked);
    ck_assert_uint_eq(answer_lint("fedora.ks", "%post\n", NULL, &out, &checked), 7);
    ck_assert_msg(strstr(out, "fedora.ks (rendered):1:1: kickstart: %post is never closed"), "%s",
                  out);
    free(out);
    free(checked);
    ck_assert_uint_eq(answer_lint("locks.cfg", "not a kickstart\n", NULL, &out, &checked), 0);
    ck_assert_str_eq(checked, "");
    free(out);
    free(checked);
}
END_TEST

/*
 * Ubuntu autoinstall user-data (tests/data/autoinstall/NAME.yaml) through boxwright's checks,
 * each against its golden errors (NAME.err): the catalogue's kind and a plain cloud-config pass;
 * Bento's reboots (a build would wait on it); every rule, at its line and column.
 */
/* A word that would drive the terminal (an escape sequence, a carriage return) is quoted
 * harmless: every error message has its control bytes replaced. */
START_TEST(test_an_error_never_carries_terminal_escapes)
{
    static const char text[] = "\033[2J\033]0;owned\007boom\rx\n";
    struct bw_errors errs = BW_ERRORS_INIT;
    bw_kickstart_check("f.ks", text, sizeof(text) - 1, NULL, NULL, &errs);
    ck_assert_uint_ge(errs.n, 1);
    char *e = bw_error_format(&errs.v[0]);
    ck_assert_msg(strstr(e, "unknown command \"?[2J?]0;owned?boom\""), "%s", e);
    for (const char *p = e; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 || *p == '\n', "byte %d in %s", *p, e);
    free(e);
    bw_errors_release(&errs);
}
END_TEST

/* A FreeBSD installerconfig: both parts through sh -n, each error at its line of the whole
 * file; the setup script must power off (Bento's reboots). */
START_TEST(test_installerconfig_parts_through_sh_and_a_power_off)
{
    char *out, *checked;
    ck_assert_uint_eq(
        answer_lint("freebsd/installerconfig",
                    "DISTRIBUTIONS=\"base.txz kernel.txz\"\nexport nonInteractive=YES\n"
                    "#!/bin/sh\nsysrc sshd_enable=YES\nif true; then :; fi\npoweroff\n",
                    NULL, &out, &checked),
        0);
    ck_assert_str_eq(checked, "freebsd/installerconfig (sh -n)");
    free(out);
    free(checked);
    ck_assert_uint_eq(answer_lint("installerconfig",
                                  "A=1\nif [ -e /dev/ada0 ]; then D=ada0\n"
                                  "#!/bin/sh\necho ok\nwhile true; do\nreboot\n",
                                  NULL, &out, &checked),
                      3);
    ck_assert_msg(strstr(out, "/tpl/http/installerconfig (rendered):3:1: installerconfig: "
                              "preamble: Syntax error: end of file unexpected (expecting \"fi\"): "
                              "expected valid sh (sh -n)"),
                  "%s", out);
    ck_assert_msg(strstr(out, "installerconfig (rendered):7:1: installerconfig: setup script: "
                              "Syntax error: end of file unexpected (expecting \"done\")"),
                  "%s", out);
    ck_assert_msg(strstr(out, "installerconfig (rendered):3:1: installerconfig: the setup script "
                              "never powers off"),
                  "%s", out);
    free(out);
    free(checked);
    ck_assert_uint_eq(answer_lint("installerconfig", "A=1\n", NULL, &out, &checked), 1);
    ck_assert_msg(strstr(out, "installerconfig: no setup script"), "%s", out);
    free(out);
    free(checked);
}
END_TEST

/* An autoinstall check that also holds the file to whether it should be an autoinstall. */
static size_t autoinstall(const char *file, const char *text, size_t len, struct bw_errors *errs)
{
    bool is;
    size_t n = bw_autoinstall_check(file, text, len, NULL, NULL, &is, errs);
    bool plain = strcmp(file, "plain.yaml") == 0 || strcmp(file, "bad-yaml.yaml") == 0 ||
                 strcmp(file, "no-header.yaml") == 0;
    ck_assert_msg(is == !plain, "%s: autoinstall %d", file, is);
    return n;
}

/*
 * Ubuntu autoinstall user-data (tests/data/autoinstall/NAME.yaml) through boxwright's checks,
 * each against its golden errors (NAME.err): the catalogue's kind and a plain cloud-config pass;
 * Bento's reboots (a build would wait on it); every rule, at its line and column.
 */
START_TEST(test_autoinstall_checks_match_golden_errors)
{
    static const char *const clean[] = {"good.yaml", "plain.yaml", NULL};
    ck_assert_uint_ge(golden_checks("autoinstall", ".yaml", autoinstall, clean), 7);
}
END_TEST

/* In a template, http/user-data is an autoinstall, checked by boxwright and then by cloud-init's
 * schema; a secret in an unknown key's line is not quoted. */
START_TEST(test_autoinstall_lint_by_name_keeps_secrets)
{
    char *out, *checked;
    ck_assert_uint_eq(answer_lint("ubuntu/user-data",
                                  "#cloud-config\nautoinstall:\n  version: 1\n  identity:\n"
                                  "    hostname: h\n    username: u\n    password: x\n"
                                  "  Sup3rS3cretPW: 1\n  shutdown: poweroff\n",
                                  "Sup3rS3cretPW", &out, &checked),
                      1);
    ck_assert_msg(strstr(out, "/tpl/http/ubuntu/user-data (rendered):8:3: autoinstall: "
                              "autoinstall has a key it does not know"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "Sup3r"), "%s", out);
    ck_assert_str_eq(checked, "ubuntu/user-data (autoinstall checks)");
    free(out);
    free(checked);
}
END_TEST

/* What a build says when SSH never came, from real serial consoles of the tests' Debian cloud
 * stand-in (tests/data/consoles): the seed on a CD-ROM its cloud kernel cannot see
 * (DataSourceNone), the same boot cut before cloud-init started (as a guest shows it whose
 * cloud-init is disabled), a first boot that went to its end; and an empty console. */
START_TEST(test_the_serial_console_says_what_cloud_init_did)
{
    static const struct {
        const char *file;
        int fetches;
        const char *says;
    } cases[] = {
        {"cloud-init-no-seed.log", -1,
         "cloud-init ran but found no seed: \"Cloud-init v. 22.4.2 finished at Tue, 01 Dec 2026 "
         "23:41:09 +0000. Datasource DataSourceNone.  Up 106.48 seconds\""},
        {"no-cloud-init.log", -1,
         "cloud-init never ran: no \"Cloud-init v.\" line on the serial console (ds-identify "
         "found no datasource? the guest's kernel must see the volume labelled cidata"},
        {"no-cloud-init.log", 0, "and the guest never fetched user-data"},
        {"no-cloud-init.log", 2, "the guest fetched user-data 2 times, but no"},
        {"cloud-init-finished.log", 1,
         "cloud-init ran to its end (\"Cloud-init v. 22.4.2 finished at"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *text = golden_read("consoles", cases[i].file, &len);
        char *said = bw_seed_diagnose(text, len, cases[i].fetches);
        ck_assert_msg(strstr(said, cases[i].says), "%s (%d): %s", cases[i].file, cases[i].fetches,
                      said);
        free(said);
        free(text);
    }
    /* the first boot cut before its end: cloud-init's last word is its 'modules:final' */
    size_t len;
    char *text = golden_read("consoles", "cloud-init-finished.log", &len);
    char *end = strstr(text, "Cloud-init v. 22.4.2 finished at");
    ck_assert_ptr_nonnull(end);
    char *said = bw_seed_diagnose(text, (size_t)(end - text), 1);
    ck_assert_msg(strstr(said, "cloud-init started but never finished; its last word: "
                               "\"Cloud-init v. 22.4.2 running 'modules:final'"),
                  "%s", said);
    free(said);
    free(text);
    said = bw_seed_diagnose("\r\n \n", 4, -1);
    ck_assert_msg(strstr(said, "serial console stayed empty"), "%s", said);
    free(said);
}
END_TEST

/* The volume ID out of a Primary Volume Descriptor: unpadded; refused when the sector is no
 * PVD (another type, no "CD001") or the ID holds a control byte. */
START_TEST(test_the_volume_id_of_a_primary_volume_descriptor)
{
    unsigned char pvd[2048];
    memset(pvd, 0, sizeof(pvd));
    pvd[0] = 1;
    memcpy(pvd + 1, "CD001", 5);
    pvd[6] = 1;
    memset(pvd + 40, ' ', 32);
    memcpy(pvd + 40, "Debian 12.5.0 amd64 n", 21);
    char id[33];
    ck_assert_int_eq(bw_iso_pvd_volume_id(pvd, sizeof(pvd), id), 0);
    ck_assert_str_eq(id, "Debian 12.5.0 amd64 n");
    memset(pvd + 40, 'X', 32); /* all 32 bytes used */
    ck_assert_int_eq(bw_iso_pvd_volume_id(pvd, sizeof(pvd), id), 0);
    ck_assert_uint_eq(strlen(id), 32);
    pvd[45] = '\n';
    ck_assert_int_eq(bw_iso_pvd_volume_id(pvd, sizeof(pvd), id), -1);
    pvd[45] = 'X';
    pvd[0] = 2; /* a supplementary descriptor (Joliet) */
    ck_assert_int_eq(bw_iso_pvd_volume_id(pvd, sizeof(pvd), id), -1);
    pvd[0] = 1;
    pvd[3] = '1';
    ck_assert_int_eq(bw_iso_pvd_volume_id(pvd, sizeof(pvd), id), -1);
    ck_assert_int_eq(bw_iso_pvd_volume_id(pvd, 40, id), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seed");
    TCase *tc = tcase_create("seed");
    tcase_add_test(tc, test_rendered_seeds_match_golden_files);
    tcase_add_test(tc, test_cidata_volume_reads_back_with_label_and_bytes);
    tcase_add_test(tc, test_cidata_volume_error_names_the_path);
    tcase_add_test(tc, test_kernel_and_initrd_extracted_from_an_iso);
    tcase_add_test(tc, test_lint_names_line_and_column_and_the_header);
    tcase_add_test(tc, test_lint_uses_cloud_inits_schema_when_installed);
    tcase_add_test(tc, test_schema_errors_do_not_quote_a_secret);
    tcase_add_test(tc, test_preseed_lint_names_the_line_and_keeps_secrets);
    tcase_add_test(tc, test_xml_answer_files_must_be_well_formed);
    tcase_add_test(tc, test_kickstart_checks_match_golden_errors);
    tcase_add_test(tc, test_xml_answer_checks_match_golden_errors);
    tcase_add_test(tc, test_agama_checks_match_golden_errors);
    tcase_add_test(tc, test_kickstart_lint_by_name_keeps_secrets);
    tcase_add_test(tc, test_an_error_never_carries_terminal_escapes);
    tcase_add_test(tc, test_installerconfig_parts_through_sh_and_a_power_off);
    tcase_add_test(tc, test_autoinstall_checks_match_golden_errors);
    tcase_add_test(tc, test_autoinstall_lint_by_name_keeps_secrets);
    tcase_add_test(tc, test_the_serial_console_says_what_cloud_init_did);
    tcase_add_test(tc, test_the_volume_id_of_a_primary_volume_descriptor);
    suite_add_tcase(s, tc);
    return test_run(s);
}
