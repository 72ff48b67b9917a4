// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-cmdline.c: the V.250 command-line splitter and the passthrough refusal table. */
#include <string.h>

#include "dfota-cmdline.h"
#include "dfota-error.h"

typedef struct {
	const char *line;
	const char *split; /* the commands as "name|args" joined with " ", ';' marked as ";"; NULL:
	                    * the line does not split */
} SplitCase;

static const SplitCase split_cases[] = {
	{ "AT", "" },
	{ "at", "" },
	{ "ATI", "I|" },
	{ "ATI&F", "I| &F|" },
	{ "ATi&f", "I| &F|" },
	{ "ATIE1", "I| E|1" },
	{ "ATE0V1Q0", "E|0 V|1 Q|0" },
	{ "ATI+QSCLK=1", "I| +QSCLK|=1" },
	{ "AT+CGMR;+CGSN=1", "+CGMR|; +CGSN|=1" },
	{ "AT+CGMR;+CEREG?", "+CGMR|; +CEREG|?" },
	{ "AT+CGMR;", "+CGMR|;" },
	{ "AT + QSCLK = 1", "+QSCLK|=1" },
	{ "at+qsclk=1", "+QSCLK|=1" },
	{ "AT+CGDCONT=1,\"IP\",\"a;b\"", "+CGDCONT|=1,\"IP\",\"a;b\"" },
	{ "AT+X=\"a b;+QSCLK=1\";+CSQ", "+X|=\"a b;+QSCLK=1\"; +CSQ|" },
	{ "AT+X=\"MiXeD\"", "+X|=\"MiXeD\"" },
	{ "ATS3=10", "S3|=10" },
	{ "ATS03?", "S03|?" },
	{ "ATS0=1I", "S0|=1 I|" },
	{ "ATS7", "S7|" },
	{ "ATD123;", "D|123;" },
	{ "ATDT\"+QSCLK=1\";+CSQ", "D|T\"+QSCLK=1\";+CSQ" },
	{ "ATI0X4", "I|0 X|4" },
	{ "AT\\Q3", "\\Q|3" },
	{ "AT&D2&C1", "&D|2 &C|1" },
	{ "ATE?", "E|?" },
	{ "AT$QCPWRDN", "$QCPWRDN|" },
	{ "AT^RESET;I", "^RESET|; I|" },
	{ "ATI;+CGMR", "I|; +CGMR|" },
	{ "AT+CGMR\";+QSCLK=1", NULL }, /* the quote is left open */
	{ "AT+X=\"a\\\";+QSCLK=1;\"", NULL },
	{ "AT+CGMR&F", NULL },
	{ "AT+CG MR", NULL },
	{ "AT;", NULL },
	{ "AT+CSQ;;+CGMR", NULL },
	{ "AT=5", NULL },
	{ "AT?", NULL },
	{ "AT+", NULL },
	{ "AT+1A", NULL },
	{ "AT&", NULL },
	{ "AT&1", NULL },
	{ "AT+CSQ?1", NULL },
	{ "ATI\xc3\xa9", NULL },
	{ "ATI\x80", NULL },
	{ "AT\x7f", NULL },
	{ "AT\r", NULL },
	{ "AT+X=\"\x1b\"", NULL },
	{ "A", NULL },
	{ "", NULL },
	{ " AT", NULL },
	{ "XAT", NULL },
};

static char *
describe(GPtrArray *cmds)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < cmds->len; i++) {
		const DfotaCmdlineCommand *cmd = g_ptr_array_index(cmds, i);

		g_string_append_printf(s, "%s%s|%s%s", i ? " " : "", cmd->name, cmd->args,
		                       cmd->separator ? ";" : "");
	}
	return g_string_free(s, FALSE);
}

static void
test_split(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(split_cases); i++) {
		const SplitCase *c = &split_cases[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) cmds = dfota_cmdline_split(c->line, &error);

		g_autofree char *shown = g_strescape(c->line, NULL);

		g_test_message("split \"%s\"", shown);
		if (c->split == NULL) {
			g_assert_null(cmds);
			g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND);
			g_assert_cmpuint(strlen(error->message), >, 0);
			continue;
		}
		g_assert_no_error(error);
		g_assert_nonnull(cmds);
		{
			g_autofree char *got = describe(cmds);
			g_autofree char *joined = dfota_cmdline_join(cmds);
			g_autofree char *norm = dfota_cmdline_normalise(c->line);

			g_assert_cmpstr(got, ==, c->split);
			g_assert_cmpstr(joined, ==, norm);
		}
	}
	g_assert_null(dfota_cmdline_split(NULL, NULL));
	g_assert_null(dfota_cmdline_normalise(NULL));
}

static void
test_kinds(void)
{
	g_autoptr(GPtrArray) cmds = dfota_cmdline_split("ATS12=5I&F+CSQ;D1", NULL);
	static const DfotaCmdlineKind kinds[] = { DFOTA_CMDLINE_SREG, DFOTA_CMDLINE_BASIC,
		                                  DFOTA_CMDLINE_BASIC, DFOTA_CMDLINE_EXTENDED,
		                                  DFOTA_CMDLINE_DIAL };

	g_assert_nonnull(cmds);
	g_assert_cmpuint(cmds->len, ==, G_N_ELEMENTS(kinds));
	for (guint i = 0; i < cmds->len; i++) {
		const DfotaCmdlineCommand *cmd = g_ptr_array_index(cmds, i);

		g_assert_cmpint(cmd->kind, ==, kinds[i]);
		g_assert_cmpint(cmd->sreg, ==, i == 0 ? 12 : -1);
	}
	/* A register number past any real one is capped, never overflowed. */
	g_clear_pointer(&cmds, g_ptr_array_unref);
	cmds = dfota_cmdline_split("ATS99999999999999999999999=1", NULL);
	g_assert_nonnull(cmds);
	g_assert_cmpint(((DfotaCmdlineCommand *)cmds->pdata[0])->sreg, ==, G_MAXINT32);
}

typedef struct {
	const char *line;
	gboolean ok;
	const char *needle; /* in the message when refused */
} CheckCase;

static const CheckCase check_cases[] = {
	/* harmless lines and chains go */
	{ "AT", TRUE, NULL },
	{ "ATI", TRUE, NULL },
	{ "AT+CGMR;+CGSN=1", TRUE, NULL },
	{ "AT+CGMR;+CEREG?", TRUE, NULL },
	{ "ATI;+CGMR", TRUE, NULL },
	{ "AT+CMEE?", TRUE, NULL },
	{ "AT+CMEE=?", TRUE, NULL },
	{ "AT+QFOTADL=?", TRUE, NULL },
	{ "at + qfotadl = ?", TRUE, NULL },
	{ "ATS0?", TRUE, NULL },
	{ "ATS12?", TRUE, NULL },
	{ "ATH", TRUE, NULL },
	{ "AT+QISEND=0,5,hello", TRUE, NULL },
	{ "AT+QISEND=?", TRUE, NULL },
	{ "AT+QSSLSEND=1,2,AB", TRUE, NULL },
	{ "AT+QMTPUB=0,1,1,0,\"t\",5,\"hello\"", TRUE, NULL },
	{ "AT+CMGS=?", TRUE, NULL },
	{ "AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",80,0,1", TRUE, NULL },
	{ "AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",80", TRUE, NULL },
	{ "AT+QISWTMD=0,1", TRUE, NULL },
	{ "AT+CGDCONT=1,\"IP\",\"e;+QSCLK=1\"", TRUE, NULL },
	{ "AT+QRST=1", TRUE, NULL },
	/* concatenated and chained commands that smuggle a refused one */
	{ "ATI&F", FALSE, "AT&F" },
	{ "ATIE1", FALSE, "ATE1" },
	{ "ATI+QSCLK=1", FALSE, "AT+QSCLK=1" },
	{ "AT+CGMR\";+QSCLK=1", FALSE, "unterminated" },
	{ "AT+CGMR;+QSCLK=1", FALSE, "AT+QSCLK=1" },
	{ "AT+CSQ;+CMEE=0", FALSE, "AT+CMEE=0" },
	{ "AT+CSQ;E1", FALSE, "ATE1" },
	{ "ATi&f", FALSE, "AT&F" },
	{ "AT + QSCLK = 1", FALSE, "sleep" },
	{ "at+qsclk=1", FALSE, "sleep" },
	{ "ATI\xc3\xa9", FALSE, "non-ASCII" },
	{ "AT+X=\"\xff\"", FALSE, "non-ASCII" },
	/* echo and result format */
	{ "ATE0", FALSE, "echo" },
	{ "ATE", FALSE, "echo" },
	{ "ATE?", FALSE, "echo" },
	{ "AT E 1", FALSE, "echo" },
	{ "ATV0", FALSE, "result code" },
	{ "ATQ1", FALSE, "result code" },
	{ "AT+CMEE=1", FALSE, "error format" },
	{ "AT+CMEE", FALSE, "error format" },
	/* line settings */
	{ "AT+IPR=9600", FALSE, "baud=" },
	{ "AT+IPR?", FALSE, "baud=" },
	{ "AT+ICF=3", FALSE, "framing" },
	{ "AT+IFC=2,2", FALSE, "flow=" },
	{ "AT&W", FALSE, "ampersand" },
	{ "AT&F0", FALSE, "ampersand" },
	{ "AT&D0", FALSE, "ampersand" },
	{ "AT\\Q3", FALSE, "flow control" },
	{ "ATZ", FALSE, "AT+QRST=1" },
	{ "ATZ0", FALSE, "profile" },
	{ "ATS3=10", FALSE, "ends lines" },
	{ "ATS3?", FALSE, "ends lines" },
	{ "ATS003=10", FALSE, "ends lines" },
	{ "ATS4=13", FALSE, "answers" },
	{ "ATS5=8", FALSE, "editing" },
	{ "ATS0=1", FALSE, "auto-answer" },
	{ "ATS2=43", FALSE, "escape" },
	{ "ATS12", FALSE, "S-registers" },
	{ "ATS=5", FALSE, "S-registers" },
	{ "AT+CMUX=0", FALSE, "27.010" },
	/* sleep, URC routing, power, files, upgrades */
	{ "AT+QSCLK=0", FALSE, "sleep" },
	{ "AT+QSCLK?", FALSE, "sleep" },
	{ "AT+QURCCFG=\"urcport\",\"uart1\"", FALSE, "URCs" },
	{ "AT+QURCCFG?", FALSE, "URCs" },
	{ "AT+QPOWD", FALSE, "powering" },
	{ "AT+QPOWD=1", FALSE, "powering" },
	{ "ATI;+QPOWD=0", FALSE, "AT+QPOWD=0" },
	{ "AT+QFUPL=\"a\",10", FALSE, "org.dfotad1.Files.Upload" },
	{ "AT+QFDWL=\"a\"", FALSE, "org.dfotad1.Files.Download" },
	{ "AT+QFOTADL=\"http://a/b\"", FALSE, "org.dfotad1.Fota.Upgrade" },
	{ "AT+QFOTADL=1", FALSE, "UpgradeLocal" },
	{ "AT+QFOTADL=2,\"http://a/b\"", FALSE, "FetchMcuFile" },
	{ "AT+QFOTADL?", FALSE, "org.dfotad1.Fota.Upgrade" },
	{ "AT+QFOTADL", FALSE, "org.dfotad1.Fota.Upgrade" },
	{ "AT+CSQ;+QFOTADL=?;+QFOTADL=1", FALSE, "command 3 of the line" },
	/* prompt and data mode */
	{ "ATD123;", FALSE, "dialling" },
	{ "ATDT*99#", FALSE, "dialling" },
	{ "ATID123", FALSE, "dialling" },
	{ "ATO", FALSE, "data mode" },
	{ "ATO0", FALSE, "data mode" },
	{ "ATA", FALSE, "answering" },
	{ "AT+CMGS=\"123\"", FALSE, "prompt" },
	{ "AT+CMGS=20", FALSE, "prompt" },
	{ "AT+CMGW", FALSE, "prompt" },
	{ "AT+CMGC=1", FALSE, "prompt" },
	{ "AT+QISEND=0", FALSE, "AT+QISEND=<connectID>,<length>,<data>" },
	{ "AT+QISEND=0,5", FALSE, "prompt" },
	{ "AT+QISEND", FALSE, "prompt" },
	{ "AT+QSSLSEND=1", FALSE, "prompt" },
	{ "AT+QMTPUB=0,1,1,0,\"topic\"", FALSE, "prompt" },
	{ "AT+QMTPUB=0,1,1,0,\"topic\",5", FALSE, "prompt" },
	{ "AT+QMTPUBEX=0,1,1,0,\"t\",5", FALSE, "prompt" },
	{ "AT+CGDATA=\"PPP\",1", FALSE, "CONNECT" },
	{ "AT+QHTTPURL=20", FALSE, "CONNECT" },
	{ "AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",80,0,2", FALSE, "transparent" },
	{ "AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",80,0,02", FALSE, "transparent" },
	{ "AT+QSSLOPEN=1,1,4,\"h\",443,2", FALSE, "transparent" },
	{ "AT+QISWTMD=0,2", FALSE, "transparent" },
	/* no AT, too long, unsplittable */
	{ "", FALSE, "start with AT" },
	{ "+CSQ", FALSE, "start with AT" },
	{ "AT\r", FALSE, "control" },
	{ "AT\n", FALSE, "control" },
	{ "AT+CSQ\x1a", FALSE, "control" },
	{ "AT\x1b", FALSE, "control" },
	{ "AT+CGMR&F", FALSE, "separate commands with ';'" },
	{ "AT;", FALSE, "empty command" },
};

static void
test_check(void)
{
	g_autoptr(GString) longcmd = g_string_new("AT+X=");
	g_autoptr(GError) error = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(check_cases); i++) {
		const CheckCase *c = &check_cases[i];
		g_autoptr(GError) e = NULL;
		gboolean ok = dfota_cmdline_check(c->line, &e);

		/* The verdict does not depend on whether the caller wants the error. */
		g_assert_cmpint(dfota_cmdline_check(c->line, NULL), ==, ok);

		g_autofree char *shown = g_strescape(c->line, NULL);

		g_test_message("check \"%s\": %s", shown, e ? e->message : "ok");
		if (c->ok) {
			g_assert_no_error(e);
			g_assert_true(ok);
			continue;
		}
		g_assert_false(ok);
		g_assert_error(e, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND);
		if (strstr(e->message, c->needle) == NULL)
			g_error("\"%s\": message \"%s\" lacks \"%s\"", c->line, e->message,
			        c->needle);
	}
	while (longcmd->len < DFOTA_CMDLINE_MAX)
		g_string_append_c(longcmd, '1');
	g_assert_true(dfota_cmdline_check(longcmd->str, &error));
	g_assert_no_error(error);
	g_string_append_c(longcmd, '1');
	g_assert_false(dfota_cmdline_check(longcmd->str, &error));
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_COMMAND);
	g_assert_nonnull(strstr(error->message, "1024"));
	g_assert_false(dfota_cmdline_check(NULL, NULL));
}

/* A refused command anywhere in a line of harmless ones refuses the line, whatever the
 * joining (concatenated basic commands, ';'-chained extended ones). */
static void
test_refused_anywhere(void)
{
	static const char *const refused[] = { "E1",          "&F",
		                               "Z",           "+QSCLK=1",
		                               "+QPOWD=1",    "+QURCCFG=\"urcport\",\"uart1\"",
		                               "S3=10",       "O",
		                               "+CMGS=\"1\"", "+QISEND=0" };
	static const char *const harmless[] = { "I", "+CSQ", "+CGMR", "H" };

	for (gsize r = 0; r < G_N_ELEMENTS(refused); r++) {
		for (gsize h = 0; h < G_N_ELEMENTS(harmless); h++) {
			const char *sep_after_h = harmless[h][0] == '+' ? ";" : "";
			const char *sep_after_r = refused[r][0] == '+' ? ";" : "";
			g_autofree char *before =
			        g_strdup_printf("AT%s%s%s", harmless[h], sep_after_h, refused[r]);
			g_autofree char *after =
			        g_strdup_printf("AT%s%s%s", refused[r], sep_after_r, harmless[h]);

			g_autofree char *alone = g_strdup_printf("AT%s", harmless[h]);

			g_assert_true(dfota_cmdline_check(alone, NULL));
			g_assert_false(dfota_cmdline_check(before, NULL));
			g_assert_false(dfota_cmdline_check(after, NULL));
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cmdline/split", test_split);
	g_test_add_func("/cmdline/kinds", test_kinds);
	g_test_add_func("/cmdline/check", test_check);
	g_test_add_func("/cmdline/refused-anywhere", test_refused_anywhere);
	return g_test_run();
}
