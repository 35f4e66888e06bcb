#include "credentials.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void wipe(char **s)
{
    if (*s) {
        OPENSSL_cleanse(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void bw_aws_keys_release(struct bw_aws_keys *k)
{
    wipe(&k->access_key);
    wipe(&k->secret_key);
    wipe(&k->session_token);
    k->source[0] = '\0';
}

/* [start, end) without blanks at either end. */
static void trim(const char **start, const char **end)
{
    while (*start < *end && isspace((unsigned char)**start))
        (*start)++;
    while (*end > *start && isspace((unsigned char)(*end)[-1]))
        (*end)--;
}

int bw_aws_parse_keys(const char *text, size_t len, const char *path, const char *profile,
                      struct bw_aws_keys *k, struct bw_error *err)
{
    memset(k, 0, sizeof(*k));
    bool in = false, found = false;
    int line = 0;
    for (const char *p = text, *end = text + len; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            if (e[-1] != ']') {
                bw_error_at(err, BW_ERR_SYNTAX, path, NULL, line + 1, 1,
                            "a section that does not end in ']': expected [profile]");
                bw_aws_keys_release(k);
                return -1;
            }
            const char *ns = s + 1, *ne = e - 1;
            trim(&ns, &ne);
            in = (size_t)(ne - ns) == strlen(profile) && memcmp(ns, profile, strlen(profile)) == 0;
            found |= in;
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            bw_error_at(err, BW_ERR_SYNTAX, path, NULL, line + 1, 1,
                        "a line that is no \"key = value\", [section] or comment");
            bw_aws_keys_release(k);
            return -1;
        }
        if (!in)
            continue;
        const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        char **slot = NULL;
        size_t kl = (size_t)(ke - ks);
        if (kl == 17 && strncmp(ks, "aws_access_key_id", kl) == 0)
            slot = &k->access_key;
        else if (kl == 21 && strncmp(ks, "aws_secret_access_key", kl) == 0)
            slot = &k->secret_key;
        else if (kl == 17 && strncmp(ks, "aws_session_token", kl) == 0)
            slot = &k->session_token;
        if (slot) {
            wipe(slot);
            *slot = bw_xstrndup(vs, (size_t)(ve - vs));
        }
    }
    if (!found)
        return 1;
    if (!k->access_key || !k->secret_key) {
        bw_error_at(err, BW_ERR_SCHEMA, path, NULL, 0, 0,
                    "profile [%s] has %s: expected aws_access_key_id and aws_secret_access_key",
                    profile, k->access_key ? "no aws_secret_access_key" : "no aws_access_key_id");
        bw_aws_keys_release(k);
        return -1;
    }
    snprintf(k->source, sizeof(k->source), "%s [%s]", path, profile);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct bw_buf *b = ud;
    if (b->len + size * n > 65536)
        return 0;
    bw_buf_add(b, p, size * n);
    return size * n;
}

/* One request to the metadata service: 0 with its answer on a 200, else -1. */
static int imds(const char *base, const char *method, const char *path, const char *header,
                struct bw_buf *out)
{
    char *url = bw_xasprintf("%s%s", base, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
    bw_buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    long status = 0;
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(url);
    return status == 200 ? 0 : -1;
}

/* The instance role's credentials through IMDSv2 (a token first; never IMDSv1). 0, or -1 when
 * there is no metadata service or no role. */
static int from_instance_role(struct bw_aws_keys *k)
{
    const char *off = getenv("AWS_EC2_METADATA_DISABLED");
    if (off && strcasecmp(off, "true") == 0)
        return -1;
    const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char *base = bw_xstrdup(e && *e ? e : "http://169.254.169.254");
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        base[--bl] = '\0';
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    int rc =
        imds(base, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 300", &b);
    char *token = rc == 0 ? bw_xasprintf("X-aws-ec2-metadata-token: %s", b.data) : NULL;
    if (rc == 0)
        rc = imds(base, "GET", "/latest/meta-data/iam/security-credentials/", token, &b);
    char *role = rc == 0 ? bw_xstrndup(b.data, strcspn(b.data, "\r\n")) : NULL;
    if (rc == 0 && (!*role || strchr(role, '/')))
        rc = -1;
    char *path =
        rc == 0 ? bw_xasprintf("/latest/meta-data/iam/security-credentials/%s", role) : NULL;
    if (rc == 0)
        rc = imds(base, "GET", path, token, &b);
    json_t *j = rc == 0 ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "AccessKeyId"));
    const char *secret = json_string_value(json_object_get(j, "SecretAccessKey"));
    const char *session = json_string_value(json_object_get(j, "Token"));
    if (id && secret) {
        k->access_key = bw_xstrdup(id);
        k->secret_key = bw_xstrdup(secret);
        k->session_token = session ? bw_xstrdup(session) : NULL;
        snprintf(k->source, sizeof(k->source), "the instance role %s (IMDSv2)", role);
    } else {
        rc = -1;
    }
    json_decref(j);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    bw_buf_release(&b);
    if (token)
        OPENSSL_cleanse(token, strlen(token));
    free(token);
    free(role);
    free(path);
    free(base);
    return rc;
}

int bw_aws_find_keys(const char *profile, struct bw_aws_keys *k, struct bw_error *err)
{
    memset(k, 0, sizeof(*k));
    const char *env_profile = getenv("AWS_PROFILE");
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!profile && id && *id && secret && *secret) {
        k->access_key = bw_xstrdup(id);
        k->secret_key = bw_xstrdup(secret);
        const char *token = getenv("AWS_SESSION_TOKEN");
        k->session_token = token && *token ? bw_xstrdup(token) : NULL;
        snprintf(k->source, sizeof(k->source), "the environment (AWS_ACCESS_KEY_ID)");
        return 0;
    }
    /* a profile asked for by name is that profile or an error, as for the AWS tools */
    bool named = profile || (env_profile && *env_profile);
    if (!profile)
        profile = env_profile && *env_profile ? env_profile : "default";
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    char *path = file && *file ? bw_xstrdup(file)
                               : bw_xasprintf("%s/.aws/credentials",
                                              getenv("HOME") ? getenv("HOME") : "/root");
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    int rc = bw_buf_read_file(&text, path) == 0
                 ? bw_aws_parse_keys(text.data, text.len, path, profile, k, err)
                 : 1;
    OPENSSL_cleanse(text.data, text.len);
    bw_buf_release(&text);
    if (rc == 1 && !named && from_instance_role(k) == 0)
        rc = 0;
    if (rc == 1) {
        bw_error_set(err, BW_ERR_NOT_FOUND,
                     "no AWS credentials: expected AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                     "in the environment, a profile [%s] in %s, or an instance role (IMDSv2)",
                     profile, path);
        rc = -1;
    }
    free(path);
    return rc;
}
