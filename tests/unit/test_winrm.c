/*
 * The WinRM communicator against a stand-in WinRM service (libmicrohttpd, loopback) that
 * answers with the envelopes in tests/data/winrm/ (shaped like Windows' own; see the README
 * there) and checks what it is sent: HTTP Basic, or NTLM's three-message handshake on one
 * connection; Create, Command, Receive (a TimedOut fault first, as Windows sends when a
 * command is quiet), Signal, Delete, with the shell and command ids it handed out. Unproven
 * against a real Windows: none can run here.
 */
#include "golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/comm/winrm.h"

#include <check.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct stand_in {
    struct MHD_Daemon *d;
    unsigned port;
    bool ntlm;
    const char *user, *password;
    pthread_mutex_t lock;
    struct bw_buf log;        /* every request: its action and body, MessageIDs numbered */
    const char *receives[16]; /* answers to Receive, in order; then receive-ok.xml */
    size_t n_receives, next_receive;
    int busy_creates;           /* Creates answered 503 before one succeeds */
    int unauthorized;           /* 401s sent */
    int ntlm_type1, ntlm_type3; /* NTLM messages seen */
    char ntlm_user[64];         /* the user name in the Type 3 message */
    int commands;
    struct bw_buf uploaded; /* a file written through chunks, put together again */
    char *file_run;         /* the -File a command ran */
    int ids;                /* MessageIDs seen */
};

struct conn {
    bool authenticated; /* NTLM authenticates the connection, not the request */
};

struct req {
    struct bw_buf body;
};

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = bw_xcalloc(1, sizeof(struct conn));
    } else {
        free(*socket_context);
        *socket_context = NULL;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *r = *con_cls;
    if (r) {
        bw_buf_release(&r->body);
        free(r);
    }
    *con_cls = NULL;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
                              const char *www_auth, const char *www_auth2)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/soap+xml;charset=UTF-8");
    if (www_auth)
        MHD_add_response_header(resp, "WWW-Authenticate", www_auth);
    if (www_auth2)
        MHD_add_response_header(resp, "WWW-Authenticate", www_auth2);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static size_t b64decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n % 4 || n / 4 * 3 > cap)
        return 0;
    int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (got < 0)
        return 0;
    if (n && in[n - 1] == '=')
        got--;
    if (n > 1 && in[n - 2] == '=')
        got--;
    return (size_t)got;
}

/* A Type 2 challenge as a server sends one: no target info, so libcurl answers NTLM(v1/2
 * session) and the stand-in needs only the user name out of the Type 3. */
static const unsigned char type2[48] = {
    'N',  'T',  'L',  'M',  'S', 'S', 'P', 0, 2, 0, 0, 0, /* signature, type 2 */
    0,    0,    0,    0,    48,  0,   0,   0,             /* target name: empty, at 48 */
    0x01, 0x82, 0x08, 0x00,                               /* unicode, NTLM, sign, NTLM2 key */
    1,    2,    3,    4,    5,   6,   7,   8,             /* the challenge */
    0,    0,    0,    0,    0,   0,   0,   0,             /* reserved */
    0,    0,    0,    0,    48,  0,   0,   0,             /* target info: empty */
};

/* false when the request may not go on (a 401 was queued). */
static bool authorized(struct stand_in *s, struct MHD_Connection *c, struct conn *cn,
                       enum MHD_Result *rc)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!s->ntlm) {
        char pair[128], want[256];
        snprintf(pair, sizeof(pair), "%s:%s", s->user, s->password);
        strcpy(want, "Basic ");
        EVP_EncodeBlock((unsigned char *)want + 6, (const unsigned char *)pair, (int)strlen(pair));
        if (auth && strcmp(auth, want) == 0)
            return true;
        s->unauthorized++;
        *rc = answer(c, 401, "", "Basic realm=\"WSMAN\"", NULL);
        return false;
    }
    if (cn->authenticated && !auth)
        return true;
    unsigned char msg[1024];
    size_t n = auth && strncmp(auth, "NTLM ", 5) == 0 ? b64decode(auth + 5, msg, sizeof(msg)) : 0;
    if (n >= 12 && memcmp(msg, "NTLMSSP", 8) == 0 && msg[8] == 1) {
        s->ntlm_type1++;
        char b64[128] = "NTLM ";
        EVP_EncodeBlock((unsigned char *)b64 + 5, type2, sizeof(type2));
        s->unauthorized++;
        *rc = answer(c, 401, "", b64, NULL);
        return false;
    }
    if (n >= 44 && memcmp(msg, "NTLMSSP", 8) == 0 && msg[8] == 3) {
        s->ntlm_type3++;
        size_t len = (size_t)(msg[36] | msg[37] << 8), off = (size_t)(msg[40] | msg[41] << 8);
        size_t k = 0;
        for (size_t i = 0; off + i + 1 < n && i < len && k + 1 < sizeof(s->ntlm_user); i += 2)
            s->ntlm_user[k++] = (char)msg[off + i]; /* UTF-16LE, ASCII names */
        s->ntlm_user[k] = '\0';
        if (strcmp(s->ntlm_user, s->user) == 0) {
            cn->authenticated = true;
            return true;
        }
    }
    s->unauthorized++;
    *rc = answer(c, 401, "", "Negotiate", "NTLM");
    return false;
}

/* The text of the element that opens with open (a tag's beginning) and closes with close, or
 * NULL. */
static char *between(const char *text, const char *open, const char *close)
{
    const char *a = strstr(text, open);
    if (!a || !(a = strchr(a, '>')))
        return NULL;
    a++;
    const char *b = strstr(a, close);
    return b ? bw_xstrndup(a, (size_t)(b - a)) : NULL;
}

/* An -EncodedCommand's script, as ASCII (the tests' scripts are). */
static char *decoded_command(const char *command)
{
    const char *p = strstr(command, "-EncodedCommand ");
    if (!p)
        return NULL;
    static unsigned char bin[65536];
    size_t n = b64decode(p + 16, bin, sizeof(bin));
    char *s = bw_xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++)
        s[i] = (char)bin[2 * i];
    s[n / 2] = '\0';
    return s;
}

/* A chunk of an upload: the bytes in FromBase64String('...'), appended. */
static void take_chunk(struct stand_in *s, const char *script)
{
    const char *a = strstr(script, "FromBase64String('");
    const char *b = a ? strstr(a, "')") : NULL;
    if (!b)
        return;
    char *b64 = bw_xstrndup(a + 18, (size_t)(b - a - 18));
    static unsigned char bin[65536];
    size_t n = b64decode(b64, bin, sizeof(bin));
    if (strstr(script, "FileMode]::Create"))
        bw_buf_reset(&s->uploaded);
    bw_buf_add(&s->uploaded, bin, n);
    free(b64);
}

static void log_request(struct stand_in *s, const char *action, const char *body)
{
    bw_buf_addf(&s->log, "== %s\n", action);
    /* MessageIDs are random: numbered instead. The port is the stand-in's. */
    char port[32];
    snprintf(port, sizeof(port), "127.0.0.1:%u", s->port);
    for (const char *p = body; *p;) {
        if (strncmp(p, "<a:MessageID>uuid:", 18) == 0) {
            bw_buf_addf(&s->log, "<a:MessageID>uuid:%d", ++s->ids);
            p = strstr(p, "</a:MessageID>");
            continue;
        }
        if (strncmp(p, port, strlen(port)) == 0) {
            bw_buf_adds(&s->log, "127.0.0.1:PORT");
            p += strlen(port);
            continue;
        }
        bw_buf_addc(&s->log, *p++);
    }
    bw_buf_addc(&s->log, '\n');
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    struct stand_in *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = bw_xcalloc(1, sizeof(*r));
        bw_buf_init(&r->body);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        bw_buf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *cn = ci->socket_context;
    pthread_mutex_lock(&s->lock);
    enum MHD_Result rc = MHD_YES;
    if (strcmp(method, "POST") != 0 || strcmp(url, "/wsman") != 0) {
        rc = answer(c, 404, "", NULL, NULL);
    } else if (authorized(s, c, cn, &rc)) {
        char *action = between(r->body.data, "<a:Action", "</a:Action>");
        const char *local = action && strrchr(action, '/') ? strrchr(action, '/') + 1 : "?";
        const char *file = "delete.xml";
        unsigned status = 200;
        if (strcmp(local, "Create") == 0 && s->busy_creates > 0) {
            s->busy_creates--;
            file = NULL;
            status = 503;
        } else if (strcmp(local, "Create") == 0) {
            file = "create.xml";
        } else if (strcmp(local, "Command") == 0) {
            file = "command.xml";
            s->commands++;
            char *cmd = between(r->body.data, "<rsp:Command>", "</rsp:Command>");
            char *script = cmd ? decoded_command(cmd) : NULL;
            if (script)
                take_chunk(s, script);
            const char *f = cmd ? strstr(cmd, "-File &quot;") : NULL;
            if (f) {
                free(s->file_run);
                s->file_run = bw_xstrndup(f + 12, strcspn(f + 12, "&"));
            }
            free(script);
            free(cmd);
        } else if (strcmp(local, "Receive") == 0) {
            file =
                s->next_receive < s->n_receives ? s->receives[s->next_receive++] : "receive-ok.xml";
            if (strncmp(file, "fault", 5) == 0)
                status = 500;
        } else if (strcmp(local, "Signal") == 0) {
            file = "signal.xml";
        }
        log_request(s, local, r->body.data);
        if (file) {
            size_t len;
            char *body = golden_read("winrm", file, &len);
            rc = answer(c, status, body, NULL, NULL);
            free(body);
        } else {
            rc = answer(c, status, "", NULL, NULL);
        }
        free(action);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static struct stand_in *start(bool ntlm)
{
    struct stand_in *s = bw_xcalloc(1, sizeof(*s));
    s->ntlm = ntlm;
    s->user = "vagrant";
    s->password = "s3cret-Passw0rd";
    pthread_mutex_init(&s->lock, NULL);
    bw_buf_init(&s->log);
    bw_buf_init(&s->uploaded);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handler, s, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                            MHD_OPTION_END);
    ck_assert_ptr_nonnull(s->d);
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return s;
}

static void stop(struct stand_in *s)
{
    MHD_stop_daemon(s->d);
    bw_buf_release(&s->log);
    bw_buf_release(&s->uploaded);
    free(s->file_run);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static struct bw_winrm_config config(const struct stand_in *s, const char *password)
{
    struct bw_winrm_config cfg = {"127.0.0.1", s->port, false, false, "vagrant",
                                  password,    s->ntlm, 20000, NULL};
    return cfg;
}

struct output {
    struct bw_buf out, err;
};

static void collect(const char *data, size_t len, bool is_stderr, void *ud)
{
    struct output *o = ud;
    bw_buf_add(is_stderr ? &o->err : &o->out, data, len);
}

/* Basic: a shell opened, one command run through a quiet spell (TimedOut), its output as it
 * came and its exit code, the command signalled and the shell deleted: the exact requests. */
START_TEST(test_a_command_runs_and_its_output_and_exit_code_come_back)
{
    struct stand_in *s = start(false);
    s->receives[s->n_receives++] = "fault-timedout.xml";
    s->receives[s->n_receives++] = "receive-running.xml";
    s->receives[s->n_receives++] = "receive-done.xml";
    struct bw_winrm_config cfg = config(s, "s3cret-Passw0rd");
    struct bw_error err = BW_ERROR_INIT;
    struct bw_winrm *w = bw_winrm_connect(&cfg, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    struct output o;
    bw_buf_init(&o.out);
    bw_buf_init(&o.err);
    int status = -1;
    ck_assert_int_eq(bw_winrm_run(w, "ipconfig /all & echo <done>", collect, &o, &status, &err), 0);
    ck_assert_str_eq(o.out.data, "hello from Windows\r\n");
    ck_assert_str_eq(o.err.data, "warning: low disk\r\n");
    ck_assert_int_eq(status, 3);
    bw_winrm_close(w);
    char *diff = golden_check("winrm", "requests.golden", s->log.data, s->log.len);
    ck_assert_msg(diff == NULL, "%s", diff);
    ck_assert_int_eq(s->unauthorized, 0);
    bw_buf_release(&o.out);
    bw_buf_release(&o.err);
    stop(s);
}
END_TEST

/* NTLM: the Type 1 / Type 2 / Type 3 exchange on one connection, as the user given; later
 * requests ride the authenticated connection. */
START_TEST(test_ntlm_logs_in_as_the_user_on_one_connection)
{
    struct stand_in *s = start(true);
    s->receives[s->n_receives++] = "receive-done.xml";
    struct bw_winrm_config cfg = config(s, "s3cret-Passw0rd");
    struct bw_error err = BW_ERROR_INIT;
    struct bw_winrm *w = bw_winrm_connect(&cfg, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    int status = -1;
    ck_assert_int_eq(bw_winrm_run(w, "hostname", NULL, NULL, &status, &err), 0);
    ck_assert_int_eq(status, 3);
    bw_winrm_close(w);
    ck_assert_int_eq(s->ntlm_type1, 1);
    ck_assert_int_ge(s->ntlm_type3, 1);
    ck_assert_str_eq(s->ntlm_user, "vagrant");
    ck_assert_msg(strstr(s->log.data, "== Delete"), "%s", s->log.data);
    stop(s);
}
END_TEST

/* A refused login fails once the timeout is over, with HTTP 401 and the user, never the
 * password. */
START_TEST(test_a_refused_login_names_the_user_and_never_the_password)
{
    struct stand_in *s = start(false);
    struct bw_winrm_config cfg = config(s, "wrong-Passw0rd");
    cfg.timeout_ms = 500;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(bw_winrm_connect(&cfg, &err));
    ck_assert_msg(strstr(err.msg, "HTTP 401") && strstr(err.msg, "vagrant") &&
                      strstr(err.msg, "did not become available"),
                  "%s", err.msg);
    ck_assert_msg(!strstr(err.msg, "wrong-Passw0rd") && !strstr(err.msg, "s3cret"), "%s", err.msg);
    ck_assert_int_ge(s->unauthorized, 1);
    bw_error_release(&err);
    stop(s);
}
END_TEST

/* WinRM comes up late in a Windows install: a busy service is asked again. */
START_TEST(test_connect_waits_for_the_service)
{
    struct stand_in *s = start(false);
    s->busy_creates = 1;
    struct bw_winrm_config cfg = config(s, "s3cret-Passw0rd");
    struct bw_error err = BW_ERROR_INIT;
    struct bw_winrm *w = bw_winrm_connect(&cfg, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    bw_winrm_close(w);
    ck_assert_int_eq(s->busy_creates, 0);
    stop(s); /* nothing listens on cfg.port now */

    /* Nothing listening at all: the timeout, with what the last try met. */
    cfg.timeout_ms = 300;
    ck_assert_ptr_null(bw_winrm_connect(&cfg, &err));
    ck_assert_msg(strstr(err.msg, "did not become available within 0 s") &&
                      strstr(err.msg, "/wsman"),
                  "%s", err.msg);
    bw_error_release(&err);
}
END_TEST

/* Ctrl-C while waiting: stops at once. */
START_TEST(test_an_interrupt_stops_the_wait)
{
    volatile sig_atomic_t flag = 1;
    struct bw_winrm_config cfg = {"127.0.0.1", 9,     false,  false, "vagrant",
                                  "x",         false, 600000, &flag};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(bw_winrm_connect(&cfg, &err));
    ck_assert_int_eq(err.code, BW_ERR_INTERRUPTED);
    bw_error_release(&err);
}
END_TEST

/* A fault is the operation's failure, in Windows' words. */
START_TEST(test_a_fault_is_reported_in_windows_words)
{
    struct stand_in *s = start(false);
    s->receives[s->n_receives++] = "fault-no-shell.xml";
    struct bw_winrm_config cfg = config(s, "s3cret-Passw0rd");
    struct bw_error err = BW_ERROR_INIT;
    struct bw_winrm *w = bw_winrm_connect(&cfg, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    int status = -1;
    ck_assert_int_eq(bw_winrm_run(w, "dir", NULL, NULL, &status, &err), -1);
    ck_assert_msg(strstr(err.msg, "WinRM Receive: The request for the Windows Remote Shell") &&
                      strstr(err.msg, "shell was not found"),
                  "%s", err.msg);
    bw_error_release(&err);
    bw_winrm_close(w);
    stop(s);
}
END_TEST

/* A PowerShell script: short, one -EncodedCommand of its UTF-16LE text; long, written in chunks
 * to a file that is then run with -File (and removed): the file holds the script's bytes. */
START_TEST(test_powershell_scripts_short_and_long)
{
    struct stand_in *s = start(false);
    struct bw_winrm_config cfg = config(s, "s3cret-Passw0rd");
    struct bw_error err = BW_ERROR_INIT;
    struct bw_winrm *w = bw_winrm_connect(&cfg, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    int status = -1;
    ck_assert_int_eq(bw_winrm_powershell(w, "Write-Output 'hi'", NULL, NULL, &status, &err), 0);
    ck_assert_int_eq(s->commands, 1);
    ck_assert_msg(
        strstr(s->log.data, "-EncodedCommand VwByAGkAdABlAC0ATwB1AHQAcAB1AHQAIAAnAGgAaQAnAA=="),
        "%s", s->log.data);

    struct bw_buf script = BW_BUF_INIT;
    bw_buf_init(&script);
    for (int i = 0; i < 400; i++)
        bw_buf_addf(&script, "Write-Output 'line %d of a long provisioning script'\n", i);
    ck_assert_int_eq(bw_winrm_powershell(w, script.data, NULL, NULL, &status, &err), 0);
    /* 20 KiB in chunks of 1800 bytes, the run and the removal. */
    ck_assert_int_eq(s->commands, 1 + (int)((script.len + 1799) / 1800) + 2);
    ck_assert_uint_eq(s->uploaded.len, script.len);
    ck_assert(memcmp(s->uploaded.data, script.data, script.len) == 0);
    ck_assert_msg(s->file_run && strncmp(s->file_run, "C:\\Windows\\Temp\\boxwright-", 26) == 0,
                  "%s", s->file_run ? s->file_run : "(no -File)");
    ck_assert_msg(strstr(s->log.data, "del /f /q &quot;C:\\Windows\\Temp\\boxwright-"), "%s",
                  s->log.data);
    bw_buf_release(&script);
    bw_winrm_close(w);
    stop(s);
}
END_TEST

START_TEST(test_encoding_powershell_needs_utf8)
{
    struct bw_error err = BW_ERROR_INIT;
    char *b64 = bw_winrm_encode_powershell("'\xc3\xa9'", &err);
    ck_assert_str_eq(b64, "JwDpACcA"); /* ' U+00E9 ' in UTF-16LE */
    free(b64);
    ck_assert_ptr_null(bw_winrm_encode_powershell("ok \xff bad", &err));
    ck_assert_msg(strstr(err.msg, "not UTF-8 (byte 4)"), "%s", err.msg);
    bw_error_release(&err);
}
END_TEST

/* Answers that are not envelopes, or whose streams are not base64, are errors with a place. */
START_TEST(test_bad_answers_are_errors)
{
    struct bw_winrm_reply r;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_winrm_parse_reply("<html>\n<body>", 13, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "not a SOAP envelope") && err.line == 2, "%d: %s", err.line,
                  err.msg);
    const char *html = "<html/>";
    ck_assert_int_eq(bw_winrm_parse_reply(html, strlen(html), &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "expected a SOAP 1.2 <Envelope>, found <html>"), "%s", err.msg);
    const char *bad = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
                      "xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\">"
                      "<s:Body><rsp:ReceiveResponse><rsp:Stream Name=\"stdout\">**not**"
                      "</rsp:Stream></rsp:ReceiveResponse></s:Body></s:Envelope>";
    ck_assert_int_eq(bw_winrm_parse_reply(bad, strlen(bad), &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "not base64"), "%s", err.msg);
    size_t len;
    char *done = golden_read("winrm", "receive-done.xml", &len);
    ck_assert_int_eq(bw_winrm_parse_reply(done, len, &r, &err), 0);
    ck_assert(r.done);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_str_eq(r.err_out.data, "warning: low disk\r\n");
    bw_winrm_reply_release(&r);
    free(done);
    bw_error_release(&err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winrm");
    TCase *tc = tcase_create("winrm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_command_runs_and_its_output_and_exit_code_come_back);
    tcase_add_test(tc, test_ntlm_logs_in_as_the_user_on_one_connection);
    tcase_add_test(tc, test_a_refused_login_names_the_user_and_never_the_password);
    tcase_add_test(tc, test_connect_waits_for_the_service);
    tcase_add_test(tc, test_an_interrupt_stops_the_wait);
    tcase_add_test(tc, test_a_fault_is_reported_in_windows_words);
    tcase_add_test(tc, test_powershell_scripts_short_and_long);
    tcase_add_test(tc, test_encoding_powershell_needs_utf8);
    tcase_add_test(tc, test_bad_answers_are_errors);
    suite_add_tcase(s, tc);
    return test_run(s);
}
