/*
 * xml - the text of elements in the small XML documents S3 and EC2 answer
 * with (<UploadId>, <Part>, <Error><Code>, <snapshotId>, ...). Not a general
 * XML parser: elements are found by name, anywhere, in order; their text has
 * the five predefined entities and character references decoded. Bounded by
 * the document's length; tests/fuzz/fuzz_awsxml.c feeds it any bytes.
 */
#ifndef BW_AWS_XML_H
#define BW_AWS_XML_H

#include "../base/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* The next <tag>...</tag> (or <tag attr="...">...</tag>) at or after *pos: its decoded text
 * (markup inside it kept as it is) into text, *pos moved past it. false when there is none. */
bool bw_xml_next(const char *xml, size_t len, const char *tag, size_t *pos, struct bw_buf *text);

/* The first one's text, or NULL (caller frees). */
char *bw_xml_first(const char *xml, size_t len, const char *tag);

#endif
