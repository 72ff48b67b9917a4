// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-cmdline.c: the V.250 command-line splitter and the passthrough check.
 *
 * Invariants, for any bytes:
 * - never a crash; a refusal carries DFOTA_ERROR_INVALID_COMMAND and a message;
 * - a line that splits is "AT" + printable ASCII, <= 1024 bytes, and its commands joined back
 *   give the line normalised (spaces outside strings dropped, case folded outside strings),
 *   checked against an independent model of that normalisation;
 * - each command on its own ("AT<name><args>") splits to exactly that one command;
 * - the line passes the check exactly when it splits and no command of it is refused, and
 *   dfota_validate_command() gives the same verdict;
 * - a refused command anywhere refuses the line: an accepted line with "E1" put in front of
 *   its commands, or "+QSCLK=1" / "&F" added after them, is refused;
 * - in an accepted line, no extended command that is refused in every form starts right
 *   after "AT" or after a ';' outside a string (an independent scan).
 */
#include "fuzz-common.h"

#include "dfota-cmdline.h"
#include "dfota-error.h"
#include "dfota-validate.h"

static char *
model_normalise(const char *s)
{
	GString *out = g_string_new(NULL);
	gboolean in_string = FALSE;

	for (const char *p = s; *p; p++) {
		if (*p == '"')
			in_string = !in_string;
		if (!in_string && *p == ' ')
			continue;
		g_string_append_c(out, in_string || *p == '"' ? *p : g_ascii_toupper(*p));
	}
	return g_string_free(out, FALSE);
}

static void
check_refused(const char *line, const char *why)
{
	g_autoptr(GError) error = NULL;

	FUZZ_CHECK(!dfota_cmdline_check(line, &error), "\"%s\" accepted (%s)", line, why);
	FUZZ_CHECK(error != NULL && error->domain == DFOTA_ERROR &&
	                   error->code == DFOTA_ERROR_INVALID_COMMAND,
	           "\"%s\" refused without InvalidCommand", line);
}

static void
scan_model(const char *norm)
{
	static const char *const never[] = { "+QSCLK", "+QPOWD", "+QURCCFG", "+IPR",
		                             "+ICF",   "+IFC",   "+QFUPL",   "+QFDWL" };
	gboolean in_string = FALSE;

	for (const char *p = norm; *p; p++) {
		gboolean start;

		if (*p == '"')
			in_string = !in_string;
		if (in_string)
			continue;
		start = (p == norm + 2) || (p > norm && p[-1] == ';');
		if (!start)
			continue;
		for (gsize i = 0; i < G_N_ELEMENTS(never); i++) {
			gsize n = strlen(never[i]);
			if (strncmp(p, never[i], n) == 0) {
				char next = p[n];
				FUZZ_CHECK(next == '\0' || strchr("=?;", next) == NULL,
				           "\"%s\" accepted with %s", norm, never[i]);
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *s = fuzz_strndup(data, size);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) cmds = dfota_cmdline_split(s, &error);
	g_autoptr(GError) check_error = NULL;
	gboolean ok = dfota_cmdline_check(s, &check_error);
	gboolean any_refused = FALSE;

	size = strlen(s); /* a D-Bus string ends at its first NUL, and so does the line */

	FUZZ_CHECK(ok == dfota_validate_command(s, NULL), "validate and check differ on \"%s\"", s);
	if (!ok)
		FUZZ_CHECK(check_error != NULL && check_error->domain == DFOTA_ERROR &&
		                   check_error->code == DFOTA_ERROR_INVALID_COMMAND &&
		                   *check_error->message != '\0',
		           "refusal of \"%s\" without a named error", s);
	else
		FUZZ_CHECK(check_error == NULL, "\"%s\" accepted with an error", s);
	if (cmds == NULL) {
		FUZZ_CHECK(error != NULL && error->domain == DFOTA_ERROR &&
		                   error->code == DFOTA_ERROR_INVALID_COMMAND &&
		                   *error->message != '\0',
		           "split of \"%s\" failed without a named error", s);
		FUZZ_CHECK(!ok, "\"%s\" does not split but passes", s);
		return 0;
	}
	FUZZ_CHECK(error == NULL, "split of \"%s\" succeeded with an error", s);
	FUZZ_CHECK(size >= 2 && size <= DFOTA_CMDLINE_MAX && g_ascii_strncasecmp(s, "AT", 2) == 0,
	           "\"%s\" split", s);
	for (gsize i = 0; i < size; i++)
		FUZZ_CHECK(s[i] >= 0x20 && s[i] <= 0x7e, "byte 0x%02x split in \"%s\"",
		           (guint8)s[i], s);
	{
		g_autofree char *joined = dfota_cmdline_join(cmds);
		g_autofree char *norm = dfota_cmdline_normalise(s);
		g_autofree char *model = model_normalise(s);

		FUZZ_CHECK(g_str_equal(joined, norm), "\"%s\" joins to \"%s\", normalised \"%s\"",
		           s, joined, norm);
		FUZZ_CHECK(g_str_equal(norm, model), "\"%s\" normalised \"%s\", model \"%s\"", s,
		           norm, model);
		if (ok)
			scan_model(norm);
	}
	for (guint i = 0; i < cmds->len; i++) {
		const DfotaCmdlineCommand *cmd = g_ptr_array_index(cmds, i);
		g_autofree char *alone = g_strconcat("AT", cmd->name, cmd->args, NULL);
		g_autoptr(GPtrArray) again = dfota_cmdline_split(alone, NULL);
		const DfotaCmdlineCommand *a;

		FUZZ_CHECK(*cmd->name != '\0', "empty command name in \"%s\"", s);
		FUZZ_CHECK(again != NULL && again->len == 1, "\"%s\" alone does not split to one",
		           alone);
		a = g_ptr_array_index(again, 0);
		FUZZ_CHECK(g_str_equal(a->name, cmd->name) && g_str_equal(a->args, cmd->args) &&
		                   a->kind == cmd->kind && a->sreg == cmd->sreg,
		           "\"%s\" alone splits differently", alone);
		if (dfota_cmdline_refusal(cmd) != NULL) {
			any_refused = TRUE;
			check_refused(alone, "a refused command alone");
		}
	}
	FUZZ_CHECK(ok == !any_refused, "\"%s\": verdict %d but refused commands %d", s, ok,
	           any_refused);
	if (ok && size + 16 <= DFOTA_CMDLINE_MAX) {
		const DfotaCmdlineCommand *last =
		        cmds->len ? g_ptr_array_index(cmds, cmds->len - 1) : NULL;
		const char *sep =
		        last && last->kind == DFOTA_CMDLINE_EXTENDED && !last->separator ? ";" : "";
		g_autofree char *front = g_strconcat("ATE1", s + 2, NULL);
		g_autofree char *qsclk = g_strconcat(s, sep, "+QSCLK=1", NULL);
		g_autofree char *amp = g_strconcat(s, sep, "&F", NULL);

		check_refused(front, "E1 in front");
		check_refused(qsclk, "+QSCLK=1 after");
		check_refused(amp, "&F after");
	}
	return 0;
}
