/*
 * AWS Signature Version 4, as boxwright computes it: against the published test suite's
 * signatures (the aws-sig-v4 suite as aws-c-auth carries it: credentials AKIDEXAMPLE, us-east-1,
 * service "service", 2015-08-30 12:36:00), and against botocore (Debian's python3-botocore) on
 * random requests, canonical request and signature both. The seed of the random requests is
 * printed; BW_SIGV4_SEED replays one.
 */
#include "golden.h"
#include "../../builder/aws/sigv4.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct bw_sigv4_credentials suite = {"AKIDEXAMPLE",
                                                  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DATE         "20150830T123600Z"

struct vector {
    const char *name, *method, *path, *query;
    struct bw_sigv4_header headers[6];
    const char *signature;
};

/* The suite's cases: the request line and headers of request.txt, the signature of
 * header-signed-request.txt. */
static const struct vector vectors[] = {
    {"get-vanilla",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}},
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     "Param2=value2&Param1=value1",
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}},
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     "\xe1\x88\xb4=bar",
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}},
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJK"
     "LMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}},
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-unreserved",
     "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     NULL,
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}},
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-header-value-trim",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"},
      {"My-Header1", " value1"},
      {"My-Header2", " \"a   b   c\""},
      {"X-Amz-Date", DATE}},
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"get-header-key-duplicate",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"},
      {"My-Header1", "value2"},
      {"My-Header1", "value2"},
      {"My-Header1", "value1"},
      {"X-Amz-Date", DATE}},
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-vanilla-with-session-token",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"},
      {"X-Amz-Date", DATE},
      {"X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}},
     "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
    {"post-vanilla-query",
     "POST",
     "/",
     "Param1=value1",
     {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}},
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
};

START_TEST(test_the_published_suite)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        size_t n = 0;
        while (n < 6 && v->headers[n].name)
            n++;
        struct bw_sigv4_request req = {v->method, v->path, v->query, v->headers, n, EMPTY_SHA256};
        struct bw_sigv4_signed s;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(
            bw_sigv4_sign(&req, &suite, "us-east-1", "service", DATE, BW_SIGV4_AWS, &s, &err) == 0,
            "%s: %s", v->name, err.msg);
        ck_assert_msg(strcmp(s.signature, v->signature) == 0,
                      "%s: signature %s, the suite's %s\ncanonical request:\n%s", v->name,
                      s.signature, v->signature, s.canonical_request);
        ck_assert_ptr_nonnull(strstr(s.authorization, "Credential=AKIDEXAMPLE/20150830/us-east-1/"
                                                      "service/aws4_request, SignedHeaders="));
        bw_sigv4_signed_release(&s);
    }
}
END_TEST

/* Steps of one case checked on their own: the canonical request and string to sign the suite
 * gives for get-vanilla-query-order-key-case. */
START_TEST(test_the_canonical_request_and_string_to_sign)
{
    const struct vector *v = &vectors[1];
    struct bw_sigv4_request req = {v->method, v->path, v->query, v->headers, 2, EMPTY_SHA256};
    struct bw_sigv4_signed s;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(
        bw_sigv4_sign(&req, &suite, "us-east-1", "service", DATE, BW_SIGV4_AWS, &s, &err), 0);
    ck_assert_str_eq(s.canonical_request,
                     "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256);
    ck_assert_str_eq(s.string_to_sign,
                     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                     "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
    /* what --dry-run prints: the signature masked, the rest as sent */
    char *m = bw_sigv4_masked(s.authorization);
    ck_assert_ptr_null(strstr(m, s.signature));
    ck_assert_ptr_nonnull(strstr(m, "Signature=****************"));
    ck_assert_ptr_nonnull(strstr(m, "Credential=AKIDEXAMPLE/"));
    free(m);
    /* the secret is in nothing that comes out */
    ck_assert_ptr_null(strstr(s.canonical_request, suite.secret_key));
    ck_assert_ptr_null(strstr(s.string_to_sign, suite.secret_key));
    ck_assert_ptr_null(strstr(s.authorization, suite.secret_key));
    bw_sigv4_signed_release(&s);
    /* what is wrong, said */
    ck_assert_int_eq(
        bw_sigv4_sign(&req, &suite, "us-east-1", "service", "2015-08-30", BW_SIGV4_AWS, &s, &err),
        -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"2015-08-30\": expected YYYYMMDDTHHMMSSZ"));
    bw_error_release(&err);
    req.headers = v->headers + 1;
    req.n_headers = 1;
    ck_assert_int_eq(
        bw_sigv4_sign(&req, &suite, "us-east-1", "service", DATE, BW_SIGV4_AWS, &s, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no Host header"));
    bw_error_release(&err);
}
END_TEST

/* botocore, on random requests (EC2's kind and S3's): paths and queries with reserved
 * characters, blanks, percent signs and UTF-8, dot segments and doubled slashes, headers with
 * odd blanks, session tokens. The same canonical request and the same signature. */
START_TEST(test_botocore_agrees_on_random_requests)
{
    const char *e = getenv("BW_SIGV4_SEED");
    unsigned seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
    char seeds[16];
    snprintf(seeds, sizeof(seeds), "%u", seed);
    char *argv[] = {BW_TEST_DATA "/../oracles/sigv4-botocore", seeds, "300", NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    size_t n = 0;
    for (char *line = strtok(res.out.data, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_t *j = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(j);
        json_t *hs = json_object_get(j, "headers");
        struct bw_sigv4_header h[16];
        size_t nh = json_array_size(hs);
        ck_assert_uint_le(nh, 16);
        for (size_t i = 0; i < nh; i++)
            h[i] = (struct bw_sigv4_header){
                json_string_value(json_array_get(json_array_get(hs, i), 0)),
                json_string_value(json_array_get(json_array_get(hs, i), 1))};
        const char *service = json_string_value(json_object_get(j, "service"));
        struct bw_sigv4_request req = {json_string_value(json_object_get(j, "method")),
                                       json_string_value(json_object_get(j, "path")),
                                       json_string_value(json_object_get(j, "query")),
                                       h,
                                       nh,
                                       json_string_value(json_object_get(j, "payload"))};
        struct bw_sigv4_credentials c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                         NULL};
        struct bw_sigv4_signed s;
        ck_assert_int_eq(bw_sigv4_sign(&req, &c, "us-east-1", service, DATE,
                                       strcmp(service, "s3") == 0 ? BW_SIGV4_S3 : BW_SIGV4_AWS, &s,
                                       &err),
                         0);
        const char *want = json_string_value(json_object_get(j, "canonical_request"));
        ck_assert_msg(strcmp(s.canonical_request, want) == 0,
                      "seed %u, request %zu (%s %s?%s): canonical request\n%s\nbotocore's\n%s",
                      seed, n, req.method, req.path, req.query, s.canonical_request, want);
        ck_assert_msg(strcmp(s.signature, json_string_value(json_object_get(j, "signature"))) == 0,
                      "seed %u, request %zu: signatures differ", seed, n);
        bw_sigv4_signed_release(&s);
        json_decref(j);
    }
    ck_assert_uint_eq(n, 300);
    printf("botocore agrees on 300 random requests (seed %u)\n", seed);
    bw_spawn_result_release(&res);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("sigv4");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_the_published_suite);
    tcase_add_test(tc, test_the_canonical_request_and_string_to_sign);
    tcase_add_test(tc, test_botocore_agrees_on_random_requests);
    suite_add_tcase(s, tc);
    return test_run(s);
}
