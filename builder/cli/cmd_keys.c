#include "cli.h"
#include "../bootcmd/encodings.h"
#include "../base/buf.h"

#include <getopt.h>
#include <string.h>

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"encoding", required_argument, NULL, 'e'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    enum bw_key_encoding enc = BW_ENC_EVENTS;
    int c;
    while ((c = getopt_long(argc, argv, ":he:", opts, NULL)) != -1) {
        if (c == 'e') {
            if (bw_key_encoding_parse(optarg, &enc) < 0)
                return bw_cli_usage_error(&bw_cmd_keys, "--encoding \"%s\": expected one of %s",
                                          optarg, bw_key_encoding_names());
        } else if (c == 'h') {
            return bw_cli_help(&bw_cmd_keys);
        } else {
            return bw_cli_option_error(&bw_cmd_keys, c, argv);
        }
    }
    if (optind >= argc)
        return bw_cli_usage_error(&bw_cmd_keys, "expected a BOOT_COMMAND");
    struct bw_buf cmd = BW_BUF_INIT;
    bw_buf_init(&cmd);
    for (int i = optind; i < argc; i++)
        bw_buf_adds(&cmd, argv[i]);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    int status = BW_EXIT_OK;
    if (bw_bootcmd_compile(cmd.data, cmd.len, "BOOT_COMMAND", &ev, &err) < 0) {
        bw_cli_print_error(&err);
        status = BW_EXIT_FAILED;
    } else {
        struct bw_buf out = BW_BUF_INIT;
        bw_buf_init(&out);
        bw_key_events_format(&ev, enc, &out);
        fwrite(out.data, 1, out.len, stdout);
        bw_buf_release(&out);
    }
    bw_error_release(&err);
    bw_key_events_release(&ev);
    bw_buf_release(&cmd);
    return status;
}

const struct bw_command bw_cmd_keys = {
    "keys",
    "show the key events a boot command types",
    "usage: boxwright keys [--encoding events|qmp|linux|scancode|keysym] BOOT_COMMAND...\n"
    "\n"
    "Compiles a boot command (Packer syntax: text, <enter>, <esc>, <f1>..<f12>,\n"
    "<leftCtrlOn>/<leftCtrlOff> and the other modifiers, <wait>, <wait5>,\n"
    "<wait1m30s>; and boxwright's <expect \"text\"> or <expect /regex/ 2m>, which\n"
    "wait for the guest's screen) and prints one event per line: \"press KEY\",\n"
    "\"release KEY\", \"wait Nms\" or \"expect text|regex \"...\" within Nms\".\n"
    "Several arguments are joined without a separator, as a\n"
    "definition's boot.command list is. Templates ({{ .HTTPIP }}) are not\n"
    "expanded here; use `boxwright render` for that.\n"
    "\n"
    "  --encoding, -e  how keys are named:\n"
    "      events    boxwright's key names (default)\n"
    "      qmp       QEMU QKeyCode names (QMP send-key)\n"
    "      linux     Linux input key codes (libvirt send-key)\n"
    "      scancode  PC set-1 make/break bytes in hex (VirtualBox)\n"
    "      keysym    X11 keysyms (VNC/RFB), following the shift state\n"
    "\n"
    "Exit status: 0; 1 if the command does not compile (the error gives the\n"
    "column); 2 on a usage error.\n",
    run,
};
