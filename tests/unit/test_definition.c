/* Definition loading: schema errors with positions, defaults, variables. */
#include "golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/core/definition.h"
#include "../../builder/core/prepare.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct bw_definition *load_data(const char *name, struct bw_errors *errs)
{
    size_t len;
    char *text = golden_read("definitions", name, &len);
    struct bw_definition *def = bw_definition_load_buffer(name, ".", text, len, errs);
    free(text);
    return def;
}

/*
 * Every invalid tests/data/definitions/NAME.json lists exactly the errors in
 * NAME.err, one per line: file:line:col: path: message.
 */
START_TEST(test_invalid_definitions_report_every_error_with_position)
{
    char **names = golden_list("definitions", ".json");
    size_t invalid = 0;
    for (char **n = names; *n; n++) {
        char *errfile = golden_swap_suffix(*n, ".json", ".err");
        char *path = bw_xasprintf("%s/definitions/%s", golden_data_dir(), errfile);
        bool expect_invalid = access(path, F_OK) == 0 || getenv("BW_REGENERATE");
        free(path);
        struct bw_errors errs = BW_ERRORS_INIT;
        struct bw_definition *def = load_data(*n, &errs);
        if (def) {
            ck_assert_msg(!expect_invalid || strcmp(*n, "minimal.json") == 0,
                          "%s loaded but has a .err file", *n);
        } else {
            invalid++;
            struct bw_buf all = BW_BUF_INIT;
            bw_buf_init(&all);
            for (size_t i = 0; i < errs.n; i++) {
                char *s = bw_error_format(&errs.v[i]);
                bw_buf_addf(&all, "%s\n", s);
                free(s);
            }
            char *msg = golden_check("definitions", errfile, all.data, all.len);
            ck_assert_msg(msg == NULL, "%s", msg);
            bw_buf_release(&all);
        }
        bw_definition_free(def);
        bw_errors_release(&errs);
        free(errfile);
    }
    ck_assert_uint_ge(invalid, 8);
    golden_list_free(names);
}
END_TEST

START_TEST(test_minimal_definition_gets_documented_defaults)
{
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = load_data("minimal.json", &errs);
    ck_assert_msg(def != NULL, "%s", errs.n ? errs.v[0].msg : "");
    ck_assert_int_eq(def->vm.cpus, 1);
    ck_assert_uint_eq(def->vm.memory, 1ULL << 30);
    ck_assert_uint_eq(def->vm.disk_size, 20ULL << 30);
    ck_assert_str_eq(def->vm.firmware, "bios");
    ck_assert_str_eq(def->vm.disk_model, "virtio");
    ck_assert_str_eq(def->boot.method, "keys");
    ck_assert_uint_eq(def->boot.wait_ms, 10000);
    ck_assert_uint_eq(def->boot.key_hold_ms, 1);
    ck_assert_uint_eq(def->boot.key_interval_ms, 2);
    ck_assert_int_eq(def->ssh.port, 22);
    ck_assert_uint_eq(def->ssh.timeout_ms, 15 * 60 * 1000);
    ck_assert_str_eq(bw_vars_get(&def->vars, "Name")->value.s, "minimal");
    ck_assert_str_eq(bw_vars_get(&def->vars, "HTTPIP")->origin, "built-in");
    bw_definition_free(def);
}
END_TEST

START_TEST(test_tiny_template_is_valid_and_its_files_exist)
{
    char *path = bw_xasprintf("%s/tiny/definition.json", BW_TEMPLATES);
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load(path, &errs);
    ck_assert_msg(def != NULL, "%s", errs.n ? errs.v[0].msg : "");
    ck_assert_uint_eq(bw_definition_check_files(def, &errs), 0);
    struct bw_rendered files = BW_RENDERED_INIT;
    ck_assert_uint_eq(bw_prepare_answer_files(def, &files, &errs), 0);
    ck_assert_uint_eq(files.n, 1);
    ck_assert_ptr_nonnull(strstr(files.v[0].data.data, "hostname=tiny\n"));
    ck_assert_ptr_null(strstr(files.v[0].data.data, "{{"));
    bw_rendered_release(&files);
    bw_definition_free(def);
    free(path);
}
END_TEST

START_TEST(test_missing_files_are_reported_with_their_json_path)
{
    const char *text = "{\"name\":\"m\",\"os\":{\"family\":\"linux\"},"
                       "\"iso\":{\"urls\":[\"x\"],\"checksum\":\"none\"},"
                       "\"boot\":{\"command\":[\"x\"]},\"http\":{\"directory\":\"nohttp\","
                       "\"render\":[\"a.cfg\"]},\"ssh\":{\"username\":\"u\",\"private_key\":"
                       "\"nokey\"},\"provision\":[{\"script\":\"no.sh\"}]}";
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def =
        bw_definition_load_buffer("m.json", "/nonexistent", text, strlen(text), &errs);
    ck_assert_ptr_nonnull(def);
    ck_assert_uint_eq(bw_definition_check_files(def, &errs), 4);
    ck_assert_str_eq(errs.v[0].path, ".http.directory");
    ck_assert_str_eq(errs.v[1].path, ".http.render[0]");
    ck_assert_str_eq(errs.v[2].path, ".ssh.private_key");
    ck_assert_str_eq(errs.v[3].path, ".provision[0].script");
    ck_assert_ptr_nonnull(strstr(errs.v[3].msg, "/nonexistent/no.sh"));
    bw_errors_release(&errs);
    bw_definition_free(def);
}
END_TEST

static struct bw_definition *vars_def(void)
{
    const char *text = "{\"name\":\"v\",\"os\":{\"family\":\"linux\"},"
                       "\"variables\":{\"mirror\":\"a\",\"pkgs\":[\"x\"],\"lvm\":true,"
                       "\"secret\":\"hunter2\"},\"sensitive_variables\":[\"secret\"],"
                       "\"iso\":{\"urls\":[\"{{ user `mirror` }}/x.iso\"],\"checksum\":\"none\"},"
                       "\"boot\":{\"command\":[\"pw={{ user `secret` }}\"]},"
                       "\"ssh\":{\"username\":\"u\",\"password\":\"p\"}}";
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load_buffer("v.json", ".", text, strlen(text), &errs);
    ck_assert_msg(def != NULL, "%s", errs.n ? errs.v[0].msg : "");
    return def;
}

START_TEST(test_var_file_then_var_override_defaults_and_say_where_from)
{
    struct bw_definition *def = vars_def();
    char path[] = "/tmp/bw-varfile-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *json = "{\"mirror\": \"from-file\", \"pkgs\": [\"a\", \"b\"], \"lvm\": false}";
    ck_assert_int_eq(write(fd, json, strlen(json)), (int)strlen(json));
    close(fd);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_vars_apply_file(&def->vars, path, &err), 0);
    ck_assert_str_eq(bw_vars_get(&def->vars, "mirror")->value.s, "from-file");
    ck_assert_uint_eq(bw_vars_get(&def->vars, "pkgs")->value.n, 2);
    ck_assert(!bw_vars_get(&def->vars, "lvm")->value.b);
    ck_assert_ptr_nonnull(strstr(bw_vars_get(&def->vars, "mirror")->origin, "var-file"));
    ck_assert_int_eq(bw_vars_apply_assignment(&def->vars, "mirror=cli", &err), 0);
    ck_assert_int_eq(bw_vars_apply_assignment(&def->vars, "pkgs=p,q,r", &err), 0);
    ck_assert_int_eq(bw_vars_apply_assignment(&def->vars, "HTTPIP=192.0.2.7", &err), 0);
    ck_assert_str_eq(bw_vars_get(&def->vars, "mirror")->value.s, "cli");
    ck_assert_str_eq(bw_vars_get(&def->vars, "mirror")->origin, "--var");
    ck_assert_uint_eq(bw_vars_get(&def->vars, "pkgs")->value.n, 3);
    ck_assert_str_eq(bw_vars_get(&def->vars, "HTTPIP")->value.s, "192.0.2.7");
    ck_assert_int_eq(bw_vars_apply_assignment(&def->vars, "lvm=maybe", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "true or false"));
    ck_assert_int_eq(bw_vars_apply_assignment(&def->vars, "nosuch=1", &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "mirror"));
    ck_assert_int_eq(bw_vars_apply_assignment(&def->vars, "=1", &err), -1);
    bw_error_release(&err);
    unlink(path);
    bw_definition_free(def);
}
END_TEST

START_TEST(test_sensitive_values_are_masked_in_anything_shown)
{
    struct bw_definition *def = vars_def();
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_buf text = BW_BUF_INIT, shown = BW_BUF_INIT;
    bw_buf_init(&text);
    bw_buf_init(&shown);
    ck_assert_uint_eq(bw_prepare_boot_command(def, &text, &shown, NULL, &errs), 0);
    ck_assert_str_eq(text.data, "pw=hunter2");      /* what is typed keeps the secret... */
    ck_assert_str_eq(shown.data, "pw=<sensitive>"); /* ...what is shown does not */
    /* Text that was not rendered (a screen, a tool's words): the whole line is withheld. */
    char *free_text = bw_vars_mask(&def->vars, "the screen shows\nboot: pw=hunter2\nok");
    ck_assert_str_eq(free_text, "the screen shows\n" BW_WITHHELD "\nok");
    free(free_text);
    bw_buf_release(&text);
    bw_buf_release(&shown);
    bw_definition_free(def);
}
END_TEST

/*
 * Masked by where a value came from, not by searching for it: what a secret goes through
 * (upper, lower, quote with its quotes and backslashes, default, join, sha512crypt, a range)
 * stays masked; text that only looks like the secret is not ("http" as a password left the
 * URL scheme masked before, showing it).
 */
START_TEST(test_secrets_are_masked_by_where_they_came_from)
{
    const char *text =
        "{\"name\":\"s\",\"os\":{\"family\":\"linux\"},"
        "\"variables\":{\"password\":\"http\",\"keys\":[\"k1\",\"k2\"]},"
        "\"sensitive_variables\":[\"password\",\"keys\"],"
        "\"iso\":{\"urls\":[\"x.iso\"],\"checksum\":\"none\"},"
        "\"boot\":{\"command\":[\"url=http://{{ .HTTPIP }}/a \","
        "\"u={{ user `password` | upper }} l={{ user `password` | lower }} "
        "q={{ quote (user `password`) }} d={{ default `x` (user `password`) }} "
        "j={{ join `,` (user `keys`) }} r={{ range user `keys` }}[{{ . }}]{{ end }}\"]},"
        "\"ssh\":{\"username\":\"u\",\"password\":\"p\"}}";
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load_buffer("s.json", ".", text, strlen(text), &errs);
    ck_assert_msg(def != NULL, "%s", errs.n ? errs.v[0].msg : "");
    bw_vars_set_string(&def->vars, "HTTPIP", "10.0.2.100", "build")->builtin = true;
    struct bw_buf real = BW_BUF_INIT, shown = BW_BUF_INIT;
    bw_buf_init(&real);
    bw_buf_init(&shown);
    ck_assert_uint_eq(bw_prepare_boot_command(def, &real, &shown, NULL, &errs), 0);
    ck_assert_str_eq(real.data, "url=http://10.0.2.100/a u=HTTP l=http q=\"http\" d=http j=k1,k2 "
                                "r=[k1][k2]");
    ck_assert_str_eq(shown.data, "url=http://10.0.2.100/a u=<sensitive> l=<sensitive> "
                                 "q=<sensitive> d=<sensitive> j=<sensitive> "
                                 "r=[<sensitive>][<sensitive>]");
    bw_buf_release(&real);
    bw_buf_release(&shown);
    bw_definition_free(def);
}
END_TEST

/* A sensitive value that does not compile as part of a boot command (it holds "<bogus>"): the
 * error says where, not what. */
START_TEST(test_a_secret_that_does_not_compile_is_not_quoted)
{
    const char *text = "{\"name\":\"s\",\"os\":{\"family\":\"linux\"},"
                       "\"variables\":{\"password\":\"Se<bogus>cret\"},"
                       "\"sensitive_variables\":[\"password\"],"
                       "\"iso\":{\"urls\":[\"x.iso\"],\"checksum\":\"none\"},"
                       "\"boot\":{\"command\":[\"pw={{ user `password` }}\"]},"
                       "\"ssh\":{\"username\":\"u\",\"password\":\"p\"}}";
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load_buffer("s.json", ".", text, strlen(text), &errs);
    ck_assert_ptr_nonnull(def);
    ck_assert_uint_eq(bw_prepare_boot_command(def, NULL, NULL, NULL, &errs), 1);
    char *e = bw_error_format(&errs.v[0]);
    ck_assert_msg(!strstr(e, "bogus") && !strstr(e, "Se") && strstr(e, "sensitive"), "%s", e);
    free(e);
    bw_errors_release(&errs);
    bw_definition_free(def);
}
END_TEST

/* A var-file holds secrets: a JSON error gives the reason and the place, never the text near
 * it; and a value must be of the kind the definition declares (a list where a string was
 * declared rendered "password=[...]"). */
START_TEST(test_var_file_errors_quote_nothing_and_kinds_must_match)
{
    struct bw_definition *def = vars_def();
    char path[] = "/tmp/bw-varfile-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *bad = "{\"secret\": \"Sup3rS3cretPW\" \"mirror\": 1}";
    ck_assert_int_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_vars_apply_file(&def->vars, path, &err), -1);
    char *e = bw_error_format(&err);
    ck_assert_msg(!strstr(e, "Sup3r") && strstr(e, ":1:") && strstr(e, "invalid JSON"), "%s", e);
    free(e);
    bw_error_release(&err);
    FILE *f = fopen(path, "w");
    fputs("{\"secret\": [\"a\", \"b\"]}", f);
    fclose(f);
    ck_assert_int_eq(bw_vars_apply_file(&def->vars, path, &err), -1);
    ck_assert_msg(strstr(err.msg, "secret: got a list of strings, expected a string"), "%s",
                  err.msg);
    bw_error_release(&err);
    unlink(path);
    bw_definition_free(def);
}
END_TEST

/* A disk-image source: its defaults, and the JSON paths its errors use. */
START_TEST(test_image_source_defaults)
{
    const char *text = "{\"name\": \"cloud\", \"os\": {\"family\": \"linux\"},"
                       " \"image\": {\"urls\": [\"file:///srv/base.qcow2\"], \"checksum\": "
                       "\"sha256:{{ .Name }}\"},"
                       " \"vm\": {\"network\": \"user\"},"
                       " \"cloud_init\": {\"seed\": \"cd\", \"user_data\": \"user-data\"},"
                       " \"ssh\": {\"username\": \"vagrant\", \"password\": \"vagrant\"}}";
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load_buffer("c.json", ".", text, strlen(text), &errs);
    ck_assert_msg(def != NULL, "%s", errs.n ? errs.v[0].msg : "");
    ck_assert_str_eq(def->boot.method, "none");
    ck_assert_str_eq(def->image.format, "qcow2");
    ck_assert_str_eq(def->cloud_init.label, "cidata");
    ck_assert_str_eq(def->vm.network, "user");
    ck_assert_ptr_eq(bw_definition_source(def), &def->image);
    /* The rendered checksum is checked, and its error names .image.checksum. */
    ck_assert_uint_eq(bw_prepare_source(def, NULL, NULL, &errs), 1);
    char *e = bw_error_format(&errs.v[0]);
    ck_assert_msg(strstr(e, ".image.checksum") != NULL, "%s", e);
    free(e);
    bw_errors_release(&errs);
    bw_definition_free(def);
}
END_TEST

/* vagrant/vagrant: a password equal to a value shown anyway does not mask the user name. */
START_TEST(test_secret_equal_to_a_public_value_does_not_mask_it)
{
    const char *text = "{\"name\": \"v\", \"os\": {\"family\": \"linux\"},"
                       " \"variables\": {\"user\": \"vagrant\", \"password\": \"vagrant\","
                       " \"token\": \"s3cret\"},"
                       " \"sensitive_variables\": [\"password\", \"token\"],"
                       " \"iso\": {\"urls\": [\"x.iso\"], \"checksum\": \"none\"},"
                       " \"boot\": {\"command\": [\"x\"]},"
                       " \"ssh\": {\"username\": \"vagrant\", \"password\": \"x\"}}";
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load_buffer("v.json", ".", text, strlen(text), &errs);
    ck_assert_ptr_nonnull(def);
    char *shown = bw_vars_mask(&def->vars, "connected as vagrant");
    ck_assert_str_eq(shown, "connected as vagrant");
    free(shown);
    shown = bw_vars_mask(&def->vars, "connected as vagrant with s3cret");
    ck_assert_str_eq(shown, BW_WITHHELD);
    free(shown);
    bw_definition_free(def);
}
END_TEST

START_TEST(test_rendered_source_urls_and_checksum)
{
    struct bw_definition *def = vars_def();
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_strlist urls = {NULL, 0};
    struct bw_buf sum = BW_BUF_INIT;
    bw_buf_init(&sum);
    ck_assert_uint_eq(bw_prepare_source(def, &urls, &sum, &errs), 0);
    ck_assert_uint_eq(urls.n, 1);
    ck_assert_str_eq(urls.v[0], "a/x.iso");
    ck_assert_str_eq(sum.data, "none");
    bw_strlist_release(&urls);
    bw_buf_release(&sum);
    bw_definition_free(def);
}
END_TEST

/* The complete example in docs/definition.md must stay a valid definition. */
START_TEST(test_documented_example_is_valid)
{
    char *path = bw_xasprintf("%s/../../docs/definition.md", golden_data_dir());
    struct bw_buf doc = BW_BUF_INIT;
    bw_buf_init(&doc);
    ck_assert_int_eq(bw_buf_read_file(&doc, path), 0);
    const char *start = strstr(doc.data, "```json\n");
    ck_assert_ptr_nonnull(start);
    start += 8;
    const char *end = strstr(start, "```");
    ck_assert_ptr_nonnull(end);
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def =
        bw_definition_load_buffer("definition.md", ".", start, (size_t)(end - start), &errs);
    char *first = errs.n ? bw_error_format(&errs.v[0]) : NULL;
    ck_assert_msg(def != NULL, "docs example: %s", first);
    ck_assert_str_eq(def->name, "debian-12");
    ck_assert_uint_eq(def->n_provision, 2);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    ck_assert_uint_eq(bw_prepare_boot_command(def, NULL, NULL, &ev, &errs), 0);
    ck_assert_uint_eq(bw_prepare_source(def, NULL, NULL, &errs), 0);
    bw_key_events_release(&ev);
    bw_definition_free(def);
    bw_buf_release(&doc);
    free(path);
}
END_TEST

START_TEST(test_edit_distance_finds_close_keys)
{
    ck_assert_uint_eq(bw_edit_distance("memroy", "memory", 3), 2);
    ck_assert_uint_eq(bw_edit_distance("cpu", "cpus", 3), 1);
    ck_assert_uint_eq(bw_edit_distance("zzzzzz", "memory", 2), 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("definition");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_invalid_definitions_report_every_error_with_position);
    tcase_add_test(tc, test_minimal_definition_gets_documented_defaults);
    tcase_add_test(tc, test_tiny_template_is_valid_and_its_files_exist);
    tcase_add_test(tc, test_missing_files_are_reported_with_their_json_path);
    tcase_add_test(tc, test_var_file_then_var_override_defaults_and_say_where_from);
    tcase_add_test(tc, test_sensitive_values_are_masked_in_anything_shown);
    tcase_add_test(tc, test_secrets_are_masked_by_where_they_came_from);
    tcase_add_test(tc, test_a_secret_that_does_not_compile_is_not_quoted);
    tcase_add_test(tc, test_var_file_errors_quote_nothing_and_kinds_must_match);
    tcase_add_test(tc, test_secret_equal_to_a_public_value_does_not_mask_it);
    tcase_add_test(tc, test_image_source_defaults);
    tcase_add_test(tc, test_rendered_source_urls_and_checksum);
    tcase_add_test(tc, test_documented_example_is_valid);
    tcase_add_test(tc, test_edit_distance_finds_close_keys);
    suite_add_tcase(s, tc);
    return test_run(s);
}
