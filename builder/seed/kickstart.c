/* Kickstart checks; see kickstart.h. */
#include "kickstart.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a command is to the checks that look at more than one line. */
enum role {
    R_PLAIN,
    R_AUTOPART, /* excludes every manual layout command */
    R_MANUAL,   /* part, logvol, raid, volgroup, btrfs, mount, reqpart */
    R_MODE,     /* text, graphical, cmdline: one of them */
    R_END,      /* poweroff, shutdown, reboot, halt: one of them */
    R_ROOTPW,
    R_USER,
    R_LANG,
    R_KEYBOARD,
    R_TIMEZONE,
};

/* The commands RHEL 9 and current Fedora (44) take: the handlers of pykickstart, Anaconda's
 * parser, less what they mark removed. */
static const struct command {
    const char *name;
    bool many; /* may be given more than once */
    enum role role;
} commands[] = {
    {"authselect", false, R_PLAIN},  {"autopart", false, R_AUTOPART},
    {"bootc", false, R_PLAIN},       {"rdp", false, R_PLAIN},
    {"bootloader", false, R_PLAIN},  {"btrfs", true, R_MANUAL},
    {"cdrom", false, R_PLAIN},       {"clearpart", false, R_PLAIN},
    {"cmdline", false, R_MODE},      {"driverdisk", true, R_PLAIN},
    {"eula", false, R_PLAIN},        {"fcoe", true, R_PLAIN},
    {"firewall", false, R_PLAIN},    {"firstboot", false, R_PLAIN},
    {"graphical", false, R_MODE},    {"group", true, R_PLAIN},
    {"halt", false, R_END},          {"harddrive", false, R_PLAIN},
    {"hmc", false, R_PLAIN},         {"ignoredisk", false, R_PLAIN},
    {"iscsi", true, R_PLAIN},        {"iscsiname", false, R_PLAIN},
    {"keyboard", false, R_KEYBOARD}, {"lang", false, R_LANG},
    {"liveimg", false, R_PLAIN},     {"logging", false, R_PLAIN},
    {"logvol", true, R_MANUAL},      {"mediacheck", false, R_PLAIN},
    {"module", true, R_PLAIN},       {"mount", true, R_MANUAL},
    {"network", true, R_PLAIN},      {"nfs", false, R_PLAIN},
    {"nvdimm", true, R_PLAIN},       {"ostreecontainer", false, R_PLAIN},
    {"ostreesetup", false, R_PLAIN}, {"part", true, R_MANUAL},
    {"partition", true, R_MANUAL},   {"poweroff", false, R_END},
    {"raid", true, R_MANUAL},        {"realm", false, R_PLAIN},
    {"reboot", false, R_END},        {"repo", true, R_PLAIN},
    {"reqpart", false, R_MANUAL},    {"rescue", false, R_PLAIN},
    {"rhsm", false, R_PLAIN},        {"rootpw", false, R_ROOTPW},
    {"selinux", false, R_PLAIN},     {"services", false, R_PLAIN},
    {"shutdown", false, R_END},      {"skipx", false, R_PLAIN},
    {"snapshot", true, R_PLAIN},     {"sshkey", true, R_PLAIN},
    {"sshpw", true, R_PLAIN},        {"syspurpose", false, R_PLAIN},
    {"text", false, R_MODE},         {"timesource", true, R_PLAIN},
    {"timezone", false, R_TIMEZONE}, {"updates", false, R_PLAIN},
    {"url", false, R_PLAIN},         {"user", true, R_USER},
    {"vnc", false, R_PLAIN},         {"volgroup", true, R_MANUAL},
    {"xconfig", false, R_PLAIN},     {"zerombr", false, R_PLAIN},
    {"zfcp", true, R_PLAIN},         {"zipl", false, R_PLAIN},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Commands older kickstarts used that RHEL 9 and current Fedora ignore (deprecated: auth and
 * authconfig on RHEL 9) or refuse, and what took over. */
static const struct removed {
    const char *name, *instead;
} removed[] = {
    {"auth", "authselect"},
    {"authconfig", "authselect"},
    {"install", "no command: the source (url, cdrom, harddrive, nfs, liveimg) says it"},
    {"upgrade", "no command: kickstart no longer upgrades"},
    {"method", "url, cdrom, harddrive or nfs"},
    {"langsupport", "lang"},
    {"lilo", "bootloader"},
    {"lilocheck", "bootloader"},
    {"mouse", "no command"},
    {"key", "no command"},
    {"interactive", "no command"},
    {"autostep", "no command"},
    {"device", "the inst.dd boot option or driverdisk"},
    {"deviceprobe", "no command"},
    {"dmraid", "no command"},
    {"multipath", "no command"},
};

static const char *const sections[] = {"%packages", "%pre",       "%pre-install", "%post",
                                       "%onerror",  "%traceback", "%addon",       "%anaconda"};

struct word {
    char *s;
    int col;
};

struct ks {
    const char *file;
    bool (*showable)(long line, void *ud);
    void *ud;
    struct bw_errors *errs;
    long line;
    struct word *w;
    size_t n, alloc;
};

static void ks_error(struct ks *k, long line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ks_error(struct ks *k, long line, int col, const char *fmt, ...)
{
    struct bw_error e = BW_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(&e, BW_ERR_SCHEMA, k->file, NULL, (int)line, col, fmt, ap);
    va_end(ap);
    bw_errors_take(k->errs, &e);
}

static bool showable(const struct ks *k, long line)
{
    return !k->showable || k->showable(line, k->ud);
}

static void clear_words(struct ks *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->w[i].s);
    k->n = 0;
}

/*
 * Splits line l[0..len) into shell words as Anaconda does (shlex, POSIX mode, comments): quotes,
 * backslashes, and a '#' that starts a word starts a comment. false (with an error) on an
 * unclosed quote.
 */
static bool split(struct ks *k, const char *l, size_t len)
{
    clear_words(k);
    size_t i = 0;
    for (;;) {
        while (i < len && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
            i++;
        if (i == len || l[i] == '#')
            return true;
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        int col = (int)i + 1;
        while (i < len && l[i] != ' ' && l[i] != '\t' && l[i] != '\r') {
            char c = l[i];
            if (c == '\'' || c == '"') {
                size_t open = i++;
                while (i < len && l[i] != c) {
                    if (c == '"' && l[i] == '\\' && i + 1 < len && strchr("\"\\$`", l[i + 1]))
                        i++;
                    bw_buf_add(&b, &l[i++], 1);
                }
                if (i == len) {
                    ks_error(k, k->line, (int)open + 1,
                             "kickstart: this %s quote is never closed: expected a closing %c on "
                             "the same line",
                             c == '"' ? "double" : "single", c);
                    bw_buf_release(&b);
                    return false;
                }
                i++;
            } else if (c == '\\' && i + 1 < len) {
                bw_buf_add(&b, &l[i + 1], 1);
                i += 2;
            } else {
                bw_buf_addc(&b, c);
                i++;
            }
        }
        if (k->n == k->alloc) {
            k->alloc = k->alloc ? 2 * k->alloc : 8;
            k->w = bw_xrealloc(k->w, k->alloc * sizeof(*k->w));
        }
        k->w[k->n].s = bw_buf_detach(&b);
        k->w[k->n++].col = col;
    }
}

/* The value of option --name=VALUE or --name VALUE among the words, or NULL. */
static const char *option(const struct ks *k, const char *name, int *col)
{
    size_t nl = strlen(name);
    for (size_t i = 1; i < k->n; i++) {
        const char *s = k->w[i].s;
        if (strncmp(s, name, nl) != 0)
            continue;
        *col = k->w[i].col;
        if (s[nl] == '=')
            return s + nl + 1;
        if (s[nl] == '\0')
            return i + 1 < k->n ? k->w[i + 1].s : "";
    }
    return NULL;
}

static bool has_flag(const struct ks *k, const char *name)
{
    for (size_t i = 1; i < k->n; i++)
        if (strcmp(k->w[i].s, name) == 0)
            return true;
    return false;
}

static int section_of(const char *w)
{
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strcmp(w, sections[i]) == 0)
            return (int)i;
    return -1;
}

/* A section's header line: what it needs beyond its name. */
static void section_header(struct ks *k)
{
    const char *name = k->w[0].s;
    if (strcmp(name, "%addon") == 0 && (k->n < 2 || k->w[1].s[0] == '-'))
        ks_error(k, k->line, k->w[0].col,
                 "kickstart: %%addon needs the add-on's name: expected e.g. "
                 "\"%%addon com_redhat_kdump --disable\"");
    int col = 0;
    const char *interp = option(k, "--interpreter", &col);
    if (interp && interp[0] != '/')
        ks_error(k, k->line, col,
                 "kickstart: %s --interpreter must be an absolute path: expected e.g. "
                 "--interpreter=/usr/bin/python3",
                 name);
}

struct seen {
    long line[N_COMMANDS]; /* where each command was first given, 0 when not */
    long role_line[R_TIMEZONE + 1];
    const char *role_name[R_TIMEZONE + 1];
    bool included;
};

/* Two commands that exclude each other: the later one is the error. */
static void exclusive(struct ks *k, struct seen *s, const struct command *c, enum role other,
                      const char *why)
{
    if (!s->role_line[other] || (other == c->role && s->role_name[other] == c->name))
        return;
    ks_error(k, k->line, k->w[0].col, "kickstart: %s and %s (line %ld) cannot both be given: %s",
             c->name, s->role_name[other], s->role_line[other], why);
}

static void command_line(struct ks *k, struct seen *s)
{
    const char *name = k->w[0].s;
    int col = k->w[0].col;
    size_t i = 0;
    while (i < N_COMMANDS && strcmp(commands[i].name, name) != 0)
        i++;
    if (i == N_COMMANDS) {
        for (size_t r = 0; r < sizeof(removed) / sizeof(removed[0]); r++)
            if (strcmp(removed[r].name, name) == 0) {
                ks_error(k, k->line, col,
                         "kickstart: %s is no longer a command (RHEL 9 and current Fedora "
                         "ignore or refuse it): expected %s",
                         name, removed[r].instead);
                return;
            }
        if (showable(k, k->line))
            ks_error(k, k->line, col,
                     "kickstart: unknown command \"%s\": expected a command of RHEL 9 or Fedora "
                     "kickstart (lang, keyboard, rootpw, part, %%packages, ...)",
                     name);
        else
            ks_error(k, k->line, col,
                     "kickstart: unknown command (not shown: a sensitive value is on this line): "
                     "expected a command of RHEL 9 or Fedora kickstart");
        return;
    }
    const struct command *c = &commands[i];
    if (s->line[i] && !c->many)
        ks_error(k, k->line, col,
                 "kickstart: %s is given again (first on line %ld): expected it once (Anaconda "
                 "keeps only the last)",
                 name, s->line[i]);
    if (!s->line[i])
        s->line[i] = k->line;
    switch (c->role) {
    case R_AUTOPART:
        exclusive(k, s, c, R_MANUAL, "autopart lays the disk out itself");
        break;
    case R_MANUAL:
        exclusive(k, s, c, R_AUTOPART, "autopart lays the disk out itself");
        break;
    case R_MODE:
        exclusive(k, s, c, R_MODE, "the installer runs in one mode");
        break;
    case R_END:
        exclusive(k, s, c, R_END, "the install ends one way");
        break;
    case R_ROOTPW: {
        size_t args = 0;
        for (size_t w = 1; w < k->n; w++)
            args += k->w[w].s[0] != '-';
        if (!args && !has_flag(k, "--lock"))
            ks_error(k, k->line, col,
                     "kickstart: rootpw without a password: expected \"rootpw --plaintext "
                     "PASSWORD\", \"rootpw --iscrypted HASH\" or \"rootpw --lock\"");
        break;
    }
    case R_USER: {
        int ncol = 0;
        const char *v = option(k, "--name", &ncol);
        if (!v || !*v)
            ks_error(k, k->line, col,
                     "kickstart: user without --name: expected \"user --name=NAME ...\"");
        break;
    }
    default:
        break;
    }
    if (!s->role_line[c->role]) {
        s->role_line[c->role] = k->line;
        s->role_name[c->role] = c->name;
    }
}

/* What an unattended install needs from the whole file. */
static void needs(struct ks *k, const struct seen *s)
{
    if (!s->role_line[R_AUTOPART] && !s->role_line[R_MANUAL])
        ks_error(k, 0, 0,
                 "kickstart: no disk layout: expected autopart, or part/logvol/raid/btrfs/mount "
                 "(without one Anaconda asks how to partition)");
    if (!s->role_line[R_ROOTPW] && !s->role_line[R_USER])
        ks_error(k, 0, 0,
                 "kickstart: neither rootpw nor user: expected one (without them Anaconda asks "
                 "for a root password)");
    static const struct {
        enum role role;
        const char *what;
    } asked[] = {{R_LANG, "lang, e.g. \"lang en_US.UTF-8\""},
                 {R_KEYBOARD, "keyboard, e.g. \"keyboard us\""},
                 {R_TIMEZONE, "timezone, e.g. \"timezone UTC\""}};
    for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++)
        if (!s->role_line[asked[i].role])
            ks_error(k, 0, 0, "kickstart: expected %s (without it Anaconda asks)", asked[i].what);
    const char *end = s->role_name[R_END];
    if (!end)
        ks_error(k, 0, 0,
                 "kickstart: no poweroff: Anaconda halts at the end by default, and a build "
                 "waits for the installer to power off; expected \"poweroff\"");
    else if (strcmp(end, "reboot") == 0 || strcmp(end, "halt") == 0)
        ks_error(k, s->role_line[R_END], 1,
                 "kickstart: %s: a build waits for the installer to power off, which %s "
                 "does not do (%s); expected \"poweroff\"",
                 end, end,
                 strcmp(end, "reboot") == 0 ? "it boots the installed system"
                                            : "it stops the machine and leaves it on");
}

size_t bw_kickstart_check(const char *file, const char *text, size_t len,
                          bool (*show)(long line, void *ud), void *ud, struct bw_errors *errs)
{
    size_t before = errs->n;
    struct ks k = {file, show, ud, errs, 0, NULL, 0, 0};
    struct seen s;
    memset(&s, 0, sizeof(s));
    int open = -1; /* the section we are in */
    long open_line = 0;
    const char *p = text ? text : "", *end = p + (text ? len : 0);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        k.line++;
        const char *l = p;
        p = nl ? nl + 1 : end;
        size_t lead = 0;
        while (lead < n && (l[lead] == ' ' || l[lead] == '\t'))
            lead++;
        if (open >= 0) {
            /* A section's body is its own language (shell, package names): only a line that
             * is a section keyword matters. */
            if (lead == n || l[lead] != '%' || !split(&k, l, n) || !k.n)
                continue;
            if (strcmp(k.w[0].s, "%end") == 0)
                open = -1;
            else if (section_of(k.w[0].s) >= 0)
                ks_error(&k, k.line, k.w[0].col,
                         "kickstart: %s starts inside %s (line %ld): expected %%end first",
                         k.w[0].s, sections[open], open_line);
            continue;
        }
        if (!split(&k, l, n) || !k.n)
            continue;
        const char *w = k.w[0].s;
        if (w[0] != '%') {
            command_line(&k, &s);
            continue;
        }
        int sec = section_of(w);
        if (sec >= 0) {
            section_header(&k);
            open = sec;
            open_line = k.line;
        } else if (strcmp(w, "%include") == 0 || strcmp(w, "%ksappend") == 0) {
            s.included = true;
            if (k.n < 2)
                ks_error(&k, k.line, k.w[0].col, "kickstart: %s needs a file: expected %s PATH", w,
                         w);
        } else if (strcmp(w, "%end") == 0) {
            ks_error(&k, k.line, k.w[0].col,
                     "kickstart: %%end outside a section: expected it after %%packages, %%pre, "
                     "%%post, ...");
        } else {
            ks_error(&k, k.line, k.w[0].col,
                     "kickstart: unknown section%s%s%s: expected %%packages, %%pre, %%pre-install, "
                     "%%post, %%onerror, %%traceback, %%addon or %%anaconda",
                     showable(&k, k.line) ? " \"" : "", showable(&k, k.line) ? w : "",
                     showable(&k, k.line) ? "\"" : "");
        }
    }
    if (open >= 0)
        ks_error(&k, open_line, 1, "kickstart: %s is never closed: expected %%end", sections[open]);
    if (!s.included)
        needs(&k, &s);
    clear_words(&k);
    free(k.w);
    return errs->n - before;
}
