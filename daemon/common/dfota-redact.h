// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-redact.h: URLs as they may be shown, without their secrets.
 *
 * A package URL can carry credentials: a password in its userinfo (http://fw:pw@host/…) or a
 * presigned query (…?X-Amz-Signature=…). Everything the daemon shows — the Job property,
 * LastResult, Finished, the journal, STATUS=, log lines, error messages, the --verbose AT
 * trace — goes through these functions; only the bytes written to the tty and libcurl's own
 * request carry the URL as given. Pure functions: strings in, new strings out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The string shown for every redacted part. */
#define DFOTA_REDACTED "***"

/* @url as it may be shown:
 *   - the scheme, the user name, the host, the port and the path are kept;
 *   - a password becomes "***" (http://fw:***@host/); a user name that is not plain
 *     (percent-escapes, which may hide a ':', or unusual characters) goes with it
 *     ("***@host/" after the scheme);
 *   - every query value becomes "***" (?X-Amz-Signature=***&b=***), keys are kept; a
 *     query parameter without '=' may itself be a token and becomes "***";
 *   - the fragment is dropped (it never reaches a server);
 *   - a URL that does not parse one way only — an '@' after the host, a port that is not
 *     a number — keeps only its scheme, followed by "***".
 * Without a "scheme://", the string is read as what would follow it. NULL gives "". Never
 * fails; when in doubt, more is redacted. */
char *dfota_url_redact(const char *url);

/* @text with every URL in it ("scheme://" up to a space, a quote, '<', '>' or a control
 * character) redacted as dfota_url_redact() does. For log lines, error messages and AT
 * command lines (AT+QFOTADL="http://…"). NULL gives "". */
char *dfota_text_redact_urls(const char *text);

G_END_DECLS
