// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-cmdline.h: a V.250 command line split into its commands, and the table of commands a
 * caller of org.dfotad1.Modem.Command may not send.
 *
 * A check on the raw text can be dodged (ATI&F, ATIE1, AT+CGMR;+QSCLK=1, a quote left open),
 * so a line is first split the way a module's parser reads it, and every command is checked
 * on its own. Pure functions: strings in, commands or a named GError (DFOTA_ERROR) out.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DFOTA_CMDLINE_MAX 1024

typedef enum {
	DFOTA_CMDLINE_BASIC,    /* a letter, "&X" or "\X", then digits, "?" or "=digits" */
	DFOTA_CMDLINE_SREG,     /* S<n>=<v>, S<n>? or S<n> (selects the register for "AT=v") */
	DFOTA_CMDLINE_DIAL,     /* D and the whole rest of the line, as V.250 says */
	DFOTA_CMDLINE_EXTENDED, /* +NAME (or a vendor prefix $ ^ % * # !) and its parameters */
} DfotaCmdlineKind;

typedef struct {
	DfotaCmdlineKind kind;
	char *name;         /* normalised as written: "E", "&F", "S03", "D", "+CGMR" */
	char *args;         /* normalised text after the name: "1", "?", "=?", "=1,\"a;b\"", "" */
	gint64 sreg;        /* the S-register's number (SREG; -1 for a bare "S", capped at
	                     * G_MAXINT32); -1 for other kinds */
	gboolean separator; /* a ';' followed the command in the line */
} DfotaCmdlineCommand;

void dfota_cmdline_command_free(DfotaCmdlineCommand *cmd);

/* The line normalised as V.250 reads it: spaces outside "…" strings removed, letters outside
 * strings upper-cased. No checks; NULL in, NULL out. */
char *dfota_cmdline_normalise(const char *line);

/* Splits @line ("AT" then commands) into its commands, in order: a GPtrArray of
 * DfotaCmdlineCommand* (free function set; empty for a bare "AT"). NULL and
 * DFOTA_ERROR_INVALID_COMMAND when the line cannot be split unambiguously: no "AT", more than
 * DFOTA_CMDLINE_MAX bytes, a byte outside printable ASCII, an unterminated string, a
 * backslash before a quote inside a string (modules differ on whether it escapes), a space
 * inside an extended command's name, an empty command (";;"), or text no V.250 command
 * starts with. */
GPtrArray *dfota_cmdline_split(const char *line, GError **error);

/* "AT" followed by every command's name, arguments and ';' separator: equal to
 * dfota_cmdline_normalise() of the line that was split. */
char *dfota_cmdline_join(GPtrArray *commands);

/* NULL when @cmd may go to the module; otherwise the reason it is refused: a static string
 * saying why and what to use instead. */
const char *dfota_cmdline_refusal(const DfotaCmdlineCommand *cmd);

/* Splits and checks a whole line: every command on its own. DFOTA_ERROR_INVALID_COMMAND with
 * a message naming the offending command (as "AT<name><args>") and what to use instead. */
gboolean dfota_cmdline_check(const char *line, GError **error);

G_END_DECLS
