#include "cli.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"
#include "../../iso-cache/iso_cache.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How events reach the user: a bar on a TTY, JSON lines, or nothing. */
enum view { VIEW_QUIET, VIEW_TTY, VIEW_JSON };

struct ui {
    enum view view;
    bool bar_open;
};

static void human_bytes(double b, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static const char *const kind_names[] = {"waiting", "cache_hit", "start",  "progress", "resume",
                                         "restart", "retry",     "failed", "verified"};

static void on_event(const struct bw_iso_event *ev, void *ud)
{
    struct ui *ui = ud;
    if (ui->view == VIEW_JSON) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_addf(&b, "{\"event\":\"iso_%s\"", kind_names[ev->kind]);
        if (ev->url) {
            bw_buf_adds(&b, ",\"url\":");
            bw_buf_add_json_string(&b, ev->url);
        }
        bw_buf_addf(&b, ",\"done\":%llu,\"total\":%llu,\"rate\":%.0f,\"attempt\":%u",
                    (unsigned long long)ev->done, (unsigned long long)ev->total, ev->rate,
                    ev->attempt);
        if (ev->detail) {
            bw_buf_adds(&b, ",\"detail\":");
            bw_buf_add_json_string(&b, ev->detail);
        }
        bw_buf_adds(&b, "}\n");
        fputs(b.data, stderr);
        bw_buf_release(&b);
        return;
    }
    if (ui->view != VIEW_TTY)
        return;
    if (ev->kind == BW_ISO_PROGRESS) {
        char done[32], total[32], rate[32], eta[32] = "";
        human_bytes((double)ev->done, done, sizeof(done));
        human_bytes((double)ev->total, total, sizeof(total));
        human_bytes(ev->rate, rate, sizeof(rate));
        int width = 30, fill = 0;
        if (ev->total) {
            fill = (int)((double)width * (double)ev->done / (double)ev->total);
            if (ev->rate > 0) {
                unsigned long s = (unsigned long)((double)(ev->total - ev->done) / ev->rate);
                snprintf(eta, sizeof(eta), " ETA %lu:%02lu", s / 60, s % 60);
            }
        }
        fprintf(stderr, "\r  [%.*s%*s] %s / %s  %s/s%s   ", fill, "##############################",
                width - fill, "", done, ev->total ? total : "?", rate, eta);
        ui->bar_open = true;
        return;
    }
    if (ui->bar_open) {
        fputc('\n', stderr);
        ui->bar_open = false;
    }
    switch (ev->kind) {
    case BW_ISO_WAITING:
        fprintf(stderr, "boxwright: waiting: %s\n", ev->detail);
        break;
    case BW_ISO_HIT:
        fprintf(stderr, "boxwright: in the cache (from %s)\n", ev->url);
        break;
    case BW_ISO_START:
        fprintf(stderr, "boxwright: %s %s%s\n", ev->attempt > 1 ? "retrying" : "fetching", ev->url,
                ev->attempt > 1 ? "" : "");
        break;
    case BW_ISO_RESUME: {
        char at[32];
        human_bytes((double)ev->done, at, sizeof(at));
        fprintf(stderr, "boxwright: resuming at %s\n", at);
        break;
    }
    case BW_ISO_RESTART:
        fprintf(stderr, "boxwright: restarting: %s\n", ev->detail);
        break;
    case BW_ISO_RETRY:
        fprintf(stderr, "boxwright: %s: %s\n", ev->url, ev->detail);
        break;
    case BW_ISO_FAILED:
        fprintf(stderr, "boxwright: %s failed: %s\n", ev->url, ev->detail);
        break;
    case BW_ISO_VERIFIED:
        fprintf(stderr, "boxwright: checksum verified\n");
        break;
    case BW_ISO_PROGRESS:
        break;
    }
}

static int fail(struct bw_error *err)
{
    bw_cli_print_error(err);
    bw_error_release(err);
    return BW_EXIT_FAILED;
}

static int do_fetch(int argc, char **argv, struct ui *ui)
{
    static const struct option opts[] = {{"checksum", required_argument, NULL, 'c'},
                                         {"insecure-skip-checksum", no_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_iso_request req = {0};
    int c;
    while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            req.checksum = optarg;
            break;
        case 'k':
            req.insecure_skip_checksum = true;
            break;
        case 'j':
            ui->view = VIEW_JSON;
            break;
        case 'q':
            ui->view = VIEW_QUIET;
            break;
        case 'h':
            return bw_cli_help(&bw_cmd_iso);
        default:
            return bw_cli_option_error(&bw_cmd_iso, c, argv);
        }
    }
    if (optind >= argc)
        return bw_cli_usage_error(&bw_cmd_iso, "iso fetch: expected at least one URL");
    if (!req.checksum)
        return bw_cli_usage_error(&bw_cmd_iso, "iso fetch: --checksum SPEC is required");
    req.urls = (const char *const *)argv + optind;
    req.n_urls = (size_t)(argc - optind);
    req.on_event = on_event;
    req.ud = ui;
    struct bw_error err = BW_ERROR_INIT;
    char *dir = bw_iso_cache_dir();
    char *path = bw_iso_fetch(dir, &req, &err);
    free(dir);
    if (!path)
        return err.code == BW_ERR_USAGE
                   ? (bw_cli_print_error(&err), bw_error_release(&err), BW_EXIT_USAGE)
                   : fail(&err);
    printf("%s\n", path);
    free(path);
    return BW_EXIT_OK;
}

static int do_verify(int argc, char **argv, struct ui *ui)
{
    static const struct option opts[] = {{"checksum", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *checksum = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
        if (c == 'c')
            checksum = optarg;
        else if (c == 'j')
            ui->view = VIEW_JSON;
        else if (c == 'h')
            return bw_cli_help(&bw_cmd_iso);
        else
            return bw_cli_option_error(&bw_cmd_iso, c, argv);
    }
    if (argc - optind != 1 || !checksum)
        return bw_cli_usage_error(&bw_cmd_iso, "iso verify: expected PATH and --checksum SPEC");
    struct bw_error err = BW_ERROR_INIT;
    char *dir = bw_iso_cache_dir();
    int rc = bw_iso_verify(dir, argv[optind], checksum, on_event, ui, &err);
    free(dir);
    if (ui->bar_open)
        fputc('\n', stderr);
    if (rc < 0)
        return fail(&err);
    printf("%s: OK\n", argv[optind]);
    return BW_EXIT_OK;
}

static int do_ls(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return bw_cli_help(&bw_cmd_iso);
    if (argc > 1)
        return bw_cli_usage_error(&bw_cmd_iso, "iso ls: unexpected argument \"%s\"", argv[1]);
    struct bw_error err = BW_ERROR_INIT;
    char *dir = bw_iso_cache_dir();
    struct bw_iso_entry *v;
    size_t n;
    int rc = bw_iso_list(dir, &v, &n, &err);
    if (rc < 0) {
        free(dir);
        return fail(&err);
    }
    printf("%-24s %-11s %10s  %-40s %s\n", "KEY", "STATE", "SIZE", "NAME", "FROM");
    for (size_t i = 0; i < n; i++) {
        char size[32];
        human_bytes((double)v[i].size, size, sizeof(size));
        bool q = strcmp(v[i].state, "quarantined") == 0;
        printf("%-24.24s %-11s %10s  %-40s %s\n", q ? "quarantine/" : v[i].key, v[i].state, size,
               v[i].name, v[i].url);
    }
    printf("(%zu entr%s in %s)\n", n, n == 1 ? "y" : "ies", dir);
    bw_iso_entries_free(v, n);
    free(dir);
    return BW_EXIT_OK;
}

static int do_rm(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return bw_cli_help(&bw_cmd_iso);
    if (argc < 2)
        return bw_cli_usage_error(&bw_cmd_iso, "iso rm: expected KEY or NAME");
    char *dir = bw_iso_cache_dir();
    int status = BW_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        struct bw_error err = BW_ERROR_INIT;
        if (bw_iso_remove(dir, argv[i], &err) < 0)
            status = fail(&err);
        else
            printf("removed %s\n", argv[i]);
    }
    free(dir);
    return status;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return bw_cli_usage_error(&bw_cmd_iso, "expected fetch, verify, ls or rm");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return bw_cli_help(&bw_cmd_iso);
    struct ui ui = {isatty(2) ? VIEW_TTY : VIEW_QUIET, false};
    if (strcmp(sub, "fetch") == 0)
        return do_fetch(argc - 1, argv + 1, &ui);
    if (strcmp(sub, "verify") == 0)
        return do_verify(argc - 1, argv + 1, &ui);
    if (strcmp(sub, "ls") == 0)
        return do_ls(argc - 1, argv + 1);
    if (strcmp(sub, "rm") == 0)
        return do_rm(argc - 1, argv + 1);
    return bw_cli_usage_error(&bw_cmd_iso, "unknown iso command \"%s\"", sub);
}

const struct bw_command bw_cmd_iso = {
    "iso",
    "fetch, verify, list and remove cached installer ISOs",
    "usage: boxwright iso fetch URL... --checksum SPEC [--insecure-skip-checksum]\n"
    "                           [--json|--quiet]\n"
    "       boxwright iso verify PATH --checksum SPEC [--json]\n"
    "       boxwright iso ls\n"
    "       boxwright iso rm KEY|NAME...\n"
    "\n"
    "The ISO cache keeps files by content in $BOXWRIGHT_CACHE_DIR, else\n"
    "$XDG_CACHE_HOME/boxwright/iso, else ~/.cache/boxwright/iso.\n"
    "\n"
    "fetch   tries each URL in order (https://, http://, file:// or a path) and\n"
    "        prints the path of a verified copy. Downloads are hashed as they\n"
    "        arrive, resume after a cut (HTTP Range with If-Range), retry\n"
    "        transient failures with back-off, then try the next URL. A local\n"
    "        file is verified in place (not copied); its digest is remembered by\n"
    "        path, size and mtime. A file whose digest does not match is moved\n"
    "        to the cache's quarantine/ directory. Concurrent fetches of one file\n"
    "        download it once. A progress bar is drawn on a terminal.\n"
    "verify  checks a local file against a checksum.\n"
    "ls      lists the cache: key, state, size, file name, where it came from;\n"
    "        the state is complete, partial (a download that never finished: it\n"
    "        resumes on the next fetch) or quarantined (its digest did not match).\n"
    "rm      removes entries by key, key prefix (8+ characters) or file name,\n"
    "        partial downloads and quarantined files included.\n"
    "\n"
    "SPEC is sha256:HEX, sha512:HEX, sha1:HEX, md5:HEX, file:URL (a checksum\n"
    "file such as SHA256SUMS; the line is picked by the file name), or none\n"
    "(only with --insecure-skip-checksum).\n"
    "\n"
    "  --json   progress and events as JSON lines on stderr\n"
    "  --quiet  no progress\n"
    "\n"
    "Exit status: 0; 1 if no source gave a verified file (the error lists what\n"
    "each source did) or verification failed; 2 on a usage error.\n",
    run,
};
