#include "cli.h"
#include "../base/buf.h"
#include "../core/prepare.h"
#include "../base/xmalloc.h"
#include "../../http-server/http_server.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct log_opts {
    bool json;
    bool quiet;
};

static void log_event(const struct bw_http_event *ev, void *ud)
{
    const struct log_opts *lo = ud;
    struct tm tm;
    char when[32];
    gmtime_r(&ev->when.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char path[2048];
    bw_http_printable(ev->path, path, sizeof(path));
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    if (lo->json) {
        bw_buf_addf(&b, "{\"event\":\"http_request\",\"time\":\"%s\",\"client\":", when);
        bw_buf_add_json_string(&b, ev->client);
        bw_buf_adds(&b, ",\"method\":");
        bw_buf_add_json_string(&b, ev->method);
        bw_buf_adds(&b, ",\"path\":");
        bw_buf_add_json_string(&b, path);
        bw_buf_addf(&b, ",\"status\":%u,\"bytes\":%llu,\"completed\":%s}\n", ev->status,
                    (unsigned long long)ev->bytes, ev->completed ? "true" : "false");
    } else {
        bw_buf_addf(&b, "%s %s %s %s %u %llu%s\n", when, ev->client, ev->method, path, ev->status,
                    (unsigned long long)ev->bytes, ev->completed ? "" : " (aborted)");
    }
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    bw_buf_release(&b);
}

static int parse_ports(const char *s, unsigned *lo, unsigned *hi)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (end == s)
        return -1;
    if (*end == '-') {
        const char *q = end + 1;
        b = strtoul(q, &end, 10);
        if (end == q)
            return -1;
    }
    if (*end || a > 65535 || b > 65535 || b < a)
        return -1;
    *lo = (unsigned)a;
    *hi = (unsigned)b;
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"var", required_argument, NULL, 'v'},
                                         {"var-file", required_argument, NULL, 'f'},
                                         {"bind", required_argument, NULL, 'b'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"listing", no_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"max-rate", required_argument, NULL, 'r'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_var_opts vo = {0};
    struct bw_http_config cfg = {0};
    struct log_opts lo = {false, false};
    cfg.bind_address = "127.0.0.1";
    cfg.port_min = 8100;
    cfg.port_max = 8199;
    int c, status = BW_EXIT_OK;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
        case 'f':
            bw_var_opts_add(&vo, c == 'f', optarg);
            break;
        case 'b':
            cfg.bind_address = optarg;
            break;
        case 'p':
            if (parse_ports(optarg, &cfg.port_min, &cfg.port_max) < 0) {
                bw_var_opts_release(&vo);
                return bw_cli_usage_error(&bw_cmd_serve,
                                          "--port \"%s\": expected N or MIN-MAX (0-65535)", optarg);
            }
            break;
        case 'l':
            cfg.listing = true;
            break;
        case 'j':
            lo.json = true;
            break;
        case 'q':
            lo.quiet = true;
            break;
        case 't': {
            char *end;
            unsigned long t = strtoul(optarg, &end, 10);
            if (*end || end == optarg || t == 0 || t > 64) {
                bw_var_opts_release(&vo);
                return bw_cli_usage_error(&bw_cmd_serve, "--threads \"%s\": expected 1 to 64",
                                          optarg);
            }
            cfg.threads = (unsigned)t;
            break;
        }
        case 'r': {
            char *end;
            errno = 0;
            unsigned long r = strtoul(optarg, &end, 10);
            /* strtoul takes "-5" and wraps it to a huge number: no limit at all. */
            if (*end || end == optarg || optarg[strspn(optarg, " ")] == '-' || errno ||
                r >= UINT32_MAX) {
                bw_var_opts_release(&vo);
                return bw_cli_usage_error(&bw_cmd_serve,
                                          "--max-rate \"%s\": expected a number of requests per "
                                          "second from 0 (no limit) to 4294967294",
                                          optarg);
            }
            cfg.max_requests_per_s = r ? (unsigned)r : UINT32_MAX;
            break;
        }
        case 'h':
            bw_var_opts_release(&vo);
            return bw_cli_help(&bw_cmd_serve);
        default:
            bw_var_opts_release(&vo);
            return bw_cli_option_error(&bw_cmd_serve, c, argv);
        }
    }
    if (argc - optind != 1) {
        bw_var_opts_release(&vo);
        return bw_cli_usage_error(&bw_cmd_serve, "expected one DIR, TEMPLATE or FILE");
    }
    const char *arg = argv[optind];
    cfg.on_event = lo.quiet ? NULL : log_event;
    cfg.ud = &lo;
    struct bw_definition *def = NULL;
    struct bw_http_server *srv = NULL;
    struct bw_error err = BW_ERROR_INIT;
    char *dir = NULL;
    bool serve_dir = is_dir(arg);
    if (serve_dir) {
        cfg.directory = arg;
    } else {
        def = bw_cli_load(arg, &vo, &status);
        if (!def)
            goto out;
        if (def->http.directory) {
            dir = bw_definition_file(def, ".http.directory", def->http.directory, &err);
            if (!dir)
                goto fail;
            cfg.directory = dir;
        }
        cfg.proxy_allow = (const char *const *)def->http.proxy_allow.v;
        cfg.n_proxy_allow = def->http.proxy_allow.n;
    }
    srv = bw_http_new(&cfg);
    if (bw_http_bind(srv, &err) < 0)
        goto fail;
    if (def) {
        /* Rendered files name the address and port the guest uses; default to ours. */
        char port[16];
        snprintf(port, sizeof(port), "%u", bw_http_port(srv));
        if (strcmp(bw_vars_get(&def->vars, "HTTPPort")->origin, "--var") != 0)
            bw_vars_set_string(&def->vars, "HTTPPort", port, "bound port");
        if (strcmp(bw_vars_get(&def->vars, "HTTPIP")->origin, "--var") != 0)
            bw_vars_set_string(&def->vars, "HTTPIP", cfg.bind_address, "bind address");
        bw_definition_set_proxy_var(def, "bound port");
        struct bw_errors errs = BW_ERRORS_INIT;
        struct bw_rendered files = BW_RENDERED_INIT;
        bw_prepare_answer_files(def, &files, &errs);
        for (size_t i = 0; i < errs.n; i++)
            bw_cli_print_error(&errs.v[i]);
        for (size_t i = 0; i < files.n && !errs.n; i++)
            if (bw_http_add_file(srv, files.v[i].name, files.v[i].data.data, files.v[i].data.len,
                                 &err) < 0)
                break;
        bool bad = errs.n || err.msg;
        bw_rendered_release(&files);
        bw_errors_release(&errs);
        if (bad) {
            if (err.msg)
                bw_cli_print_error(&err);
            status = BW_EXIT_FAILED;
            goto out;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the server's threads start */
    if (bw_http_start(srv, &err) < 0)
        goto fail;
    fprintf(stderr, "boxwright: serving %s on http://%s:%u/ (Ctrl-C to stop)\n",
            def ? def->name : arg, cfg.bind_address, bw_http_port(srv));
    int sig;
    sigwait(&set, &sig);
    fprintf(stderr, "boxwright: stopped (%s)\n", sig == SIGINT ? "interrupt" : "terminate");
    goto out;
fail:
    bw_cli_print_error(&err);
    status = BW_EXIT_FAILED;
out:
    bw_http_stop(srv);
    bw_error_release(&err);
    bw_definition_free(def);
    bw_var_opts_release(&vo);
    free(dir);
    return status;
}

const struct bw_command bw_cmd_serve = {
    "serve",
    "serve a directory or a template's answer files over HTTP",
    "usage: boxwright serve [--var NAME=VALUE]... [--var-file FILE]... [--bind ADDR]\n"
    "                       [--port N|MIN-MAX] [--listing] [--json|--quiet] [--max-rate N]\n"
    "                       DIR|TEMPLATE|FILE\n"
    "\n"
    "Serves files over HTTP until interrupted (Ctrl-C or SIGTERM): a directory\n"
    "as it is, or a template's answer files rendered by the template engine\n"
    "plus its http.directory. HTTPIP and HTTPPort are the bind address and the\n"
    "port bound, unless set with --var (for a QEMU user-network guest the host's\n"
    "loopback is 10.0.2.2). GET and HEAD only; byte ranges, ETag and\n"
    "Last-Modified are supported; nothing outside the directory is reachable.\n"
    "A template whose http.proxy_allow names hosts is also an HTTP proxy to those\n"
    "hosts and no others (HTTPProxy is this server's URL).\n"
    "Each request is logged on stdout: time, client, method, path, status, bytes.\n"
    "\n"
    "  --bind ADDR       address to listen on (default 127.0.0.1)\n"
    "  --port N|MIN-MAX  port, or the first free one in a range (default 8100-8199)\n"
    "  --listing         list directories (off by default)\n"
    "  --json            log one JSON object per request\n"
    "  --quiet           log nothing per request\n"
    "  --threads N       serving threads (default: two per CPU)\n"
    "  --max-rate N      requests per second per client before 429 (default 2000;\n"
    "                    0 for no limit)\n"
    "  --var, --var-file as for render\n"
    "\n"
    "Exit status: 0 when stopped by a signal; 1 if serving failed (no free port,\n"
    "unreadable directory, a file that does not render); 2 on a usage error.\n",
    run,
};
