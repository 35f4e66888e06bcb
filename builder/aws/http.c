#include "http.h"
#include "xml.h"
#include "../base/xmalloc.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BODY (16u * 1024 * 1024) /* an answer larger than this is no service's */

static const volatile sig_atomic_t *interrupt_flag;

void bw_aws_set_interrupt(const volatile sig_atomic_t *flag)
{
    interrupt_flag = flag;
}

bool bw_aws_interrupted(void)
{
    return interrupt_flag && *interrupt_flag;
}

static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return bw_aws_interrupted(); /* non-zero: the transfer stops */
}

const char *bw_aws_endpoint(const char *service)
{
    char name[64];
    snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", service);
    const char *e = getenv(name);
    if (!e || !*e)
        e = getenv("AWS_ENDPOINT_URL");
    return e && *e ? e : NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct bw_aws_answer *r = ud;
    if (r->body.len + size * n > MAX_BODY)
        return 0;
    bw_buf_add(&r->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct bw_aws_answer *r = ud;
    size_t len = size * n;
    if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        size_t i = 5;
        while (i < len && p[i] == ' ')
            i++;
        size_t k = 0;
        while (i < len && p[i] != '\r' && p[i] != '\n' && k + 1 < sizeof(r->etag))
            r->etag[k++] = p[i++];
        r->etag[k] = '\0';
    }
    return len;
}

int bw_aws_send(const struct bw_aws_call *c, struct bw_aws_answer *r, struct bw_error *err)
{
    char date[17], payload[65];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    bw_sigv4_sha256_hex(c->body ? c->body : "", c->len, payload);
    struct bw_sigv4_header h[16] = {
        {"Host", c->host}, {"X-Amz-Content-SHA256", payload}, {"X-Amz-Date", date}};
    size_t nh = 3;
    if (c->cred->session_token)
        h[nh++] = (struct bw_sigv4_header){"X-Amz-Security-Token", c->cred->session_token};
    for (size_t i = 0; i < c->n_extra && nh < 16; i++)
        h[nh++] = c->extra[i];
    struct bw_sigv4_request req = {c->method, c->path, c->query, h, nh, payload};
    struct bw_sigv4_signed s;
    if (bw_sigv4_sign(&req, c->cred, c->region, c->service, date, c->flavor, &s, err) < 0)
        return -1;
    char *url = bw_xasprintf("%s%s%s%s", c->base, c->path, c->query && *c->query ? "?" : "",
                             c->query && *c->query ? c->query : "");
    r->status = 0;
    r->etag[0] = '\0';
    bw_buf_reset(&r->body);
    int rc = 0;
    if (c->dry_run) {
        struct bw_buf t = BW_BUF_INIT;
        bw_buf_init(&t);
        bw_buf_addf(&t, "%s %s\n", c->method, url);
        for (size_t i = 0; i < nh; i++)
            bw_buf_addf(&t, "%s: %s\n", h[i].name,
                        strcmp(h[i].name, "X-Amz-Security-Token") ? h[i].value : "****");
        char *masked = bw_sigv4_masked(s.authorization);
        bw_buf_addf(&t, "Authorization: %s\n", masked);
        free(masked);
        if (c->len)
            bw_buf_addf(&t, "\n%.*s\n", (int)c->len, (const char *)c->body);
        if (c->show)
            c->show(t.data, c->ud);
        bw_buf_release(&t);
        r->status = 200;
    } else {
        CURL *curl = curl_easy_init();
        struct curl_slist *list = NULL;
        for (size_t i = 0; i < nh; i++) {
            char *line = bw_xasprintf("%s: %s", h[i].name, h[i].value);
            list = curl_slist_append(list, line);
            free(line);
        }
        char *auth = bw_xasprintf("Authorization: %s", s.authorization);
        list = curl_slist_append(list, auth);
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
        list = curl_slist_append(list, "Expect:");
        bool typed = false;
        for (size_t i = 0; i < c->n_extra; i++)
            typed |= strcasecmp(c->extra[i].name, "Content-Type") == 0;
        if (!typed)
            list = curl_slist_append(list, "Content-Type:");
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        if (strcmp(c->method, "GET") == 0) {
            curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        } else {
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body ? c->body : "");
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
        }
        CURLcode cc = curl ? curl_easy_perform(curl) : CURLE_FAILED_INIT;
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            bw_error_set(err, BW_ERR_INTERRUPTED, "%s %s %s: interrupted", c->service, c->method,
                         url);
            rc = -1;
        } else if (cc != CURLE_OK) {
            bw_error_set(err, BW_ERR_NETWORK, "%s %s %s: %s", c->service, c->method, url,
                         curl_easy_strerror(cc));
            rc = -1;
        } else {
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
        }
        curl_slist_free_all(list);
        curl_easy_cleanup(curl);
    }
    bw_sigv4_signed_release(&s);
    free(url);
    return rc;
}

void bw_aws_error(const struct bw_aws_answer *r, const char *what, struct bw_error *err)
{
    char *code = bw_xml_first(r->body.data, r->body.len, "Code");
    char *msg = bw_xml_first(r->body.data, r->body.len, "Message");
    bw_error_set(err, BW_ERR_NETWORK, "%s: HTTP %ld%s%s%s%s%s", what, r->status, code ? " " : "",
                 code ? code : "", msg ? " (" : "", msg ? msg : "", msg ? ")" : "");
    free(code);
    free(msg);
}
