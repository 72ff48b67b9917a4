// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-cmdline.c: V.250 command-line splitting and the passthrough refusal table.
 *
 * The splitter reads a line the way a V.250 parser does (ITU-T V.250 5.2-5.4): after "AT",
 * basic commands follow each other with no separator (a letter, "&"/"\" and a letter, "S<n>"
 * with "=<v>" or "?", "D" eating the rest of the line), extended commands run from their
 * prefix to the next ';' outside a "…" string. Spaces outside strings are ignored and case
 * does not matter. Where module parsers are known to differ from V.250 (a backslash before a
 * quote, a space inside a name, text after an extended command without ';') the line is
 * refused rather than guessed at: whatever the module makes of it, it never runs a command
 * the table below refuses.
 */
#include "dfota-cmdline.h"

#include <string.h>

#include "dfota-error.h"

void
dfota_cmdline_command_free(DfotaCmdlineCommand *cmd)
{
	if (cmd == NULL)
		return;
	g_free(cmd->name);
	g_free(cmd->args);
	g_free(cmd);
}

/* Normalises @line; when @strict, also checks bytes and quoting (NULL and @error set when
 * they are wrong). *spaced_out, when given, gets one flag per normalised byte: a space was
 * removed just before it. */
static char *
normalise(const char *line, gboolean strict, guint8 **spaced_out, GError **error)
{
	g_autoptr(GString) out = g_string_sized_new(strlen(line));
	g_autoptr(GByteArray) spaced = g_byte_array_new();
	gboolean in_string = FALSE;
	gboolean space = FALSE;

	for (const guchar *p = (const guchar *)line; *p; p++) {
		guint8 flag;

		if (strict && (*p < 0x20 || *p > 0x7e)) {
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
			            "Command contains %s (0x%02x) at offset %u: give one printable "
			            "ASCII command line without CR, LF, Ctrl-Z or ESC (the daemon "
			            "adds the CR)",
			            *p >= 0x80 ? "a non-ASCII byte" : "a control character", *p,
			            (guint)(p - (const guchar *)line));
			return NULL;
		}
		if (in_string) {
			if (strict && *p == '\\' && p[1] == '"') {
				g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
				            "Command has a backslash before a quote at offset %u: "
				            "modules differ on whether it ends the string; write a "
				            "quote inside a string as \\22",
				            (guint)(p - (const guchar *)line));
				return NULL;
			}
			if (*p == '"')
				in_string = FALSE;
			g_string_append_c(out, (char)*p);
			flag = 0;
			g_byte_array_append(spaced, &flag, 1);
			continue;
		}
		if (*p == ' ') {
			space = TRUE;
			continue;
		}
		if (*p == '"')
			in_string = TRUE;
		g_string_append_c(out, g_ascii_toupper((char)*p));
		flag = space;
		g_byte_array_append(spaced, &flag, 1);
		space = FALSE;
	}
	if (strict && in_string) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
		                    "Command has an unterminated string: close every \" (a module "
		                    "would read the rest of the line, ';' included, differently)");
		return NULL;
	}
	if (spaced_out)
		*spaced_out = g_byte_array_free(g_steal_pointer(&spaced), FALSE);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

char *
dfota_cmdline_normalise(const char *line)
{
	return line ? normalise(line, FALSE, NULL, NULL) : NULL;
}

static gboolean
is_extended_prefix(char c)
{
	return c != '\0' && strchr("+$^%*#!", c) != NULL;
}

static gboolean
is_name_char(char c)
{
	return g_ascii_isupper(c) || g_ascii_isdigit(c) || (c != '\0' && strchr("!%-./:_", c));
}

/* Index just past the string or run that starts at @i and ends before an unquoted ';'. */
static gsize
skip_to_separator(const char *n, gsize i)
{
	while (n[i] != '\0' && n[i] != ';') {
		if (n[i] == '"') {
			const char *close = strchr(n + i + 1, '"');
			i = close ? (gsize)(close - n) : strlen(n) - 1;
		}
		i++;
	}
	return i;
}

static gsize
skip_digits(const char *n, gsize i)
{
	while (g_ascii_isdigit(n[i]))
		i++;
	return i;
}

static void
split_error(GError **error, const char *n, gsize at, const char *what)
{
	g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
	            "Command line cannot be split into V.250 commands: %s at \"%.24s\"; give "
	            "basic commands (ATI) and ';'-separated extended commands (AT+CGMR;+CGSN=1)",
	            what, n + at);
}

GPtrArray *
dfota_cmdline_split(const char *line, GError **error)
{
	g_autoptr(GPtrArray) cmds = NULL;
	g_autofree char *n = NULL;
	g_autofree guint8 *spaced = NULL;
	gsize len = line ? strlen(line) : 0;
	gsize i = 2;

	if (len < 2 || g_ascii_strncasecmp(line, "AT", 2) != 0) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
		                    "Command must start with AT");
		return NULL;
	}
	if (len > DFOTA_CMDLINE_MAX) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
		            "Command is %" G_GSIZE_FORMAT " bytes long, more than the %d allowed",
		            len, DFOTA_CMDLINE_MAX);
		return NULL;
	}
	n = normalise(line, TRUE, &spaced, error);
	if (n == NULL)
		return NULL;
	cmds = g_ptr_array_new_with_free_func((GDestroyNotify)dfota_cmdline_command_free);
	while (n[i] != '\0') {
		DfotaCmdlineCommand *cmd;
		gsize start = i;
		gsize name_end;

		if (n[i] == ';') {
			split_error(error, n, i,
			            "an empty command (';' with no command before it)");
			return NULL;
		}
		cmd = g_new0(DfotaCmdlineCommand, 1);
		cmd->sreg = -1;
		g_ptr_array_add(cmds, cmd);
		if (is_extended_prefix(n[i])) {
			cmd->kind = DFOTA_CMDLINE_EXTENDED;
			if (!g_ascii_isupper(n[i + 1])) {
				split_error(error, n, i, "an extended command without a name");
				return NULL;
			}
			name_end = i + 2;
			while (is_name_char(n[name_end])) {
				if (spaced[name_end]) {
					split_error(error, n, start,
					            "a space inside a command name");
					return NULL;
				}
				name_end++;
			}
			i = name_end;
			if (n[i] == '=') {
				i = skip_to_separator(n, i);
			} else if (n[i] == '?') {
				i++;
			}
			if (n[i] != '\0' && n[i] != ';') {
				split_error(
				        error, n, i,
				        "text after an extended command (separate commands with "
				        "';')");
				return NULL;
			}
		} else if (n[i] == 'D') {
			cmd->kind = DFOTA_CMDLINE_DIAL;
			name_end = i + 1;
			i = strlen(n);
		} else if (n[i] == 'S') {
			cmd->kind = DFOTA_CMDLINE_SREG;
			name_end = skip_digits(n, i + 1);
			if (name_end > i + 1) {
				guint64 reg = 0;
				for (gsize k = i + 1; k < name_end && reg <= G_MAXINT32; k++)
					reg = reg * 10 + (guint64)(n[k] - '0');
				cmd->sreg = (gint64)MIN(reg, (guint64)G_MAXINT32);
			}
			i = name_end;
			if (n[i] == '?')
				i++;
			else if (n[i] == '=')
				i = skip_digits(n, i + 1);
		} else if (g_ascii_isupper(n[i]) || n[i] == '&' || n[i] == '\\') {
			cmd->kind = DFOTA_CMDLINE_BASIC;
			name_end = i + 1;
			if (n[i] == '&' || n[i] == '\\') {
				if (!g_ascii_isupper(n[i + 1])) {
					split_error(error, n, i, "a '&' or '\\' without a letter");
					return NULL;
				}
				name_end++;
			}
			i = name_end;
			if (n[i] == '?')
				i++;
			else if (n[i] == '=')
				i = skip_digits(n, i + 1);
			else
				i = skip_digits(n, i);
		} else {
			split_error(error, n, i, "text no command starts with");
			return NULL;
		}
		cmd->name = g_strndup(n + start, name_end - start);
		cmd->args = g_strndup(n + name_end, i - name_end);
		if (n[i] == ';') {
			cmd->separator = TRUE;
			i++;
		}
	}
	return g_steal_pointer(&cmds);
}

char *
dfota_cmdline_join(GPtrArray *commands)
{
	GString *s = g_string_new("AT");

	for (guint i = 0; commands && i < commands->len; i++) {
		const DfotaCmdlineCommand *cmd = g_ptr_array_index(commands, i);

		g_string_append(s, cmd->name);
		g_string_append(s, cmd->args);
		if (cmd->separator)
			g_string_append_c(s, ';');
	}
	return g_string_free(s, FALSE);
}

/* ---- the refusal table ---- */

typedef enum {
	FORMS_NONE,      /* every form refused */
	FORMS_TEST,      /* only the test form "=?" goes */
	FORMS_READ,      /* only the read form "?" goes */
	FORMS_READ_TEST, /* "?" and "=?" go */
	FORMS_INLINE,    /* "=?" and set forms with at least .param parameters (data inline) */
	FORMS_NOT_MODE2, /* refused when parameter .param is 2 (transparent access mode) */
} Forms;

typedef struct {
	const char *name; /* "E"; "&" or "\\": every such command; "S3": that register; "S": any
	                   * register; "D": dial; "+QSCLK": that extended command */
	Forms forms;
	guint param;
	const char *why;
	const char *instead;
} Refusal;

#define PROMPT_WHY "the module then waits at a '>' prompt for data, which would hold the line"
#define DATA_WHY "the module then enters data mode (CONNECT), which would hold the line"

static const Refusal refusals[] = {
	/* what the daemon itself manages */
	{ "E", FORMS_NONE, 0, "echo is managed by the daemon",
	  "nothing to do: answers already come without echo" },
	{ "V", FORMS_NONE, 0, "the result code format is managed by the daemon",
	  "nothing to do: results are mapped to org.dfotad1.Error.* names" },
	{ "Q", FORMS_NONE, 0, "the result code format is managed by the daemon",
	  "nothing to do: results are mapped to org.dfotad1.Error.* names" },
	{ "+CMEE", FORMS_READ_TEST, 0, "the error format is managed by the daemon",
	  "read it with AT+CMEE?; errors already come as org.dfotad1.Error.* names (CmeError "
	  "carries the code)" },
	{ "+IPR", FORMS_NONE, 0, "the line rate is managed by the daemon",
	  "set it with baud= in dfotad.conf" },
	{ "+ICF", FORMS_NONE, 0, "the character framing is managed by the daemon",
	  "nothing to do: the daemon uses 8N1" },
	{ "+IFC", FORMS_NONE, 0, "flow control is managed by the daemon",
	  "set it with flow= in dfotad.conf" },
	{ "&", FORMS_NONE, 0,
	  "ampersand commands (&F, &W, &D, &C, &V, …) change the profile and line settings the "
	  "daemon relies on",
	  "set the line in dfotad.conf (baud=, flow=)" },
	{ "\\", FORMS_NONE, 0, "backslash commands change flow control and error correction",
	  "set flow control with flow= in dfotad.conf" },
	{ "Z", FORMS_NONE, 0, "a profile reset changes the line settings the daemon relies on",
	  "reboot the module with AT+QRST=1 or AT+CFUN=1,1" },
	{ "S3", FORMS_NONE, 0, "S3 sets the character that ends lines, which the daemon relies on",
	  "nothing to do: the daemon manages line endings" },
	{ "S4", FORMS_NONE, 0,
	  "S4 sets the character that ends answers, which the daemon relies on",
	  "nothing to do: the daemon manages line endings" },
	{ "S5", FORMS_NONE, 0, "S5 sets the line editing character, which the daemon relies on",
	  "nothing to do: the daemon manages line endings" },
	{ "S", FORMS_READ, 0,
	  "S-registers set auto-answer (S0 would put the module in data mode on a call), the "
	  "escape character and guard time (S2, S12) the daemon uses to leave data mode, and "
	  "dial timing",
	  "read a register with ATS<n>?" },
	{ "+CMUX", FORMS_READ_TEST, 0,
	  "the multiplexer would turn the tty into 27.010 frames the daemon cannot read",
	  "nothing to do: the daemon owns the tty" },
	{ "+QSCLK", FORMS_NONE, 0, "sleep is managed by the daemon",
	  "nothing to do: the daemon keeps the module awake while a job runs and restores sleep "
	  "afterwards" },
	{ "+QURCCFG", FORMS_NONE, 0,
	  "moving URCs to another port would take job progress away from the daemon",
	  "read URCs from the Urc signal" },
	{ "+QPOWD", FORMS_NONE, 0,
	  "powering the module off takes it away from the daemon until a power cycle",
	  "reboot it with AT+QRST=1 or AT+CFUN=1,1" },
	{ "+QFUPL", FORMS_NONE, 0, "the file data commands are managed by the daemon",
	  "use org.dfotad1.Files.Upload" },
	{ "+QFDWL", FORMS_NONE, 0, "the file data commands are managed by the daemon",
	  "use org.dfotad1.Files.Download" },
	{ "+QFOTADL", FORMS_TEST, 0, "upgrades are jobs of the daemon",
	  "use org.dfotad1.Fota.Upgrade, UpgradeLocal or FetchMcuFile" },
	/* prompt and data mode */
	{ "D", FORMS_NONE, 0, "dialling puts the module in data mode, which would hold the line",
	  "not offered through the daemon" },
	{ "O", FORMS_NONE, 0, "returning to data mode would hold the line",
	  "not offered through the daemon" },
	{ "A", FORMS_NONE, 0,
	  "answering a call puts the module in data mode, which would hold "
	  "the line",
	  "not offered through the daemon" },
	{ "+CMGS", FORMS_TEST, 0, PROMPT_WHY, "not offered through the daemon" },
	{ "+CMGW", FORMS_TEST, 0, PROMPT_WHY, "not offered through the daemon" },
	{ "+CMGC", FORMS_TEST, 0, PROMPT_WHY, "not offered through the daemon" },
	{ "+QISEND", FORMS_INLINE, 3, PROMPT_WHY,
	  "give the data inline: AT+QISEND=<connectID>,<length>,<data>" },
	{ "+QSSLSEND", FORMS_INLINE, 3, PROMPT_WHY,
	  "give the data inline: AT+QSSLSEND=<clientID>,<length>,<data>" },
	{ "+QMTPUB", FORMS_INLINE, 7, PROMPT_WHY,
	  "give the payload inline: "
	  "AT+QMTPUB=<id>,<msgID>,<qos>,<retain>,\"<topic>\",<length>,\"<payload>\"" },
	{ "+QMTPUBEX", FORMS_INLINE, 7, PROMPT_WHY,
	  "give the payload inline, or use AT+QMTPUB with the payload inline" },
	{ "+CGDATA", FORMS_TEST, 0, DATA_WHY, "not offered through the daemon" },
	{ "+QHTTPURL", FORMS_READ_TEST, 0, DATA_WHY, "not offered through the daemon" },
	{ "+QHTTPPOST", FORMS_READ_TEST, 0, DATA_WHY, "not offered through the daemon" },
	{ "+QHTTPPUT", FORMS_READ_TEST, 0, DATA_WHY, "not offered through the daemon" },
	{ "+QFWRITE", FORMS_TEST, 0, DATA_WHY, "use org.dfotad1.Files.Upload" },
	{ "+QFREAD", FORMS_TEST, 0, DATA_WHY, "use org.dfotad1.Files.Download" },
	{ "+QIOPEN", FORMS_NOT_MODE2, 7, "access mode 2 (transparent) puts the line in data mode",
	  "use access mode 0 (buffer) or 1 (direct push)" },
	{ "+QSSLOPEN", FORMS_NOT_MODE2, 6, "access mode 2 (transparent) puts the line in data mode",
	  "use access mode 0 (buffer) or 1 (direct push)" },
	{ "+QISWTMD", FORMS_NOT_MODE2, 2, "access mode 2 (transparent) puts the line in data mode",
	  "use access mode 0 (buffer) or 1 (direct push)" },
};

static gboolean
refusal_matches(const Refusal *r, const DfotaCmdlineCommand *cmd)
{
	switch (cmd->kind) {
	case DFOTA_CMDLINE_DIAL:
		return g_str_equal(r->name, "D");
	case DFOTA_CMDLINE_SREG:
		if (g_str_equal(r->name, "S"))
			return TRUE;
		return r->name[0] == 'S' && g_ascii_isdigit(r->name[1]) &&
		       cmd->sreg == g_ascii_strtoll(r->name + 1, NULL, 10);
	case DFOTA_CMDLINE_BASIC:
		if (g_str_equal(r->name, "&") || g_str_equal(r->name, "\\"))
			return cmd->name[0] == r->name[0];
		return g_str_equal(r->name, cmd->name);
	case DFOTA_CMDLINE_EXTENDED:
	default:
		return g_str_equal(r->name, cmd->name);
	}
}

/* The parameters of a set form "=a,\"b,c\",d" split at commas outside strings. */
static GPtrArray *
set_parameters(const char *args)
{
	GPtrArray *params = g_ptr_array_new_with_free_func(g_free);
	const char *start = args + 1;
	gboolean in_string = FALSE;

	for (const char *p = start;; p++) {
		if (*p == '"')
			in_string = !in_string;
		if (*p == '\0' || (*p == ',' && !in_string)) {
			g_ptr_array_add(params, g_strndup(start, (gsize)(p - start)));
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	return params;
}

static gboolean
form_allowed(const Refusal *r, const DfotaCmdlineCommand *cmd)
{
	const char *a = cmd->args;

	switch (r->forms) {
	case FORMS_TEST:
		return g_str_equal(a, "=?");
	case FORMS_READ:
		return g_str_equal(a, "?");
	case FORMS_READ_TEST:
		return g_str_equal(a, "?") || g_str_equal(a, "=?");
	case FORMS_INLINE:
		if (g_str_equal(a, "=?"))
			return TRUE;
		if (a[0] == '=') {
			g_autoptr(GPtrArray) params = set_parameters(a);
			return params->len >= r->param;
		}
		return FALSE;
	case FORMS_NOT_MODE2:
		if (a[0] == '=' && !g_str_equal(a, "=?")) {
			g_autoptr(GPtrArray) params = set_parameters(a);
			guint64 v;

			if (params->len < r->param)
				return TRUE;
			/* "2", "02" or "\"2\"": the same mode to a module's number parser */
			g_autofree char *value = g_strdup(g_ptr_array_index(params, r->param - 1));
			g_strdelimit(value, "\"", ' ');
			g_strstrip(value);
			return !(g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &v, NULL) &&
			         v == 2);
		}
		return TRUE;
	case FORMS_NONE:
	default:
		return FALSE;
	}
}

static const Refusal *
find_refusal(const DfotaCmdlineCommand *cmd)
{
	for (gsize i = 0; i < G_N_ELEMENTS(refusals); i++) {
		if (refusal_matches(&refusals[i], cmd))
			return form_allowed(&refusals[i], cmd) ? NULL : &refusals[i];
	}
	return NULL;
}

const char *
dfota_cmdline_refusal(const DfotaCmdlineCommand *cmd)
{
	const Refusal *r = find_refusal(cmd);

	return r ? r->why : NULL;
}

gboolean
dfota_cmdline_check(const char *line, GError **error)
{
	g_autoptr(GPtrArray) cmds = dfota_cmdline_split(line, error);

	if (cmds == NULL)
		return FALSE;
	for (guint i = 0; i < cmds->len; i++) {
		const DfotaCmdlineCommand *cmd = g_ptr_array_index(cmds, i);
		const Refusal *r = find_refusal(cmd);

		if (r == NULL)
			continue;
		if (cmds->len == 1)
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
			            "Command AT%s%s is refused: %s; %s", cmd->name, cmd->args,
			            r->why, r->instead);
		else
			g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND,
			            "Command AT%s%s (command %u of the line) is refused: %s; %s",
			            cmd->name, cmd->args, i + 1, r->why, r->instead);
		return FALSE;
	}
	return TRUE;
}
