/* The template engine: golden renderings, errors with positions, and functions. */
#include "golden.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/render/template.h"

#include <check.h>
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

/* The variables every tests/data/render case sees. */
static void test_vars(struct bw_vars *v)
{
    bw_vars_set_string(v, "HTTPIP", "10.0.2.100", "built-in")->builtin = true;
    bw_vars_set_string(v, "HTTPPort", "8100", "built-in")->builtin = true;
    bw_vars_set_string(v, "Name", "debian-12", "built-in")->builtin = true;
    bw_vars_set_string(v, "hostname", "box", "default");
    bw_vars_set_string(v, "mirror", "deb.debian.org", "default");
    bw_vars_set_string(v, "empty", "", "default");
    bw_vars_set_string(v, "password", "vagrant", "default");
    char *pk[] = {"openssh-server", "sudo", "curl"};
    struct bw_value list = {BW_VAL_LIST, NULL, false, pk, 3, false};
    bw_vars_set(v, "Packages", &list, "default");
    struct bw_value none = {BW_VAL_LIST, NULL, false, NULL, 0, false};
    bw_vars_set(v, "NoPackages", &none, "default");
    struct bw_value yes = {BW_VAL_BOOL, NULL, true, NULL, 0, false};
    bw_vars_set(v, "UseLVM", &yes, "default");
    struct bw_value no = {BW_VAL_BOOL, NULL, false, NULL, 0, false};
    bw_vars_set(v, "Desktop", &no, "default");
}

static const char *test_getenv(const char *name)
{
    if (strcmp(name, "CTRL") == 0) /* a value with an escape in it */
        return "red\x1b[31m";
    return strcmp(name, "BW_TEST_HOME") == 0 ? "/home/builder" : NULL;
}

static int render_str(const char *tmpl, struct bw_buf *out, struct bw_error *err)
{
    struct bw_vars vars = BW_VARS_INIT;
    test_vars(&vars);
    struct bw_render_ctx ctx = {&vars, test_getenv, NULL};
    bw_buf_init(out);
    int rc = bw_render("t", tmpl, strlen(tmpl), &ctx, out, err);
    bw_vars_release(&vars);
    return rc;
}

/* Each tests/data/render/NAME.tmpl renders byte for byte to NAME.out. */
START_TEST(test_golden_templates_render_byte_exact)
{
    char **names = golden_list("render", ".tmpl");
    ck_assert_ptr_nonnull(names[0]);
    struct bw_vars vars = BW_VARS_INIT;
    test_vars(&vars);
    struct bw_render_ctx ctx = {&vars, test_getenv, NULL};
    for (char **n = names; *n; n++) {
        size_t len;
        char *src = golden_read("render", *n, &len);
        struct bw_buf out = BW_BUF_INIT;
        bw_buf_init(&out);
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_render(*n, src, len, &ctx, &out, &err);
        ck_assert_msg(rc == 0, "%s: %s:%d:%d %s", *n, err.file, err.line, err.col, err.msg);
        char *expected = golden_swap_suffix(*n, ".tmpl", ".out");
        char *msg = golden_check("render", expected, out.data, out.len);
        ck_assert_msg(msg == NULL, "%s", msg);
        free(expected);
        bw_buf_release(&out);
        free(src);
    }
    bw_vars_release(&vars);
    golden_list_free(names);
}
END_TEST

/* Each tests/data/render-errors/NAME.tmpl fails with exactly the message in NAME.err. */
START_TEST(test_bad_templates_fail_with_name_line_and_column)
{
    char **names = golden_list("render-errors", ".tmpl");
    ck_assert_ptr_nonnull(names[0]);
    struct bw_vars vars = BW_VARS_INIT;
    test_vars(&vars);
    struct bw_render_ctx ctx = {&vars, test_getenv, NULL};
    for (char **n = names; *n; n++) {
        size_t len;
        char *src = golden_read("render-errors", *n, &len);
        struct bw_buf out = BW_BUF_INIT;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(bw_render(*n, src, len, &ctx, &out, &err) == -1, "%s rendered", *n);
        ck_assert_int_gt(err.line, 0);
        ck_assert_int_gt(err.col, 0);
        char *got = bw_error_format(&err);
        char *line = bw_xasprintf("%s\n", got);
        char *expected = golden_swap_suffix(*n, ".tmpl", ".err");
        char *msg = golden_check("render-errors", expected, line, strlen(line));
        ck_assert_msg(msg == NULL, "%s", msg);
        free(expected);
        free(line);
        free(got);
        bw_error_release(&err);
        bw_buf_release(&out);
        free(src);
    }
    bw_vars_release(&vars);
    golden_list_free(names);
}
END_TEST

START_TEST(test_text_without_actions_is_copied_verbatim)
{
    /* Including bytes a naive engine would touch: braces, NULs, CRLF, UTF-8. */
    const char src[] = "a { b } {c}\r\n\xc3\xa9t\xc3\xa9\0tail }}";
    struct bw_vars vars = BW_VARS_INIT;
    struct bw_render_ctx ctx = {&vars, NULL, NULL};
    struct bw_buf out = BW_BUF_INIT;
    bw_buf_init(&out);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_render("t", src, sizeof(src) - 1, &ctx, &out, &err), 0);
    ck_assert_uint_eq(out.len, sizeof(src) - 1);
    ck_assert_mem_eq(out.data, src, sizeof(src) - 1);
    bw_buf_release(&out);
}
END_TEST

START_TEST(test_sha512crypt_with_salt_is_reproducible_and_verifies)
{
    struct bw_buf out = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(render_str("{{ sha512crypt \"abcdefgh\" .password }}", &out, &err), 0);
    /* Reference value from Python's crypt.crypt("vagrant", "$6$abcdefgh$"). */
    ck_assert_str_eq(out.data, "$6$abcdefgh$E1hF0gaN0DpDb6CPUzLu2iVL8Dk4IHUSGbTjeK66FbWF."
                               "6b8XrgzScIZctPmnNtrdCxnYsTEiY4Y28.1ne0fE0");
    bw_buf_release(&out);
}
END_TEST

START_TEST(test_xml_escapes_markup_and_refuses_control_characters)
{
    struct bw_buf out = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(render_str("<a t='{{ xml \"x<y & 'z' > \\\"q\\\"\" }}'/>", &out, &err), 0);
    ck_assert_str_eq(out.data, "<a t='x&lt;y &amp; &apos;z&apos; &gt; &quot;q&quot;'/>");
    bw_buf_release(&out);
    ck_assert_int_eq(render_str("{{ xml (env \"CTRL\") }}", &out, &err), -1);
    ck_assert_msg(strstr(err.msg, "control character 0x1b"), "%s", err.msg);
    bw_error_release(&err);
    bw_buf_release(&out);
}
END_TEST

START_TEST(test_sha512crypt_without_salt_draws_a_fresh_salt)
{
    struct bw_buf a = BW_BUF_INIT, b = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(render_str("{{ .password | sha512crypt }}", &a, &err), 0);
    ck_assert_int_eq(render_str("{{ .password | sha512crypt }}", &b, &err), 0);
    ck_assert_str_ne(a.data, b.data);
    ck_assert_int_eq(strncmp(a.data, "$6$", 3), 0);
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    ck_assert_str_eq(crypt_r("vagrant", a.data, &cd), a.data);
    bw_buf_release(&a);
    bw_buf_release(&b);
}
END_TEST

START_TEST(test_env_reads_the_environment_and_is_empty_when_unset)
{
    struct bw_buf out = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(render_str("[{{ env `BW_TEST_HOME` }}][{{ env \"NOPE\" }}]", &out, &err), 0);
    ck_assert_str_eq(out.data, "[/home/builder][]");
    bw_buf_release(&out);
}
END_TEST

START_TEST(test_failed_render_names_the_undefined_variable_and_known_ones)
{
    struct bw_buf out = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(render_str("ok\n  {{ .HTTPIp }}", &out, &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_RENDER);
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.col, 6);
    ck_assert_ptr_nonnull(strstr(err.msg, ".HTTPIp"));
    ck_assert_ptr_nonnull(strstr(err.msg, "HTTPIP"));
    bw_error_release(&err);
    bw_buf_release(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_golden_templates_render_byte_exact);
    tcase_add_test(tc, test_bad_templates_fail_with_name_line_and_column);
    tcase_add_test(tc, test_text_without_actions_is_copied_verbatim);
    tcase_add_test(tc, test_sha512crypt_with_salt_is_reproducible_and_verifies);
    tcase_add_test(tc, test_sha512crypt_without_salt_draws_a_fresh_salt);
    tcase_add_test(tc, test_xml_escapes_markup_and_refuses_control_characters);
    tcase_add_test(tc, test_env_reads_the_environment_and_is_empty_when_unset);
    tcase_add_test(tc, test_failed_render_names_the_undefined_variable_and_known_ones);
    suite_add_tcase(s, tc);
    return test_run(s);
}
