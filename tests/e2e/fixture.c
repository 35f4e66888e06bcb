#include "fixture.h"
#include "../../builder/core/spawn.h"
#include "../../builder/core/xmalloc.h"

#include <check.h>
#include <sys/stat.h>

char *e2e_fixture_iso(void)
{
    char *iso = bw_xasprintf("%s/tiny-installer.iso", BW_FIXTURE_DIR);
    struct stat st, script;
    ck_assert_int_eq(stat(BW_FIXTURE_SCRIPT, &script), 0);
    if (stat(iso, &st) != 0 || st.st_mtime < script.st_mtime) {
        mkdir(BW_FIXTURE_DIR, 0755);
        char *argv[] = {BW_FIXTURE_SCRIPT, iso, NULL};
        struct bw_spawn_result res;
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
        ck_assert_msg(rc == 0, "building the fixture ISO: %s", err.msg);
        bw_spawn_result_release(&res);
    }
    return iso;
}
