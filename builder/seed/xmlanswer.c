/* Checks of XML answer files; see xmlanswer.h. */
#include "xmlanswer.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define YAST_NS     "http://www.suse.com/1.0/yast2ns"
#define CONFIG_NS   "http://www.suse.com/1.0/configns"
#define UNATTEND_NS "urn:schemas-microsoft-com:unattend"

struct xa {
    const char *file;
    bool (*showable)(long line, void *ud);
    void *ud;
    struct bw_errors *errs;
    size_t count;
    int last_code; /* libxml2's code of the last parse error */
};

static void xa_error(struct xa *x, long line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void xa_error(struct xa *x, long line, int col, const char *fmt, ...)
{
    struct bw_error e = BW_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(&e, BW_ERR_SCHEMA, x->file, NULL, (int)line, line > 0 ? col : 0, fmt, ap);
    va_end(ap);
    bw_errors_take(x->errs, &e);
    x->count++;
}

static bool may_show(const struct xa *x, long line)
{
    return !x->showable || x->showable(line, x->ud);
}

/* libxml2's messages end in a newline and may quote the line's words. */
static void parse_error(void *ud, xmlErrorPtr e)
{
    struct xa *x = ud;
    if (!e || e->level < XML_ERR_ERROR)
        return;
    long line = e->line > 0 ? e->line : 0;
    /* libxml2 says some things once per place it meets them (an entity loop): once is enough */
    if (x->last_code == e->code && x->count) /* (the same error again) */
        return;
    x->last_code = e->code;
    if (!may_show(x, line)) {
        xa_error(x, line, e->int2 > 0 ? e->int2 : 1,
                 "XML: not well formed (the words are not shown: a sensitive value is on this "
                 "line)");
        return;
    }
    size_t n = e->message ? strlen(e->message) : 0;
    while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        n--;
    xa_error(x, line, e->int2 > 0 ? e->int2 : 1, "XML: %.*s: expected well-formed XML", (int)n,
             e->message ? e->message : "");
}

static bool named(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (named(c, name))
            return c;
    return NULL;
}

/* The element's own text (its text and CDATA children; an entity reference is not expanded,
 * so no file is read and no entity bomb goes off), blanks around it cut. Caller frees. */
static char *text_of(const xmlNode *n)
{
    struct bw_buf all = BW_BUF_INIT;
    bw_buf_init(&all);
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
            bw_buf_adds(&all, (const char *)c->content);
    bw_buf_rtrim(&all);
    size_t from = strspn(all.data, " \t\n\r");
    char *text = bw_xstrdup(all.data + from);
    bw_buf_release(&all);
    return text;
}

static bool text_is(const xmlNode *n, const char *want)
{
    char *t = text_of(n);
    bool is = strcmp(t, want) == 0;
    free(t);
    return is;
}

static long line_of(const xmlNode *n)
{
    return n ? xmlGetLineNo(n) : 0;
}

/* ---- AutoYaST ---- */

/* The YaST type an element declares: config:type="..." or (newer YaST) t="..."; NULL: none. */
static xmlChar *yast_type(const xmlNode *n)
{
    xmlChar *t = xmlGetNsProp(n, (const xmlChar *)"type", (const xmlChar *)CONFIG_NS);
    return t ? t : xmlGetNoNsProp(n, (const xmlChar *)"t");
}

static bool is_integer(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Every element's declared type is one YaST knows, and its text fits it. */
static void yast_types(struct xa *x, const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *type = yast_type(c);
        if (type) {
            const char *t = (const char *)type;
            long line = line_of(c);
            bool show = may_show(x, line);
            char *v = text_of(c);
            if (strcmp(t, "boolean") == 0) {
                if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                    xa_error(x, line, 1,
                             "AutoYaST: <%s> is a boolean%s%s%s: expected true or false", c->name,
                             show ? " but says \"" : "", show ? v : "", show ? "\"" : "");
            } else if (strcmp(t, "integer") == 0) {
                if (!is_integer(v))
                    xa_error(x, line, 1,
                             "AutoYaST: <%s> is an integer%s%s%s: expected digits, e.g. 512",
                             c->name, show ? " but says \"" : "", show ? v : "", show ? "\"" : "");
            } else if (strcmp(t, "list") == 0) {
                bool elements = false;
                for (const xmlNode *k = c->children; k; k = k->next)
                    elements = elements || k->type == XML_ELEMENT_NODE;
                if (!elements && *v)
                    xa_error(x, line, 1,
                             "AutoYaST: <%s> is a list but holds text: expected one element per "
                             "item, e.g. <service>sshd</service>",
                             c->name);
            } else if (strcmp(t, "symbol") == 0) {
                if (!*v)
                    xa_error(x, line, 1,
                             "AutoYaST: <%s> is a symbol but empty: expected a "
                             "word, e.g. btrfs",
                             c->name);
            } else {
                xa_error(x, line, 1,
                         "AutoYaST: <%s> has type \"%s\": expected boolean, integer, list or "
                         "symbol (text needs no type)",
                         c->name, t);
            }
            free(v);
            xmlFree(type);
        }
        yast_types(x, c);
    }
}

/* A boolean YaST reads as one: typed so (untyped, the text is a string to YaST) and saying
 * want. */
static bool yast_bool(const xmlNode *n, const char *want)
{
    xmlChar *type = n ? yast_type(n) : NULL;
    bool is = type && strcmp((const char *)type, "boolean") == 0 && text_is(n, want);
    xmlFree(type);
    return is;
}

static bool yast_true(const xmlNode *n)
{
    return yast_bool(n, "true");
}

static void yast_needs(struct xa *x, const xmlNode *root)
{
    const xmlNode *general = child(root, "general");
    const xmlNode *mode = child(general, "mode");
    const xmlNode *at = mode ? mode : general ? general : root;
    const xmlNode *confirm = child(mode, "confirm");
    if (!yast_bool(confirm, "false"))
        xa_error(x, line_of(confirm ? confirm : at), 1,
                 "AutoYaST: an unattended install needs <confirm config:type=\"boolean\">false"
                 "</confirm> in general/mode: without it YaST stops at its installation summary "
                 "and waits for a click");
    /* A build's install step waits for the installer to power off; then it boots the disk. */
    const xmlNode *final_halt = child(mode, "final_halt"), *halt = child(mode, "halt");
    const xmlNode *second = child(mode, "second_stage");
    bool off = yast_true(final_halt) || (yast_true(halt) && yast_bool(second, "false"));
    if (!off)
        xa_error(x, line_of(final_halt ? final_halt : at), 1,
                 "AutoYaST: the install must end powered off: expected <final_halt "
                 "config:type=\"boolean\">true</final_halt> in general/mode (a build waits for "
                 "the installer to power off; a reboot starts the installed system in the "
                 "installer's VM and the build waits out its timeout)");
    if (yast_true(child(mode, "final_reboot")))
        xa_error(x, line_of(child(mode, "final_reboot")), 1,
                 "AutoYaST: final_reboot true reboots instead of powering off: expected false "
                 "(or none) with final_halt true");

    /* Someone the build can log in as. */
    bool login = false;
    const xmlNode *users = child(root, "users");
    for (const xmlNode *u = users ? users->children : NULL; u; u = u->next) {
        if (!named(u, "user") || !child(u, "username"))
            continue;
        char *pw = text_of(child(u, "user_password"));
        login = login || *pw || child(u, "authorized_keys");
        free(pw);
    }
    if (!login)
        xa_error(x, line_of(users ? users : root), 1,
                 "AutoYaST: no user has a password or an authorized key (users/user with "
                 "username and user_password or authorized_keys): the build cannot log in over "
                 "SSH");

    /* sshd running on the installed system, or SSH never answers. */
    bool sshd = false;
    const xmlNode *sm = child(root, "services-manager");
    const xmlNode *enable = child(child(sm, "services"), "enable");
    for (const xmlNode *s = enable ? enable->children : NULL; s; s = s->next)
        sshd = sshd || (named(s, "service") && (text_is(s, "sshd") || text_is(s, "sshd.service")));
    if (!sshd)
        xa_error(x,
                 line_of(enable ? enable
                         : sm   ? sm
                                : root),
                 1,
                 "AutoYaST: sshd is not enabled: expected <service>sshd</service> in "
                 "services-manager/services/enable (the build waits for SSH on the installed "
                 "system)");
}

/* ---- Windows ---- */

static void unattend_checks(struct xa *x, const xmlNode *root)
{
    static const char *const passes[] = {"windowsPE",  "offlineServicing", "generalize",
                                         "specialize", "auditSystem",      "auditUser",
                                         "oobeSystem"};
    static const char *const attrs[] = {"name", "processorArchitecture", "publicKeyToken",
                                        "language", "versionScope"};
    const xmlNode *pe = NULL;
    for (const xmlNode *s = root->children; s; s = s->next) {
        if (!named(s, "settings"))
            continue;
        xmlChar *pass = xmlGetNoNsProp(s, (const xmlChar *)"pass");
        bool known = false;
        for (size_t i = 0; pass && i < sizeof(passes) / sizeof(passes[0]); i++)
            known = known || strcmp((const char *)pass, passes[i]) == 0;
        bool show = pass && may_show(x, line_of(s));
        if (!known)
            xa_error(x, line_of(s), 1,
                     "Autounattend: <settings> pass%s%s%s: expected windowsPE, "
                     "offlineServicing, generalize, specialize, auditSystem, auditUser or "
                     "oobeSystem",
                     show   ? " \""
                     : pass ? " (not shown: a sensitive value is on this line)"
                            : "",
                     show ? (const char *)pass : "", show ? "\"" : "");
        if (pass && strcmp((const char *)pass, "windowsPE") == 0)
            pe = s;
        xmlFree(pass);
        for (const xmlNode *c = s->children; c; c = c->next) {
            if (!named(c, "component"))
                continue;
            for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
                xmlChar *v = xmlGetNoNsProp(c, (const xmlChar *)attrs[i]);
                if (!v || !*v)
                    xa_error(x, line_of(c), 1,
                             "Autounattend: <component> without %s: Windows Setup ignores a "
                             "component it cannot match (expected e.g. name=\"Microsoft-Windows-"
                             "Setup\" processorArchitecture=\"amd64\" publicKeyToken="
                             "\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\")",
                             attrs[i]);
                xmlFree(v);
            }
        }
    }
    /* windowsPE's Setup component: the EULA and the image, or Setup asks for both. */
    const xmlNode *setup = NULL;
    for (const xmlNode *c = pe ? pe->children : NULL; c; c = c->next) {
        xmlChar *name = named(c, "component") ? xmlGetNoNsProp(c, (const xmlChar *)"name") : NULL;
        if (name && strcmp((const char *)name, "Microsoft-Windows-Setup") == 0)
            setup = c;
        xmlFree(name);
    }
    if (!setup) {
        xa_error(x, line_of(pe ? pe : root), 1,
                 "Autounattend: no Microsoft-Windows-Setup component in the windowsPE pass: "
                 "Setup asks for the disk, the image and the licence terms");
        return;
    }
    if (!text_is(child(child(setup, "UserData"), "AcceptEula"), "true"))
        xa_error(x, line_of(setup), 1,
                 "Autounattend: expected <UserData><AcceptEula>true</AcceptEula></UserData> in "
                 "Microsoft-Windows-Setup: Setup stops at the licence terms");
    if (!child(child(setup, "ImageInstall"), "OSImage"))
        xa_error(x, line_of(setup), 1,
                 "Autounattend: expected <ImageInstall><OSImage> in Microsoft-Windows-Setup: "
                 "Setup asks which image to install and where");
}

static bool in_ns(const xmlNode *n, const char *ns)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

size_t bw_xml_answer_check(const char *file, const char *text, size_t len,
                           bool (*showable)(long line, void *ud), void *ud, enum bw_xml_kind *kind,
                           struct bw_errors *errs)
{
    struct xa x = {file, showable, ud, errs, 0, -1};
    if (kind)
        *kind = BW_XML_OTHER;
    if (len > (size_t)0x7fffffff) {
        xa_error(&x, 0, 0, "XML: the file is too large (%zu bytes)", len);
        return x.count;
    }
    xmlSetStructuredErrorFunc(&x, parse_error);
    /* No network, no DTD loaded, entities left as references, libxml2's size limits kept. */
    xmlDocPtr doc = xmlReadMemory(text, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (!doc) {
        if (!x.count)
            xa_error(&x, 1, 1, "XML: not well formed: expected an XML document");
        return x.count;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (root && named(root, "profile") && in_ns(root, YAST_NS)) {
        if (kind)
            *kind = BW_XML_AUTOYAST;
        yast_types(&x, root);
        yast_needs(&x, root);
    } else if (root && named(root, "profile")) {
        xa_error(&x, line_of(root), 1,
                 "AutoYaST: <profile> outside YaST's namespace: expected "
                 "xmlns=\"" YAST_NS "\" (YaST reads nothing else)");
    } else if (root && named(root, "unattend")) {
        if (kind)
            *kind = BW_XML_UNATTEND;
        if (!in_ns(root, UNATTEND_NS))
            xa_error(&x, line_of(root), 1,
                     "Autounattend: <unattend> outside Windows Setup's namespace: expected "
                     "xmlns=\"" UNATTEND_NS "\"");
        else
            unattend_checks(&x, root);
    }
    xmlFreeDoc(doc);
    return x.count;
}
