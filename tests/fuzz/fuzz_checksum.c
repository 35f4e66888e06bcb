/* libFuzzer target: checksum files (GNU, BSD, clear-signed) and checksum specs. */
#include "iso_cache.h"
#include "../../builder/base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_checksum_spec spec;
    struct bw_error err = BW_ERROR_INIT;
    bw_checksum_file_find((const char *)data, size, "x.iso", "SUMS", &spec, &err);
    bw_checksum_spec_release(&spec);
    char *s = bw_xstrndup((const char *)data, size);
    bw_checksum_spec_parse(s, &spec, &err);
    bw_checksum_spec_release(&spec);
    free(s);
    bw_error_release(&err);
    return 0;
}
