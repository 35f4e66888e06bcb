#include "winrm.h"
#include "../base/xmalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <iconv.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_SOAP         "http://www.w3.org/2003/05/soap-envelope"
#define NS_SHELL        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
#define NS_WSMAN        "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define NS_FAULT        "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
#define URI_CMD         NS_SHELL "/cmd"
#define ACTION_TRANSFER "http://schemas.xmlsoap.org/ws/2004/09/transfer/"

/* A command line cmd.exe takes whole is at most 8191 characters; an -EncodedCommand longer
 * than this goes through a file. */
#define MAX_COMMAND_LINE 8000
/* Bytes of a file per Command when uploading: 4/3 in base64, twice that in UTF-16, 4/3 again
 * as -EncodedCommand: about 3.6 times this, under MAX_COMMAND_LINE with the script around it. */
#define UPLOAD_CHUNK 1800
/* Largest answer read: a Receive holds at most MaxEnvelopeSize (150 KiB) of output. */
#define MAX_ANSWER (4u << 20)

struct bw_winrm {
    CURL *curl;
    char *url;
    char *user;
    bool ntlm;
    char *shell_id;
    const volatile sig_atomic_t *interrupted;
    unsigned long counter; /* for temporary file names */
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static bool interrupted(const volatile sig_atomic_t *flag)
{
    return flag && *flag;
}

/* ---- parsing answers ------------------------------------------------------------------ */

static bool is(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 && n->ns &&
           n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

static char *text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = bw_xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = v ? bw_xstrdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

/* Appends base64 text, decoded, to out; false when it is not base64. */
static bool add_base64(struct bw_buf *out, const char *b64)
{
    struct bw_buf clean = BW_BUF_INIT;
    bw_buf_init(&clean);
    for (const char *p = b64; *p; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            bw_buf_addc(&clean, *p);
    bool ok = clean.len % 4 == 0;
    if (ok && clean.len) {
        unsigned char *bin = bw_xmalloc(clean.len / 4 * 3 + 1);
        int n = EVP_DecodeBlock(bin, (const unsigned char *)clean.data, (int)clean.len);
        if (n < 0) {
            ok = false;
        } else {
            /* EVP_DecodeBlock counts the padding's bytes as zeros. */
            if (clean.data[clean.len - 1] == '=')
                n--;
            if (clean.data[clean.len - 2] == '=')
                n--;
            bw_buf_add(out, bin, (size_t)n);
        }
        free(bin);
    }
    bw_buf_release(&clean);
    return ok;
}

static void walk(const xmlNode *n, struct bw_winrm_reply *r, bool *bad_stream)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (is(n, NS_SHELL, "ShellId") && !r->shell_id) {
            r->shell_id = text_of(n);
        } else if (is(n, NS_WSMAN, "Selector") && !r->shell_id) {
            char *name = attr(n, "Name");
            if (name && strcmp(name, "ShellId") == 0)
                r->shell_id = text_of(n);
            free(name);
        } else if (is(n, NS_SHELL, "CommandId") && !r->command_id) {
            r->command_id = text_of(n);
        } else if (is(n, NS_SHELL, "Stream")) {
            char *name = attr(n, "Name");
            char *b64 = text_of(n);
            struct bw_buf *to = name && strcmp(name, "stderr") == 0 ? &r->err_out : &r->out;
            if (!add_base64(to, b64))
                *bad_stream = true;
            free(b64);
            free(name);
            continue;
        } else if (is(n, NS_SHELL, "CommandState")) {
            char *state = attr(n, "State");
            size_t sl = state ? strlen(state) : 0;
            if (sl >= 5 && strcmp(state + sl - 5, "/Done") == 0)
                r->done = true;
            free(state);
        } else if (is(n, NS_SHELL, "ExitCode")) {
            char *t = text_of(n);
            char *end;
            errno = 0;
            long v = strtol(t, &end, 10);
            /* Windows exit codes are 32-bit; a negative NTSTATUS shows as such. */
            if (end != t && !errno && v >= -2147483648L && v <= 4294967295L)
                r->exit_code = (int)(unsigned)v;
            free(t);
        } else if (is(n, NS_SOAP, "Subcode")) {
            for (const xmlNode *c = n->children; c; c = c->next) {
                if (is(c, NS_SOAP, "Value")) {
                    char *v = text_of(c);
                    const char *local = strchr(v, ':') ? strchr(v, ':') + 1 : v;
                    if (strcmp(local, "TimedOut") == 0)
                        r->timed_out = true;
                    free(v);
                }
            }
        } else if (is(n, NS_FAULT, "Message")) {
            free(r->fault);
            r->fault = text_of(n); /* Windows' own words win over the generic Reason */
            continue;
        } else if (is(n, NS_SOAP, "Text") && !r->fault) {
            r->fault = text_of(n);
            continue;
        }
        walk(n->children, r, bad_stream);
    }
}

struct parse_ctx {
    struct bw_error *err;
    bool set;
};

static void parse_error(void *ud, xmlErrorPtr e)
{
    struct parse_ctx *p = ud;
    if (p->set || !e || e->level < XML_ERR_ERROR)
        return;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "not well formed");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    bw_error_at(p->err, BW_ERR_SYNTAX, "WinRM answer", NULL, e->line, e->int2,
                "not a SOAP envelope: %s", msg);
    p->set = true;
}

int bw_winrm_parse_reply(const char *xml, size_t len, struct bw_winrm_reply *r,
                         struct bw_error *err)
{
    memset(r, 0, sizeof(*r));
    if (len > MAX_ANSWER) {
        bw_error_set(err, BW_ERR_NETWORK, "WinRM answer of %zu bytes: expected at most %u", len,
                     MAX_ANSWER);
        return -1;
    }
    struct parse_ctx p = {err, false};
    xmlSetStructuredErrorFunc(&p, parse_error);
    /* No network, no DTD, entities left as they are. */
    xmlDocPtr doc = xmlReadMemory(len ? xml : "", (int)len, NULL, NULL, XML_PARSE_NONET);
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (!doc || p.set) { /* libxml2 goes on past some errors (an undefined prefix): not we */
        if (!p.set)
            bw_error_at(err, BW_ERR_SYNTAX, "WinRM answer", NULL, 1, 1,
                        "not a SOAP envelope: empty");
        xmlFreeDoc(doc);
        return -1;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !is(root, NS_SOAP, "Envelope")) {
        bw_error_at(err, BW_ERR_SYNTAX, "WinRM answer", NULL, root ? root->line : 1, 1,
                    "expected a SOAP 1.2 <Envelope>, found <%s>",
                    root ? (const char *)root->name : "nothing");
        xmlFreeDoc(doc);
        return -1;
    }
    bool bad_stream = false;
    bw_buf_init(&r->out);
    bw_buf_init(&r->err_out);
    walk(root->children, r, &bad_stream);
    xmlFreeDoc(doc);
    if (bad_stream) {
        bw_error_set(err, BW_ERR_NETWORK, "WinRM answer: a <Stream> that is not base64");
        bw_winrm_reply_release(r);
        return -1;
    }
    return 0;
}

void bw_winrm_reply_release(struct bw_winrm_reply *r)
{
    free(r->shell_id);
    free(r->command_id);
    free(r->fault);
    bw_buf_release(&r->out);
    bw_buf_release(&r->err_out);
    memset(r, 0, sizeof(*r));
}

/* ---- building requests ---------------------------------------------------------------- */

static void uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)random();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* The envelope's header; the caller adds the body and closes it. */
static void envelope(struct bw_buf *b, const struct bw_winrm *w, const char *action,
                     bool with_shell, const char *options)
{
    char id[37];
    uuid(id);
    bw_buf_adds(b, "<s:Envelope xmlns:s=\"" NS_SOAP "\""
                   " xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\""
                   " xmlns:w=\"" NS_WSMAN "\""
                   " xmlns:p=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\""
                   " xmlns:rsp=\"" NS_SHELL "\"><s:Header><a:To>");
    bw_buf_add_escaped_xml(b, w->url);
    bw_buf_addf(b,
                "</a:To><a:ReplyTo><a:Address s:mustUnderstand=\"true\">"
                "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>"
                "</a:ReplyTo><a:Action s:mustUnderstand=\"true\">%s</a:Action>"
                "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">153600</w:MaxEnvelopeSize>"
                "<a:MessageID>uuid:%s</a:MessageID>"
                "<w:Locale xml:lang=\"en-US\" s:mustUnderstand=\"false\"/>"
                "<p:DataLocale xml:lang=\"en-US\" s:mustUnderstand=\"false\"/>"
                "<w:OperationTimeout>PT20S</w:OperationTimeout>"
                "<w:ResourceURI s:mustUnderstand=\"true\">" URI_CMD "</w:ResourceURI>",
                action, id);
    if (with_shell) {
        bw_buf_adds(b, "<w:SelectorSet><w:Selector Name=\"ShellId\">");
        bw_buf_add_escaped_xml(b, w->shell_id);
        bw_buf_adds(b, "</w:Selector></w:SelectorSet>");
    }
    if (options)
        bw_buf_addf(b, "<w:OptionSet>%s</w:OptionSet>", options);
    bw_buf_adds(b, "</s:Header><s:Body>");
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct bw_buf *b = ud;
    if (b->len + size * n > MAX_ANSWER)
        return 0;
    bw_buf_add(b, data, size * n);
    return size * n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return interrupted(ud) ? 1 : 0;
}

/* POSTs an envelope; 0 with the answer parsed (a fault included), or -1 when none came or it
 * is not one. The SOAP fault of an HTTP 500 is an answer; a 401 is not. */
static int post(struct bw_winrm *w, const char *what, const struct bw_buf *body,
                struct bw_winrm_reply *r, struct bw_error *err)
{
    struct bw_buf answer = BW_BUF_INIT;
    bw_buf_init(&answer);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, &answer);
    CURLcode rc = curl_easy_perform(w->curl);
    long status = 0;
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    int ret = -1;
    if (rc == CURLE_ABORTED_BY_CALLBACK && interrupted(w->interrupted)) {
        bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted");
    } else if (rc != CURLE_OK) {
        bw_error_set(err, BW_ERR_NETWORK, "WinRM %s at %s: %s", what, w->url,
                     curl_easy_strerror(rc));
    } else if (status == 401) {
        bw_error_set(err, BW_ERR_NETWORK,
                     "WinRM %s at %s: HTTP 401: the guest refused the login as %s (is the "
                     "password right, and is %s authentication enabled for WinRM in the guest?)",
                     what, w->url, w->user, w->ntlm ? "NTLM" : "Basic");
    } else if (status != 200 && status != 500) {
        bw_error_set(err, BW_ERR_NETWORK, "WinRM %s at %s: HTTP %ld", what, w->url, status);
    } else if (bw_winrm_parse_reply(answer.data, answer.len, r, err) == 0) {
        if (status == 500 && !r->fault && !r->timed_out) {
            bw_winrm_reply_release(r);
            bw_error_set(err, BW_ERR_NETWORK, "WinRM %s at %s: HTTP 500 without a fault", what,
                         w->url);
        } else {
            ret = 0;
        }
    } else {
        bw_error_prefix(err, "WinRM %s at %s (HTTP %ld)", what, w->url, status);
    }
    bw_buf_release(&answer);
    return ret;
}

/* A fault other than "nothing yet" is the operation's failure. */
static int fault(const struct bw_winrm_reply *r, const char *what, struct bw_error *err)
{
    if (!r->fault)
        return 0;
    bw_error_set(err, BW_ERR_NETWORK, "WinRM %s: %s", what, r->fault);
    return -1;
}

static int open_shell(struct bw_winrm *w, struct bw_error *err)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    envelope(&b, w, ACTION_TRANSFER "Create", false,
             "<w:Option Name=\"WINRS_NOPROFILE\">FALSE</w:Option>"
             "<w:Option Name=\"WINRS_CODEPAGE\">65001</w:Option>");
    bw_buf_adds(&b, "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
                    "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
                    "</s:Body></s:Envelope>");
    struct bw_winrm_reply r;
    int rc = post(w, "Create (open a shell)", &b, &r, err);
    bw_buf_release(&b);
    if (rc < 0)
        return -1;
    if (fault(&r, "Create (open a shell)", err) < 0 || !r.shell_id || !*r.shell_id) {
        if (!r.fault)
            bw_error_set(err, BW_ERR_NETWORK, "WinRM Create (open a shell): no ShellId answered");
        bw_winrm_reply_release(&r);
        return -1;
    }
    w->shell_id = r.shell_id;
    r.shell_id = NULL;
    bw_winrm_reply_release(&r);
    return 0;
}

static void sleep_interruptibly(const volatile sig_atomic_t *flag, uint64_t ms)
{
    for (uint64_t slept = 0; slept < ms && !interrupted(flag); slept += 100) {
        struct timespec t = {0, 100 * 1000000L};
        nanosleep(&t, NULL);
    }
}

struct bw_winrm *bw_winrm_connect(const struct bw_winrm_config *cfg, struct bw_error *err)
{
    struct bw_winrm *w = bw_xcalloc(1, sizeof(*w));
    w->interrupted = cfg->interrupted;
    w->user = bw_xstrdup(cfg->user);
    w->ntlm = cfg->ntlm;
    w->url = bw_xasprintf("%s://%s:%u/wsman", cfg->https ? "https" : "http", cfg->host, cfg->port);
    w->curl = curl_easy_init();
    if (!w->curl) {
        bw_error_set(err, BW_ERR_INTERNAL, "cannot start libcurl");
        bw_winrm_close(w);
        return NULL;
    }
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A Receive waits up to OperationTimeout (20 s) for output; a minute is a dead service. */
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cfg->interrupted);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_USERNAME, cfg->user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, cfg->ntlm ? CURLAUTH_NTLM : CURLAUTH_BASIC);
    if (cfg->https && cfg->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/soap+xml;charset=UTF-8");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    /* The list must live as long as the handle: kept in the handle's private pointer. */
    curl_easy_setopt(c, CURLOPT_PRIVATE, h);

    uint64_t deadline = now_ms() + cfg->timeout_ms;
    struct bw_error last = BW_ERROR_INIT;
    for (;;) {
        bw_error_release(&last);
        if (open_shell(w, &last) == 0)
            return w;
        if (interrupted(cfg->interrupted) || last.code == BW_ERR_INTERRUPTED) {
            bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted while waiting for WinRM");
            break;
        }
        if (now_ms() >= deadline) {
            bw_error_set(err, BW_ERR_NETWORK, "WinRM did not become available within %llu s: %s",
                         (unsigned long long)(cfg->timeout_ms / 1000), last.msg);
            break;
        }
        uint64_t left = deadline - now_ms();
        sleep_interruptibly(cfg->interrupted, left < 5000 ? left : 5000);
    }
    bw_error_release(&last);
    bw_winrm_close(w);
    return NULL;
}

static int signal_terminate(struct bw_winrm *w, const char *command_id)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    envelope(&b, w, NS_SHELL "/Signal", true, NULL);
    bw_buf_adds(&b, "<rsp:Signal CommandId=\"");
    bw_buf_add_escaped_xml(&b, command_id);
    bw_buf_adds(&b, "\"><rsp:Code>" NS_SHELL "/signal/terminate</rsp:Code></rsp:Signal>"
                    "</s:Body></s:Envelope>");
    struct bw_winrm_reply r;
    struct bw_error ignored = BW_ERROR_INIT; /* the command is over either way */
    int rc = post(w, "Signal", &b, &r, &ignored);
    if (rc == 0)
        bw_winrm_reply_release(&r);
    bw_error_release(&ignored);
    bw_buf_release(&b);
    return rc;
}

int bw_winrm_run(struct bw_winrm *w, const char *command, bw_winrm_output_fn out, void *ud,
                 int *status, struct bw_error *err)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    envelope(&b, w, NS_SHELL "/Command", true,
             "<w:Option Name=\"WINRS_CONSOLEMODE_STDIN\">TRUE</w:Option>"
             "<w:Option Name=\"WINRS_SKIP_CMD_SHELL\">FALSE</w:Option>");
    bw_buf_adds(&b, "<rsp:CommandLine><rsp:Command>");
    bw_buf_add_escaped_xml(&b, command);
    bw_buf_adds(&b, "</rsp:Command></rsp:CommandLine></s:Body></s:Envelope>");
    struct bw_winrm_reply r;
    int rc = post(w, "Command", &b, &r, err);
    bw_buf_release(&b);
    if (rc < 0)
        return -1;
    if (fault(&r, "Command", err) < 0 || !r.command_id) {
        if (!r.fault)
            bw_error_set(err, BW_ERR_NETWORK, "WinRM Command: no CommandId answered");
        bw_winrm_reply_release(&r);
        return -1;
    }
    char *command_id = r.command_id;
    r.command_id = NULL;
    bw_winrm_reply_release(&r);

    int ret = -1;
    for (;;) {
        if (interrupted(w->interrupted)) {
            bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted");
            break;
        }
        bw_buf_init(&b);
        envelope(&b, w, NS_SHELL "/Receive", true,
                 "<w:Option Name=\"WSMAN_CMDSHELL_OPTION_KEEPALIVE\">TRUE</w:Option>");
        bw_buf_adds(&b, "<rsp:Receive><rsp:DesiredStream CommandId=\"");
        bw_buf_add_escaped_xml(&b, command_id);
        bw_buf_adds(&b, "\">stdout stderr</rsp:DesiredStream></rsp:Receive></s:Body></s:Envelope>");
        rc = post(w, "Receive", &b, &r, err);
        bw_buf_release(&b);
        if (rc < 0)
            break;
        if (r.timed_out) { /* nothing within OperationTimeout: ask again */
            bw_winrm_reply_release(&r);
            continue;
        }
        if (fault(&r, "Receive", err) < 0) {
            bw_winrm_reply_release(&r);
            break;
        }
        if (out && r.out.len)
            out(r.out.data, r.out.len, false, ud);
        if (out && r.err_out.len)
            out(r.err_out.data, r.err_out.len, true, ud);
        bool done = r.done;
        *status = r.exit_code;
        bw_winrm_reply_release(&r);
        if (done) {
            ret = 0;
            break;
        }
    }
    signal_terminate(w, command_id);
    free(command_id);
    return ret;
}

char *bw_winrm_encode_powershell(const char *script, struct bw_error *err)
{
    size_t in_len = strlen(script);
    size_t cap = in_len * 2 + 2;
    char *utf16 = bw_xmalloc(cap);
    iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
    if (cd == (iconv_t)-1) {
        free(utf16);
        bw_error_set(err, BW_ERR_INTERNAL, "cannot convert to UTF-16: %s", strerror(errno));
        return NULL;
    }
    char *in = (char *)script, *o = utf16;
    size_t in_left = in_len, out_left = cap;
    size_t rc = iconv(cd, &in, &in_left, &o, &out_left);
    iconv_close(cd);
    if (rc == (size_t)-1) {
        free(utf16);
        bw_error_set(err, BW_ERR_SCHEMA,
                     "a PowerShell script is not UTF-8 (byte %zu): expected UTF-8 text",
                     in_len - in_left + 1);
        return NULL;
    }
    size_t n = cap - out_left;
    char *b64 = bw_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)utf16, (int)n);
    free(utf16);
    return b64;
}

static char *powershell_command(const char *script, struct bw_error *err)
{
    char *b64 = bw_winrm_encode_powershell(script, err);
    if (!b64)
        return NULL;
    char *cmd = bw_xasprintf("powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy "
                             "Bypass -EncodedCommand %s",
                             b64);
    free(b64);
    return cmd;
}

static int run_powershell(struct bw_winrm *w, const char *script, bw_winrm_output_fn out, void *ud,
                          int *status, struct bw_error *err)
{
    char *cmd = powershell_command(script, err);
    if (!cmd)
        return -1;
    int rc = bw_winrm_run(w, cmd, out, ud, status, err);
    free(cmd);
    return rc;
}

/* A Windows path inside a PowerShell single-quoted string. */
static void add_ps_quoted(struct bw_buf *b, const char *s)
{
    bw_buf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            bw_buf_addc(b, '\'');
        bw_buf_addc(b, *s);
    }
    bw_buf_addc(b, '\'');
}

int bw_winrm_upload(struct bw_winrm *w, const char *remote_path, const void *data, size_t len,
                    struct bw_error *err)
{
    const unsigned char *p = data;
    size_t off = 0;
    do {
        size_t n = len - off < UPLOAD_CHUNK ? len - off : UPLOAD_CHUNK;
        char b64[4 * ((UPLOAD_CHUNK + 2) / 3) + 1];
        EVP_EncodeBlock((unsigned char *)b64, p + off, (int)n);
        struct bw_buf s = BW_BUF_INIT;
        bw_buf_init(&s);
        bw_buf_adds(&s, "$ErrorActionPreference = 'Stop'\n$p = ");
        add_ps_quoted(&s, remote_path);
        bw_buf_addf(&s,
                    "\n$b = [Convert]::FromBase64String('%s')\n"
                    "$f = [IO.File]::Open($p, [IO.FileMode]::%s)\n"
                    "try { $f.Write($b, 0, $b.Length) } finally { $f.Close() }\n",
                    b64, off == 0 ? "Create" : "Append");
        int status = 0;
        int rc = run_powershell(w, s.data, NULL, NULL, &status, err);
        bw_buf_release(&s);
        if (rc < 0)
            return -1;
        if (status != 0) {
            bw_error_set(err, BW_ERR_IO, "cannot write %s in the guest (exit code %d)", remote_path,
                         status);
            return -1;
        }
        off += n;
    } while (off < len);
    return 0;
}

int bw_winrm_powershell(struct bw_winrm *w, const char *script, bw_winrm_output_fn out, void *ud,
                        int *status, struct bw_error *err)
{
    char *cmd = powershell_command(script, err);
    if (!cmd)
        return -1;
    if (strlen(cmd) <= MAX_COMMAND_LINE) {
        int rc = bw_winrm_run(w, cmd, out, ud, status, err);
        free(cmd);
        return rc;
    }
    free(cmd);
    /* Too long for one command line: a file in the guest's temporary directory, run, removed. */
    char *path =
        bw_xasprintf("C:\\Windows\\Temp\\boxwright-%ld-%lu.ps1", (long)random(), ++w->counter);
    int rc = bw_winrm_upload(w, path, script, strlen(script), err);
    if (rc == 0) {
        char *run = bw_xasprintf("powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy "
                                 "Bypass -File \"%s\"",
                                 path);
        rc = bw_winrm_run(w, run, out, ud, status, err);
        free(run);
        char *del = bw_xasprintf("del /f /q \"%s\"", path);
        int ignored_status;
        struct bw_error ignored = BW_ERROR_INIT;
        bw_winrm_run(w, del, NULL, NULL, &ignored_status, &ignored);
        bw_error_release(&ignored);
        free(del);
    }
    free(path);
    return rc;
}

void bw_winrm_close(struct bw_winrm *w)
{
    if (!w)
        return;
    if (w->shell_id && w->curl) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        envelope(&b, w, ACTION_TRANSFER "Delete", true, NULL);
        bw_buf_adds(&b, "</s:Body></s:Envelope>");
        struct bw_winrm_reply r;
        struct bw_error ignored = BW_ERROR_INIT; /* a shell left open times out in the guest */
        if (post(w, "Delete", &b, &r, &ignored) == 0)
            bw_winrm_reply_release(&r);
        bw_error_release(&ignored);
        bw_buf_release(&b);
    }
    if (w->curl) {
        struct curl_slist *h = NULL;
        curl_easy_getinfo(w->curl, CURLINFO_PRIVATE, (char **)&h);
        curl_easy_cleanup(w->curl);
        curl_slist_free_all(h);
    }
    free(w->shell_id);
    free(w->url);
    free(w->user);
    free(w);
}
