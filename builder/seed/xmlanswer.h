/*
 * xmlanswer - boxwright's checks of XML answer files (AutoYaST profiles,
 * Windows Autounattend.xml), for `boxwright validate`.
 *
 * The file is parsed by libxml2 without the network, without loading a DTD
 * and without expanding entities; a file that is not well formed is an error
 * at libxml2's line and column. Then, by the root element:
 *   - an AutoYaST profile (`profile` in http://www.suse.com/1.0/yast2ns),
 *     checked as YaST reads it (SUSE's AutoYaST guide; its RELAX NG schema
 *     is not packaged for Debian): every `config:type` is one YaST knows
 *     (boolean, integer, list, symbol) and its element's text fits it; and
 *     what an unattended build needs: `general/mode/confirm` false (else
 *     YaST stops at its summary and waits), a disk layout (`partitioning`),
 *     a user or root with a password (`users`), and sshd enabled
 *     (`services-manager`) or the build waits for SSH in vain;
 *   - a Windows answer file (`unattend` in urn:schemas-microsoft-com:unattend):
 *     every `settings` has a pass Windows Setup knows, every `component` a
 *     name, processorArchitecture, publicKeyToken, language and versionScope;
 *     and windowsPE must accept the EULA and say which image to install.
 *   - any other root: well-formedness only.
 *
 * Errors carry file:line:col. A line that may not be shown (it holds a
 * secret) is never quoted: showable(line) decides.
 */
#ifndef BW_XMLANSWER_H
#define BW_XMLANSWER_H

#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>

/* What the root element made of the file. */
enum bw_xml_kind { BW_XML_OTHER, BW_XML_AUTOYAST, BW_XML_UNATTEND };

/* Checks the XML text[0..len) named file; appends errors to errs and returns their count. Sets
 * *kind (may be NULL) to what the file is. showable(line, ud) says whether line may be quoted;
 * NULL: every line may. */
size_t bw_xml_answer_check(const char *file, const char *text, size_t len,
                           bool (*showable)(long line, void *ud), void *ud, enum bw_xml_kind *kind,
                           struct bw_errors *errs);

#endif
