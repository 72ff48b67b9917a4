// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-at-response.c: the response parsers of at-parse.h on arbitrary lines.
 *
 * Every parser sees every input (they are cheap, and a line meant for one prefix must not
 * confuse another). For dfota_at_parse_ati() the input is split at '\n' into lines. The
 * checks are the promises of at-parse.h: out-parameters of a rejected line are left empty,
 * strings said to be NULL-when-empty are never "", unknown signal values map to -1, the
 * RAT is one of the enum, an IMEI is digits, an expected prefix looks like "+NAME:"; and
 * whatever a parser accepts, its canonical re-spelling parses back to the same values.
 */
#include "fuzz-common.h"

#include "at-parse.h"

static gboolean
is_nonempty_or_null(const char *s)
{
	return s == NULL || *s != '\0';
}

static void
check_final(const char *line)
{
	int code = 12345;
	DfotaAtFinal f = dfota_at_parse_final(line, &code);
	g_autofree char *t = g_strstrip(g_strdup(line));

	FUZZ_CHECK(f >= DFOTA_AT_FINAL_NONE && f <= DFOTA_AT_FINAL_NO_CARRIER, "final %d", f);
	if (f != DFOTA_AT_FINAL_CME_ERROR && f != DFOTA_AT_FINAL_CMS_ERROR)
		FUZZ_CHECK(code == -1, "\"%s\": code %d set for a non-error result", line, code);
	if (f == DFOTA_AT_FINAL_OK)
		FUZZ_CHECK(g_str_equal(t, "OK"), "\"%s\" taken for OK", line);
	if (f == DFOTA_AT_FINAL_ERROR)
		FUZZ_CHECK(g_str_equal(t, "ERROR"), "\"%s\" taken for ERROR", line);
	if (f == DFOTA_AT_FINAL_CME_ERROR || f == DFOTA_AT_FINAL_CMS_ERROR) {
		g_autofree char *again = g_strdup_printf(
		        "%s %d",
		        f == DFOTA_AT_FINAL_CME_ERROR ? "+CME ERROR:" : "+CMS ERROR:", code);
		int code2 = 0;

		FUZZ_CHECK(g_str_has_prefix(t, f == DFOTA_AT_FINAL_CME_ERROR ? "+CME ERROR:"
		                                                             : "+CMS ERROR:"),
		           "\"%s\" taken for an error result", line);
		FUZZ_CHECK(dfota_at_parse_final(again, &code2) == f && code2 == code,
		           "\"%s\" (from \"%s\") gave %d", again, line, code2);
	}
	/* A NULL code pointer is allowed. */
	FUZZ_CHECK(dfota_at_parse_final(line, NULL) == f, "\"%s\" classified differently", line);
	if (dfota_at_is_connect(line)) {
		const char *p = line + strspn(line, " \t");
		FUZZ_CHECK(g_str_has_prefix(p, "CONNECT"), "\"%s\" taken for CONNECT", line);
	}
	if (dfota_at_is_boot_urc(line))
		FUZZ_CHECK(g_str_equal(t, "RDY") || g_str_has_prefix(t, "REBOOT_CAUSE_"),
		           "\"%s\" taken for a boot URC", line);
}

static void
check_expected_prefix(const char *line)
{
	g_autofree char *prefix = dfota_at_expected_prefix(line);
	g_autofree char *cmd = NULL;
	g_autofree char *again = NULL;
	gsize n;

	if (prefix == NULL)
		return;
	n = strlen(prefix);
	FUZZ_CHECK(g_ascii_strncasecmp(line + strspn(line, " \t"), "AT", 2) == 0,
	           "\"%s\" is not a command but has prefix \"%s\"", line, prefix);
	FUZZ_CHECK(n >= 3 && strchr("+$^", prefix[0]) != NULL && prefix[n - 1] == ':',
	           "prefix \"%s\" from \"%s\"", prefix, line);
	for (gsize i = 1; i + 1 < n; i++) {
		char c = prefix[i];
		FUZZ_CHECK(g_ascii_isdigit(c) || g_ascii_isupper(c) || c == '_',
		           "prefix \"%s\" from \"%s\" has '%c'", prefix, line, c);
	}
	/* The answer's prefix names the command it came from. */
	cmd = g_strdup_printf("AT%.*s?", (int)(n - 1), prefix);
	again = dfota_at_expected_prefix(cmd);
	FUZZ_CHECK(again != NULL && g_str_equal(again, prefix), "\"%s\" gave \"%s\", not \"%s\"",
	           cmd, again ? again : "(null)", prefix);
}

/* Every prefix of a chained line has the single prefix's shape, appears once, and a line of
 * one extended command gives the same one prefix as dfota_at_expected_prefix(). */
static void
check_expected_prefixes(const char *line)
{
	g_auto(GStrv) prefixes = dfota_at_expected_prefixes(line);
	g_autofree char *single = dfota_at_expected_prefix(line);

	if (prefixes == NULL)
		return;
	FUZZ_CHECK(prefixes[0] != NULL, "empty prefix list from \"%s\"", line);
	for (gsize i = 0; prefixes[i]; i++) {
		gsize n = strlen(prefixes[i]);

		FUZZ_CHECK(n >= 3 && strchr("+$^%*#!", prefixes[i][0]) && prefixes[i][n - 1] == ':',
		           "prefix \"%s\" from \"%s\"", prefixes[i], line);
		for (gsize j = 0; j < i; j++)
			FUZZ_CHECK(!g_str_equal(prefixes[i], prefixes[j]),
			           "prefix \"%s\" twice from \"%s\"", prefixes[i], line);
	}
	if (prefixes[1] == NULL && single != NULL && strchr(line, ';') == NULL &&
	    strchr(line, '"') == NULL)
		FUZZ_CHECK(g_str_equal(prefixes[0], single), "\"%s\": \"%s\" vs \"%s\"", line,
		           prefixes[0], single);
}

static void
check_ati(const char *input)
{
	g_auto(GStrv) lines = g_strsplit(input, "\n", -1);
	DfotaAtIdentity id;

	memset(&id, 0xa5, sizeof(id));
	if (!dfota_at_parse_ati((const char *const *)lines, &id)) {
		FUZZ_CHECK(id.manufacturer == NULL && id.model == NULL && id.revision == NULL &&
		                   id.sub_edition == NULL,
		           "rejected ATI left fields set");
		return;
	}
	FUZZ_CHECK(id.manufacturer && *id.manufacturer && id.model && *id.model && id.revision &&
	                   *id.revision,
	           "accepted ATI with a missing manufacturer, model or revision");
	dfota_at_identity_clear(&id);
	FUZZ_CHECK(id.manufacturer == NULL && id.model == NULL && id.revision == NULL &&
	                   id.sub_edition == NULL,
	           "identity_clear left fields set");
}

static void
check_cesq(const char *line)
{
	DfotaAtCesq c;
	int f[6];
	static const int unknown[6] = { 99, 99, 255, 255, 255, 255 };

	if (!dfota_at_parse_cesq(line, &c))
		return;
	memcpy(f, (int[]){ c.rxlev, c.ber, c.rscp, c.ecno, c.rsrq, c.rsrp }, sizeof(f));
	for (int i = 0; i < 6; i++) {
		FUZZ_CHECK(f[i] >= -1 && f[i] != unknown[i], "\"%s\": field %d is %d", line, i,
		           f[i]);
	}
}

static void
check_cops(const char *line)
{
	DfotaAtCops c;
	const char *rat;

	memset(&c, 0xa5, sizeof(c));
	if (!dfota_at_parse_cops(line, &c)) {
		FUZZ_CHECK(c.oper == NULL, "rejected +COPS left an operator");
		return;
	}
	FUZZ_CHECK(c.registered == (c.oper != NULL), "\"%s\": registered %d, operator %s", line,
	           c.registered, c.oper ? c.oper : "(null)");
	FUZZ_CHECK(is_nonempty_or_null(c.oper), "\"%s\": empty operator string", line);
	FUZZ_CHECK(c.rat >= DFOTA_AT_RAT_UNKNOWN && c.rat <= DFOTA_AT_RAT_GSM, "rat %d", c.rat);
	rat = dfota_at_rat_to_string(c.rat);
	FUZZ_CHECK(rat != NULL && (g_str_equal(rat, "nb-iot") || g_str_equal(rat, "gsm") ||
	                           g_str_equal(rat, "unknown")),
	           "rat string");
	dfota_at_cops_clear(&c);
	FUZZ_CHECK(c.oper == NULL, "cops_clear left the operator");
}

static void
check_cgpaddr_cgact(const char *line)
{
	int cid = 0, state = 0;
	char *addr = (char *)"sentinel";

	if (dfota_at_parse_cgpaddr(line, &cid, &addr)) {
		FUZZ_CHECK(is_nonempty_or_null(addr), "\"%s\": empty address string", line);
		g_free(addr);
	} else {
		FUZZ_CHECK(addr == NULL, "rejected +CGPADDR left an address");
	}
	if (dfota_at_parse_cgact(line, &cid, &state)) {
		g_autofree char *again = g_strdup_printf("+CGACT: %d,%d", cid, state);
		int cid2 = 0, state2 = 0;

		FUZZ_CHECK(dfota_at_parse_cgact(again, &cid2, &state2) && cid2 == cid &&
		                   state2 == state,
		           "\"%s\" (from \"%s\") did not parse back", again, line);
	}
}

static void
check_cgdcont(const char *line)
{
	DfotaAtCgdcont c;

	memset(&c, 0xa5, sizeof(c));
	if (!dfota_at_parse_cgdcont(line, &c)) {
		FUZZ_CHECK(c.pdp_type == NULL && c.apn == NULL && c.address == NULL,
		           "rejected +CGDCONT left strings");
		return;
	}
	FUZZ_CHECK(is_nonempty_or_null(c.pdp_type) && is_nonempty_or_null(c.apn) &&
	                   is_nonempty_or_null(c.address),
	           "\"%s\": an empty string instead of NULL", line);
	dfota_at_cgdcont_clear(&c);
}

static void
check_imei(const char *line)
{
	g_autofree char *imei = dfota_at_parse_imei(line);
	gsize n;

	if (imei == NULL)
		return;
	n = strlen(imei);
	FUZZ_CHECK(n == 15 || n == 16, "IMEI \"%s\" from \"%s\"", imei, line);
	for (gsize i = 0; i < n; i++)
		FUZZ_CHECK(g_ascii_isdigit(imei[i]), "IMEI \"%s\" from \"%s\"", imei, line);
}

static void
check_files(const char *line)
{
	char *name = (char *)"sentinel";
	guint64 a = 0, b = 0, a2 = 0, b2 = 0;
	guint16 sum = 0, sum2 = 0;

	if (dfota_at_parse_qflst(line, &name, &a)) {
		FUZZ_CHECK(name != NULL && *name != '\0', "\"%s\": empty file name", line);
		if (strchr(name, '"') == NULL) {
			g_autofree char *again =
			        g_strdup_printf("+QFLST: \"%s\",%" G_GUINT64_FORMAT, name, a);
			g_autofree char *name2 = NULL;

			FUZZ_CHECK(dfota_at_parse_qflst(again, &name2, &a2) &&
			                   g_str_equal(name2, name) && a2 == a,
			           "\"%s\" (from \"%s\") did not parse back", again, line);
		}
		g_free(name);
	}
	if (dfota_at_parse_qflds(line, &a, &b)) {
		g_autofree char *again =
		        g_strdup_printf("+QFLDS: %" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT, a, b);

		FUZZ_CHECK(dfota_at_parse_qflds(again, &a2, &b2) && a2 == a && b2 == b,
		           "\"%s\" (from \"%s\") did not parse back", again, line);
	}
	for (int i = 0; i < 2; i++) {
		const char *prefix = i == 0 ? "+QFUPL:" : "+QFDWL:";
		g_autofree char *again = NULL;

		if (!dfota_at_parse_transfer_result(line, prefix, &a, &sum))
			continue;
		again = g_strdup_printf("%s %" G_GUINT64_FORMAT ",%x", prefix, a, sum);
		FUZZ_CHECK(dfota_at_parse_transfer_result(again, prefix, &a2, &sum2) && a2 == a &&
		                   sum2 == sum,
		           "\"%s\" (from \"%s\") did not parse back", again, line);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *line = fuzz_strndup(data, size);

	check_final(line);
	check_expected_prefix(line);
	check_expected_prefixes(line);
	check_ati(line);
	check_cesq(line);
	check_cops(line);
	check_cgpaddr_cgact(line);
	check_cgdcont(line);
	check_imei(line);
	check_files(line);
	return 0;
}
