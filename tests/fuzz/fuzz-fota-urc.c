// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-fota-urc.c: dfota_fota_urc_parse() on arbitrary lines.
 *
 * Asserts only what at-parse.h promises: a rejected line leaves no name and value -1; an
 * accepted one carries the "+QIND:" prefix, a non-empty name, an event that is UNKNOWN
 * exactly when the name is none of the seed's spellings, and a value that is -1 when absent.
 * The range of a percent is NOT promised (the parser passes 250% through as 250), so it is
 * not asserted. Every accepted URC is re-spelt the ways the seed spells them (spaces after
 * the commas or not, '%' or not, lower-case prefix) and must parse to the same result.
 */
#include "fuzz-common.h"

#include "at-parse.h"

static const struct {
	const char *name;
	DfotaFotaEvent event;
} spellings[] = {
	{ "HTTPSTART", DFOTA_FOTA_EVENT_HTTPSTART },
	{ "DOWNLOADING", DFOTA_FOTA_EVENT_DOWNLOADING },
	{ "HTTPEND", DFOTA_FOTA_EVENT_HTTPEND },
	{ "HTTPPEND", DFOTA_FOTA_EVENT_HTTPEND },
	{ "HTTTPEND", DFOTA_FOTA_EVENT_HTTPEND },
	{ "START", DFOTA_FOTA_EVENT_START },
	{ "UPDATING", DFOTA_FOTA_EVENT_UPDATING },
	{ "END", DFOTA_FOTA_EVENT_END },
};

static DfotaFotaEvent
expected_event(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(spellings); i++) {
		if (g_ascii_strcasecmp(name, spellings[i].name) == 0)
			return spellings[i].event;
	}
	return DFOTA_FOTA_EVENT_UNKNOWN;
}

static void
check_respelt(const DfotaFotaUrc *u, const char *line, const char *fmt_no_value,
              const char *fmt_value)
{
	g_autofree char *again = NULL;
	DfotaFotaUrc v;

	/* The formats are the literal respellings the caller passes, one "%s" (and "%d") each. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (u->value == -1)
		again = g_strdup_printf(fmt_no_value, u->name);
	else
		again = g_strdup_printf(fmt_value, u->name, u->value);
#pragma GCC diagnostic pop
	FUZZ_CHECK(dfota_fota_urc_parse(again, &v), "\"%s\" (from \"%s\") was rejected", again,
	           line);
	FUZZ_CHECK(v.event == u->event && v.value == u->value && g_str_equal(v.name, u->name),
	           "\"%s\" gave event %d value %d name \"%s\", \"%s\" gave %d %d \"%s\"", line,
	           u->event, u->value, u->name, again, v.event, v.value, v.name);
	dfota_fota_urc_clear(&v);
	FUZZ_CHECK(v.name == NULL, "clear left the name");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *line = fuzz_strndup(data, size);
	const char *p = line;
	DfotaFotaUrc u;
	DfotaFotaUrc twice;
	gboolean ok = dfota_fota_urc_parse(line, &u);

	if (!ok) {
		FUZZ_CHECK(u.name == NULL && u.value == -1,
		           "rejected \"%s\" but left name %p value %d", line, (void *)u.name,
		           u.value);
		return 0;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	FUZZ_CHECK(g_ascii_strncasecmp(p, "+QIND:", 6) == 0,
	           "accepted \"%s\" without +QIND:", line);
	FUZZ_CHECK(u.name != NULL && *u.name != '\0', "accepted \"%s\" with an empty name", line);
	FUZZ_CHECK(u.event >= DFOTA_FOTA_EVENT_UNKNOWN && u.event <= DFOTA_FOTA_EVENT_END,
	           "event %d out of the enum", u.event);
	FUZZ_CHECK(u.event == expected_event(u.name), "name \"%s\" gave event %d", u.name, u.event);
	FUZZ_CHECK(u.value >= -1 || strchr(line, '-') != NULL,
	           "value %d from \"%s\" without a '-' in it", u.value, line);

	/* Pure: the same line parses the same way again. */
	FUZZ_CHECK(dfota_fota_urc_parse(line, &twice), "\"%s\" accepted only once", line);
	FUZZ_CHECK(twice.event == u.event && twice.value == u.value &&
	                   g_str_equal(twice.name, u.name),
	           "\"%s\" parsed differently twice", line);
	dfota_fota_urc_clear(&twice);

	/* A name with a quote cannot be re-quoted; one with trailing blanks only survives
	 * quoting, which is what the quoted spellings test. */
	if (strchr(u.name, '"') == NULL) {
		check_respelt(&u, line, "+QIND: \"FOTA\",\"%s\"", "+QIND: \"FOTA\",\"%s\",%d");
		check_respelt(&u, line, "+QIND: \"FOTA\", \"%s\"", "+QIND: \"FOTA\", \"%s\", %d");
		check_respelt(&u, line, "+qind: \"fota\",\"%s\"", "+qind: \"fota\",\"%s\",%d%%");
		check_respelt(&u, line, "+QIND:\"FOTA\", \"%s\"", "+QIND:\"FOTA\", \"%s\", %d%%");
	}
	dfota_fota_urc_clear(&u);
	return 0;
}
