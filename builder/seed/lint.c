/* Seed lint: YAML through libyaml, the schema through cloud-init; see lint.h. */
#include "lint.h"
#include "autoinstall.h"
#include "agama.h"
#include "kickstart.h"
#include "xmlanswer.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"
#include "../../http-server/proxy.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

int bw_yaml_check(const char *file, const char *text, size_t len, struct bw_error *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        bw_error_set(err, BW_ERR_IO, "libyaml: cannot initialise a parser");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            const char *ctx = p.context ? p.context : NULL;
            bw_error_at(err, BW_ERR_SYNTAX, file, NULL, (int)p.problem_mark.line + 1,
                        (int)p.problem_mark.column + 1, "YAML: %s%s%s (expected valid YAML)",
                        p.problem ? p.problem : "cannot parse", ctx ? " " : "", ctx ? ctx : "");
            rc = -1;
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static const char *source_of(const struct bw_definition *def, const char *name)
{
    const struct bw_cloud_init *ci = &def->cloud_init;
    if (strcmp(name, "user-data") == 0)
        return ci->user_data;
    if (strcmp(name, "meta-data") == 0)
        return ci->meta_data;
    if (strcmp(name, "vendor-data") == 0)
        return ci->vendor_data;
    return ci->network_config;
}

static bool has_prefix(const struct bw_buf *b, const char *p)
{
    return b->len >= strlen(p) && strncmp(b->data, p, strlen(p)) == 0;
}

/* Runs argv[0..] on the rendered bytes in a private temp file (argv's NULL slot at `at` takes
 * its name): 0 with the result, -1 when the tool is not installed. */
static int run_on_copy(char **argv, size_t at, const struct bw_buf *data,
                       struct bw_spawn_result *res)
{
    char tmpl[] = "/tmp/boxwright-answer-XXXXXX"; /* xml_line() looks for this name */
    int fd = mkstemp(tmpl);                       /* 0600: the bytes may hold a secret */
    if (fd < 0)
        return -1;
    bool ok = write(fd, data->data, data->len) == (ssize_t)data->len;
    close(fd);
    int rc = -1;
    if (ok) {
        argv[at] = tmpl;
        struct bw_error e = BW_ERROR_INIT;
        /* A spawn that fails leaves status 0 and nothing on stderr: the tool is missing. */
        if (bw_spawn_run(argv, NULL, NULL, 0, res, &e) == 0 || res->status != 0 || res->err.len)
            rc = 0;
        else
            bw_spawn_result_release(res);
        argv[at] = NULL;
        bw_error_release(&e);
    }
    unlink(tmpl);
    return rc;
}

/* Runs cloud-init's schema check on data: 0 with *rejected (and why in msg, which the caller
 * releases), or -1 when cloud-init is missing. */
static int run_schema(const struct bw_buf *data, bool *rejected, struct bw_buf *msg)
{
    *rejected = false;
    bw_buf_init(msg);
    char *argv[] = {"cloud-init", "schema", "--config-file", NULL, NULL};
    struct bw_spawn_result res;
    if (run_on_copy(argv, 3, data, &res) < 0)
        return -1;
    *rejected = res.status != 0;
    /* cloud-init names the temp file; the caller names the seed instead. */
    const struct bw_buf *parts[] = {&res.err, &res.out};
    for (size_t k = 0; *rejected && k < 2; k++)
        for (char *line = strtok(parts[k]->data ? parts[k]->data : (char *)"", "\n"); line;
             line = strtok(NULL, "\n"))
            if (strstr(line, "schema errors") || strstr(line, "Invalid") ||
                strstr(line, "Error: ") == line)
                bw_buf_addf(msg, "%s%s", msg->len ? "; " : "", line);
    bw_spawn_result_release(&res);
    return 0;
}

/*
 * The schema check of the rendered user-data, with errors into errs; -1 when cloud-init is
 * missing. cloud-init quotes the values it rejects ("'Sup3rS3cretPW' is not of type
 * 'boolean'"): when a sensitive value went into the file, the words shown are those for the
 * file as it may be shown, and when only the real file is rejected, none.
 */
static int schema_check(const char *file, const struct bw_rendered_file *f, struct bw_errors *errs)
{
    bool rejected;
    struct bw_buf msg;
    if (run_schema(&f->data, &rejected, &msg) < 0) {
        bw_buf_release(&msg);
        return -1;
    }
    if (rejected && bw_rendered_is_sensitive(f)) {
        bool also;
        struct bw_buf shown_msg;
        run_schema(&f->shown, &also, &shown_msg);
        bw_buf_release(&msg);
        msg = shown_msg;
        if (!also) {
            bw_buf_reset(&msg);
            bw_buf_adds(&msg, "rejected where a sensitive value went in (its words would quote "
                              "it, so they are not shown)");
        }
    }
    if (rejected) {
        struct bw_error se = BW_ERROR_INIT;
        bw_error_at(&se, BW_ERR_SCHEMA, file, NULL, 0, 0,
                    "cloud-init schema (rendered user-data): %s",
                    msg.len ? msg.data : "rejected, with no message");
        bw_errors_take(errs, &se);
    }
    bw_buf_release(&msg);
    return 0;
}

size_t bw_seed_lint(const struct bw_definition *def, const struct bw_rendered *seeds,
                    bool *schema_checked, struct bw_errors *errs)
{
    size_t before = errs->n;
    *schema_checked = false;
    for (size_t i = 0; i < seeds->n; i++) {
        const struct bw_rendered_file *f = &seeds->v[i];
        const char *src = source_of(def, f->name);
        if (!src)
            continue; /* generated by boxwright */
        char *file = bw_xasprintf("%s/%s (rendered)", def->dir, src);
        bool user = strcmp(f->name, "user-data") == 0;
        bool script = user && (has_prefix(&f->data, "#!") || has_prefix(&f->data, "#include") ||
                               has_prefix(&f->data, "Content-Type:"));
        struct bw_error e = BW_ERROR_INIT;
        if (user && !script && !has_prefix(&f->data, "#cloud-config")) {
            bw_error_at(&e, BW_ERR_SCHEMA, file, NULL, 1, 1,
                        "user-data does not start with \"#cloud-config\" (cloud-init ignores it "
                        "then): expected #cloud-config on the first line, or a script (#!)");
            bw_errors_take(errs, &e);
        } else if (!script && bw_yaml_check(file, f->data.data, f->data.len, &e) < 0) {
            bw_errors_take(errs, &e);
        } else if (user && !script) {
            if (schema_check(file, f, errs) == 0)
                *schema_checked = true;
        }
        bw_error_release(&e);
        free(file);
    }
    return errs->n - before;
}

/* ---- answer files ---- */

/* Line n (1-based) of b, without its newline, into out; false when b has fewer lines. */
static bool line_of(const struct bw_buf *b, long n, struct bw_buf *out)
{
    bw_buf_reset(out);
    const char *p = b->data ? b->data : "", *end = p + b->len;
    for (long i = 1; i < n; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    bw_buf_add(out, p, (size_t)((nl ? nl : end) - p));
    return true;
}

/* Is line n free of secrets: the same in the file and in the file as it may be shown? */
static bool line_is_showable(const struct bw_rendered_file *f, long n)
{
    if (!bw_rendered_is_sensitive(f))
        return true;
    struct bw_buf a = BW_BUF_INIT, b = BW_BUF_INIT;
    bw_buf_init(&a);
    bw_buf_init(&b);
    bool same = line_of(&f->data, n, &a) == line_of(&f->shown, n, &b) && a.len == b.len &&
                memcmp(a.data, b.data, a.len) == 0;
    bw_buf_release(&a);
    bw_buf_release(&b);
    return same;
}

static void answer_error(struct bw_errors *errs, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_error(struct bw_errors *errs, const char *file, long line, const char *fmt, ...)
{
    struct bw_error e = BW_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(&e, BW_ERR_SCHEMA, file, NULL, (int)line, line > 0 ? 1 : 0, fmt, ap);
    va_end(ap);
    bw_errors_take(errs, &e);
}

/*
 * A d-i preseed through debconf-set-selections --checkonly: a line it cannot parse is an error
 * (it stops the install), and so is a type it does not know (d-i skips the line without a
 * word, so the question is asked after all). Its messages quote the line; ours do not, and
 * name the type only where no secret is on that line.
 */
static void preseed_line(const char *file, const struct bw_rendered_file *f, const char *l,
                         struct bw_errors *errs)
{
    long n = 0;
    char type[64];
    if (sscanf(l, "error: parse error on line %ld", &n) == 1)
        answer_error(errs, file, n,
                     "preseed: cannot parse this line: expected \"OWNER QUESTION TYPE VALUE\", "
                     "e.g. \"d-i netcfg/get_domain string local\" (debconf-set-selections "
                     "--checkonly)");
    else if (sscanf(l, "warning: Unknown type %63[^,], skipping line %ld", type, &n) == 2)
        answer_error(errs, file, n,
                     "preseed: unknown type%s%s%s: expected boolean, string, password, select, "
                     "multiselect, note, text, error or title (d-i skips this line, so its "
                     "question is asked)",
                     line_is_showable(f, n) ? " \""
                                            : " (not shown: a sensitive value is on this "
                                              "line)",
                     line_is_showable(f, n) ? type : "", line_is_showable(f, n) ? "\"" : "");
}

/* The line a checker's message names: "…boxwright-answer-XXXXXX:LINE…" (run_on_copy()'s
 * file), with *rest just after the number; 0 when the message names none. */
static long checker_line(const char *l, char **rest)
{
    const char *p = strstr(l, "boxwright-answer-");
    const char *colon = p ? strchr(p, ':') : NULL;
    long n = colon ? strtol(colon + 1, rest, 10) : 0;
    return n > 0 ? n : 0;
}

static bool showable_line(long line, void *f)
{
    return line_is_showable(f, line);
}

/* An XML answer file (AutoYaST, Autounattend) through boxwright's checks (xmlanswer.h). */
static void xml_check(const char *file, const struct bw_rendered_file *f, struct bw_errors *errs)
{
    bw_xml_answer_check(file, f->data.data, f->data.len, showable_line, (void *)f, NULL, errs);
}

/* An Agama profile (openSUSE Leap 16) through boxwright's checks (agama.h). */
static void agama_check(const char *file, const struct bw_rendered_file *f, struct bw_errors *errs)
{
    bw_agama_check(file, f->data.data, f->data.len, errs);
}

/* A kickstart through boxwright's own checks (no kickstart validator is packaged for Debian). */
static void kickstart_check(const char *file, const struct bw_rendered_file *f,
                            struct bw_errors *errs)
{
    bw_kickstart_check(file, f->data.data, f->data.len, showable_line, (void *)f, errs);
}

/* An Ubuntu autoinstall user-data (served for subiquity's NoCloud): boxwright's checks inside
 * autoinstall:, then, when they pass, cloud-init's schema of the whole cloud-config. */
static void autoinstall_check(const char *file, const struct bw_rendered_file *f,
                              struct bw_errors *errs)
{
    bool autoinstall;
    if (bw_autoinstall_check(file, f->data.data, f->data.len, showable_line, (void *)f,
                             &autoinstall, errs) == 0)
        schema_check(file, f, errs);
}

/* `sh -n` on lines [from, to) of f, its errors ("FILE: LINE: MESSAGE", dash's form) at their
 * lines in the whole file; -1 when no sh runs. */
static int sh_syntax(const char *file, const struct bw_rendered_file *f, const char *what,
                     size_t from, size_t to, long first_line, struct bw_errors *errs)
{
    struct bw_buf part = BW_BUF_INIT;
    bw_buf_init(&part);
    bw_buf_add(&part, f->data.data + from, to - from);
    char *argv[] = {"sh", "-n", NULL, NULL};
    struct bw_spawn_result res;
    int rc = run_on_copy(argv, 2, &part, &res);
    bw_buf_release(&part);
    if (rc < 0)
        return -1;
    size_t before = errs->n;
    char *save = NULL;
    for (char *l = strtok_r(res.err.data ? res.err.data : (char *)"", "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *end = NULL;
        long n = checker_line(l, &end);
        if (n <= 0 || *end != ':')
            continue;
        long at = first_line + n - 1;
        if (line_is_showable(f, at))
            answer_error(errs, file, at, "installerconfig: %s: %s: expected valid sh (sh -n)", what,
                         end[1] == ' ' ? end + 2 : end + 1);
        else
            answer_error(errs, file, at,
                         "installerconfig: %s: not valid sh (the words are not shown: a "
                         "sensitive value is on this line)",
                         what);
    }
    if (errs->n == before && res.status != 0)
        answer_error(errs, file, first_line, "installerconfig: %s: sh -n rejected it", what);
    bw_spawn_result_release(&res);
    return 0;
}

/*
 * A FreeBSD bsdinstall script: a preamble of shell variables bsdinstall reads, then, from the
 * first "#!" line, a script it runs in the new system. Both through `sh -n` (the script only
 * when it is a sh script); and the script must power the machine off, since a build waits for
 * that (Bento's reboots, which would boot the installed system and wait out the timeout).
 */
static void installerconfig_check(const char *file, const struct bw_rendered_file *f,
                                  struct bw_errors *errs)
{
    const char *d = f->data.data ? f->data.data : "";
    size_t len = f->data.len, at = 0;
    long line = 1;
    while (at < len && !(d[at] == '#' && at + 1 < len && d[at + 1] == '!')) {
        const char *nl = memchr(d + at, '\n', len - at);
        at = nl ? (size_t)(nl - d) + 1 : len;
        line++;
    }
    if (sh_syntax(file, f, "preamble", 0, at, 1, errs) < 0)
        return;
    if (at == len) {
        answer_error(errs, file, 0,
                     "installerconfig: no setup script (a \"#!/bin/sh\" line and what runs in "
                     "the new system): expected one that ends with \"poweroff\"");
        return;
    }
    const char *nl = memchr(d + at, '\n', len - at);
    size_t shebang_end = nl ? (size_t)(nl - d) : len;
    bool sh = (shebang_end - at == 9 && memcmp(d + at, "#!/bin/sh", 9) == 0) ||
              (shebang_end - at > 10 && memcmp(d + at, "#!/bin/sh ", 10) == 0);
    if (sh)
        sh_syntax(file, f, "setup script", at, len, line, errs);
    /* Powers off: a line (of the script) that runs poweroff or shutdown -p. */
    bool off = false;
    for (size_t p = at; p < len && !off;) {
        const char *e = memchr(d + p, '\n', len - p);
        size_t n = (size_t)((e ? e : d + len) - (d + p));
        char l[256];
        snprintf(l, sizeof(l), "%.*s", (int)(n < sizeof(l) ? n : sizeof(l) - 1), d + p);
        const char *w = l + strspn(l, " \t");
        off = strncmp(w, "poweroff", 8) == 0 || strncmp(w, "shutdown -p", 11) == 0 ||
              strstr(w, "&& poweroff") || strstr(w, "; poweroff");
        p += n + 1;
    }
    if (!off)
        answer_error(errs, file, line,
                     "installerconfig: the setup script never powers off: a build waits for the "
                     "installer to power off; expected \"poweroff\" (or \"shutdown -p now\") at "
                     "its end");
}

/* Answer-file kinds by file name, first match wins. */
static const struct answer_kind {
    const char *pattern; /* fnmatch(3) on the name under the http directory */
    const char *what;    /* the kind, for the error of a rejection no line explains */
    char *argv[5];       /* the checker; its first NULL slot takes the file */
    size_t file_at;
    /* turns one line of the checker's stderr into errors */
    void (*line)(const char *file, const struct bw_rendered_file *f, const char *l,
                 struct bw_errors *errs);
    /* or, with argv[0] the checker's name, checks in-process */
    void (*own)(const char *file, const struct bw_rendered_file *f, struct bw_errors *errs);
} answer_kinds[] = {
    {"*preseed*.cfg",
     "preseed",
     {"debconf-set-selections", "--checkonly", NULL, NULL, NULL},
     2,
     preseed_line,
     NULL},
    {"*.preseed",
     "preseed",
     {"debconf-set-selections", "--checkonly", NULL, NULL, NULL},
     2,
     preseed_line,
     NULL},
    {"*.xml", "XML", {"XML checks", NULL}, 0, NULL, xml_check},
    {"*agama*.json", "Agama", {"Agama checks", NULL}, 0, NULL, agama_check},
    {"autoinst.json", "Agama", {"Agama checks", NULL}, 0, NULL, agama_check},
    {"user-data", "autoinstall", {"autoinstall checks", NULL}, 0, NULL, autoinstall_check},
    {"installerconfig", "installerconfig", {"sh -n", NULL}, 0, NULL, installerconfig_check},
    {"*.installerconfig", "installerconfig", {"sh -n", NULL}, 0, NULL, installerconfig_check},
    {"ks.cfg", "kickstart", {"kickstart checks", NULL}, 0, NULL, kickstart_check},
    {"*[-_.]ks.cfg", "kickstart", {"kickstart checks", NULL}, 0, NULL, kickstart_check},
    {"*.ks", "kickstart", {"kickstart checks", NULL}, 0, NULL, kickstart_check},
    {"*kickstart*.cfg", "kickstart", {"kickstart checks", NULL}, 0, NULL, kickstart_check},
};

/* Runs kind's checker on f: 0 with its errors in errs, -1 when the checker is not installed. */
static int check_answer_file(const struct answer_kind *kind, const char *file,
                             const struct bw_rendered_file *f, struct bw_errors *errs)
{
    if (kind->own) {
        kind->own(file, f, errs);
        return 0;
    }
    char *argv[5];
    memcpy(argv, kind->argv, sizeof(argv));
    struct bw_spawn_result res;
    if (run_on_copy(argv, kind->file_at, &f->data, &res) < 0)
        return -1;
    size_t before = errs->n;
    char *save = NULL;
    for (char *l = strtok_r(res.err.data ? res.err.data : (char *)"", "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        kind->line(file, f, l, errs);
    if (errs->n == before && res.status != 0)
        answer_error(errs, file, 0, "%s: %s rejected it (exit status %d)", kind->what,
                     kind->argv[0], res.status);
    bw_spawn_result_release(&res);
    return 0;
}

size_t bw_answer_lint(const struct bw_definition *def, const struct bw_rendered *files,
                      struct bw_buf *checked, struct bw_buf *missing, struct bw_errors *errs)
{
    size_t before = errs->n;
    for (size_t i = 0; i < files->n; i++) {
        const struct bw_rendered_file *f = &files->v[i];
        const char *base = strrchr(f->name, '/') ? strrchr(f->name, '/') + 1 : f->name;
        for (size_t k = 0; k < sizeof(answer_kinds) / sizeof(answer_kinds[0]); k++) {
            const struct answer_kind *kind = &answer_kinds[k];
            if (fnmatch(kind->pattern, base, 0) != 0)
                continue;
            char *file = bw_xasprintf("%s/%s/%s (rendered)", def->dir,
                                      def->http.directory ? def->http.directory : ".", f->name);
            struct bw_buf *to = check_answer_file(kind, file, f, errs) == 0 ? checked : missing;
            bw_buf_addf(to, "%s%s (%s)", to->len ? ", " : "", f->name, kind->argv[0]);
            free(file);
            break;
        }
    }
    return errs->n - before;
}

/* The host of the URL at p (just past "://"), or of a preseed mirror line's value, in host. */
static bool host_at(const char *p, const char *end, char *host, size_t size)
{
    size_t n = 0;
    while (p + n < end && !strchr("/:?#\"' \t\r<>", p[n]) && n + 1 < size)
        n++;
    memcpy(host, p, n);
    host[n] = '\0';
    return n > 0 && !strstr(host, "{{");
}

/* One host an answer file names at `at` (line `line` of file f): a warning, the first time. */
struct reach {
    const struct bw_definition *def;
    const char *http_ip, *file;
    struct bw_buf seen; /* "\nhost\n" for each host said already */
    struct bw_buf *warnings;
    size_t count;
};

/* Does http.proxy_allow name host (on any port)? Then the installer reaches it through the
 * server as its proxy. */
static bool proxied(const struct bw_definition *def, const char *host)
{
    struct bw_proxy_host h;
    const char *why;
    if (bw_proxy_parse_allow(host, &h, &why) < 0)
        return false;
    for (size_t i = 0; i < def->http.proxy_allow.n; i++) {
        struct bw_proxy_host a;
        if (bw_proxy_parse_allow(def->http.proxy_allow.v[i], &a, &why) < 0)
            continue;
        h.port = a.port;
        if (bw_proxy_allowed(&a, 1, &h))
            return true;
    }
    return false;
}

/* Where the rendered file `name` came from, under the template's directory: an http.render file
 * in http.directory, else a cd.files entry of that base name. */
static void add_source(struct bw_buf *b, const struct bw_definition *def, const char *name)
{
    for (size_t i = 0; i < def->http.render.n; i++)
        if (strcmp(def->http.render.v[i], name) == 0) {
            bw_buf_addf(b, "%s/%s/%s", def->dir, def->http.directory ? def->http.directory : ".",
                        name);
            return;
        }
    for (size_t i = 0; i < def->cd.files.n; i++) {
        const char *f = def->cd.files.v[i];
        const char *base = strrchr(f, '/') ? strrchr(f, '/') + 1 : f;
        if (strcmp(base, name) == 0) {
            bw_buf_addf(b, "%s/%s", def->dir, f);
            return;
        }
    }
    bw_buf_addf(b, "%s/%s", def->dir, name);
}

/* Is the URL whose scheme ends at p (the "://") an XML namespace name, the value of an xmlns
 * attribute? A name, never fetched. */
static bool namespace_name(const char *line, const char *p)
{
    const char *s = p;
    while (s > line && isalpha((unsigned char)s[-1]))
        s--;
    if (s - line < 8 || (s[-1] != '"' && s[-1] != '\'') || s[-2] != '=')
        return false;
    const char *e = s - 2, *n = e;
    while (n > line && !isspace((unsigned char)n[-1]) && n[-1] != '<')
        n--;
    return e - n >= 5 && strncmp(n, "xmlns", 5) == 0 && (e - n == 5 || n[5] == ':');
}

static void note_host(struct reach *r, const char *at, const char *end, long line)
{
    char host[256], key[260];
    if (!host_at(at, end, host, sizeof(host)) || strcmp(host, r->http_ip) == 0 ||
        proxied(r->def, host))
        return;
    snprintf(key, sizeof(key), "\n%s\n", host);
    if (strstr(r->seen.data, key))
        return;
    bw_buf_adds(&r->seen, key + 1);
    add_source(r->warnings, r->def, r->file);
    bw_buf_addf(r->warnings,
                ":%ld: the installer is sent to %s, which the isolated network cannot "
                "reach (only boxwright's HTTP server, at %s, is): vm.network \"user\" gives NAT, "
                "http.proxy_allow lets it through the server as its HTTP proxy "
                "({{ .HTTPProxy }}), or serve what it needs next to the answer files\n",
                line, host, r->http_ip);
    r->count++;
}

size_t bw_answer_unreachable(const struct bw_definition *def, const struct bw_rendered *files,
                             const char *http_ip, struct bw_buf *warnings)
{
    if (strcmp(def->vm.network, "isolated") != 0)
        return 0;
    static const char mirror[] = "mirror/http/hostname string ";
    struct reach r = {def, http_ip, NULL, BW_BUF_INIT, warnings, 0};
    for (size_t i = 0; i < files->n; i++) {
        const struct bw_buf *t = &files->v[i].shown;
        r.file = files->v[i].name;
        bw_buf_init(&r.seen);
        bw_buf_addc(&r.seen, '\n');
        long line = 1;
        for (const char *l = t->data; l < t->data + t->len; l++, line++) {
            const char *end = memchr(l, '\n', (size_t)(t->data + t->len - l));
            if (!end)
                end = t->data + t->len;
            if (*l != '#') { /* a comment sends the installer nowhere */
                const char *m = memmem(l, (size_t)(end - l), mirror, sizeof(mirror) - 1);
                if (m)
                    note_host(&r, m + sizeof(mirror) - 1, end, line);
                for (const char *p = l; (p = memmem(p, (size_t)(end - p), "://", 3)); p += 3)
                    if (!namespace_name(l, p))
                        note_host(&r, p + 3, end, line);
            }
            l = end;
        }
        bw_buf_release(&r.seen);
    }
    return r.count;
}
