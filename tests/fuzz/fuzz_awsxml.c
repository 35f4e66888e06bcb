/*
 * libFuzzer target: the elements' text S3 and EC2 answers are read for (aws/xml.c). Whatever
 * the bytes, every element found lies inside them, the scan moves forward, and the text
 * decoded is no longer than the element.
 */
#include "../../builder/aws/xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tags[] = {"Part", "ETag", "Code", "UploadId", "item"};
    const char *xml = (const char *)data;
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
        size_t pos = 0, before = 0;
        while (bw_xml_next(xml, size, tags[t], &pos, &text)) {
            if (pos <= before || pos > size || text.len > pos - before)
                abort();
            before = pos;
        }
    }
    bw_buf_release(&text);
    free(bw_xml_first(xml, size, "Code"));
    return 0;
}
