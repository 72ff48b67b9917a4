// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-journal.c: the structured fields of dfota_log_job(), the records that let
 * `journalctl DFOTAD_JOB=7` tell one upgrade's story.
 *
 * A unit test rather than a run of the daemon: GLib's default writer hands the fields to
 * journald only when stderr is the journal's stream socket, and neither journald nor its
 * socket exists in the test environment; on a plain stderr it prints MESSAGE alone. So a
 * GLogWriterFunc records each record's fields here, and the test asks GLib's default writer
 * (what the daemon uses in production) whether it would pass each record on or drop it. */
#include <glib.h>
#include <string.h>

#include "dfota-log.h"

typedef struct {
	GLogLevelFlags level;
	GHashTable *fields; /* key → value */
	gboolean default_would_drop;
} Record;

static GPtrArray *records;

static void
record_free(gpointer data)
{
	Record *r = data;

	g_hash_table_unref(r->fields);
	g_free(r);
}

static GLogWriterOutput
recording_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	Record *r = g_new0(Record, 1);
	const char *domain = NULL;

	r->level = level;
	r->fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	for (gsize i = 0; i < n_fields; i++) {
		char *value = fields[i].length < 0
		                      ? g_strdup(fields[i].value)
		                      : g_strndup(fields[i].value, (gsize)fields[i].length);

		g_assert_false(g_hash_table_contains(r->fields, fields[i].key));
		g_hash_table_insert(r->fields, g_strdup(fields[i].key), value);
		if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
	}
	r->default_would_drop = g_log_writer_default_would_drop(level, domain);
	g_ptr_array_add(records, r);
	return G_LOG_WRITER_HANDLED;
}

static Record *
last_record(void)
{
	g_assert_cmpuint(records->len, >, 0);
	return records->pdata[records->len - 1];
}

static const char *
field(Record *r, const char *key)
{
	return g_hash_table_lookup(r->fields, key);
}

/* journald accepts field names of uppercase letters, digits and underscores, not starting
 * with an underscore (those are trusted fields it sets itself). */
static void
assert_journal_keys(Record *r)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, r->fields);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		const char *k = key;

		g_assert_true(g_ascii_isupper(k[0]));
		for (const char *p = k; *p != '\0'; p++)
			g_assert_true(g_ascii_isupper(*p) || g_ascii_isdigit(*p) || *p == '_');
		g_assert_cmpuint(strlen(k), <=, 64);
	}
}

static void
test_fields(void)
{
	Record *r;

	g_ptr_array_set_size(records, 0);
	dfota_log_job(G_LOG_LEVEL_WARNING, "gw", 7, "updating", 6505, "job %d (upgrade) failed: %s",
	              7, "FlashWriteFailed");
	r = last_record();
	assert_journal_keys(r);
	g_assert_cmpstr(field(r, "MESSAGE"), ==, "job 7 (upgrade) failed: FlashWriteFailed");
	g_assert_cmpstr(field(r, "PRIORITY"), ==, "4");
	g_assert_cmpstr(field(r, "DFOTAD_MODEM"), ==, "gw");
	g_assert_cmpstr(field(r, "DFOTAD_JOB"), ==, "7");
	g_assert_cmpstr(field(r, "DFOTAD_PHASE"), ==, "updating");
	g_assert_cmpstr(field(r, "DFOTAD_CODE"), ==, "6505");
	g_assert_nonnull(field(r, "GLIB_DOMAIN"));

	/* No phase, no code: the fields are left out rather than empty. */
	dfota_log_job(G_LOG_LEVEL_MESSAGE, "0", G_MAXUINT64, NULL, DFOTA_LOG_NO_CODE, "accepted");
	r = last_record();
	assert_journal_keys(r);
	g_assert_cmpstr(field(r, "PRIORITY"), ==, "5");
	g_assert_cmpstr(field(r, "DFOTAD_MODEM"), ==, "0");
	g_assert_cmpstr(field(r, "DFOTAD_JOB"), ==, "18446744073709551615");
	g_assert_null(field(r, "DFOTAD_PHASE"));
	g_assert_null(field(r, "DFOTAD_CODE"));

	/* The module gave no code (-1) and success (0) are both worth a field. */
	dfota_log_job(G_LOG_LEVEL_MESSAGE, "gw", 8, "idle", -1, "no code");
	g_assert_cmpstr(field(last_record(), "DFOTAD_CODE"), ==, "-1");
	dfota_log_job(G_LOG_LEVEL_MESSAGE, "gw", 8, "idle", 0, "done");
	g_assert_cmpstr(field(last_record(), "DFOTAD_CODE"), ==, "0");

	dfota_log_job(G_LOG_LEVEL_INFO, "gw", 9, "downloading", DFOTA_LOG_NO_CODE, "step");
	g_assert_cmpstr(field(last_record(), "PRIORITY"), ==, "6");
	dfota_log_job(G_LOG_LEVEL_DEBUG, "gw", 9, "downloading", DFOTA_LOG_NO_CODE, "detail");
	g_assert_cmpstr(field(last_record(), "PRIORITY"), ==, "7");
	g_assert_cmpuint(records->len, ==, 6);
}

/* One upgrade's story, as the job logs it: accepted (MESSAGE), each phase (INFO, see
 * daemon/fota/dfota-fota.c fota_set_step), the end (MESSAGE or WARNING). The daemon runs
 * without --verbose under systemd, so GLib's default writer must not drop any of them. */
static void
test_story_reaches_journal(void)
{
	static const struct {
		GLogLevelFlags level;
		const char *phase;
		const char *message;
	} story[] = {
		/* the levels daemon/fota/dfota-fota.c logs a job's story at */
		{ G_LOG_LEVEL_MESSAGE, "downloading", "job 7 (upgrade) accepted" },
		{ G_LOG_LEVEL_MESSAGE, "updating", "job 7: updating" },
		{ G_LOG_LEVEL_MESSAGE, "rebooting", "job 7: rebooting" },
		{ G_LOG_LEVEL_MESSAGE, "verifying", "job 7: verifying" },
		{ G_LOG_LEVEL_MESSAGE, "verifying", "job 7 (upgrade) succeeded" },
		{ G_LOG_LEVEL_WARNING, "updating", "job 8 (upgrade) failed" },
	};

	g_autoptr(GString) dropped = g_string_new(NULL);

	/* As under systemd: no G_MESSAGES_DEBUG, no --verbose. */
	g_unsetenv("G_MESSAGES_DEBUG");
	g_log_set_debug_enabled(FALSE);
	g_ptr_array_set_size(records, 0);
	for (guint i = 0; i < G_N_ELEMENTS(story); i++) {
		Record *r;

		dfota_log_job(story[i].level, "gw", 7, story[i].phase, DFOTA_LOG_NO_CODE, "%s",
		              story[i].message);
		r = last_record();
		if (r->default_would_drop)
			g_string_append_printf(dropped, "%s\"%s\" (PRIORITY=%s)",
			                       dropped->len > 0 ? ", " : "", story[i].message,
			                       field(r, "PRIORITY"));
	}
	if (dropped->len > 0)
		g_test_fail_printf("GLib's default writer drops %s before they reach the journal",
		                   dropped->str);
}

static guint evaluated;

static const char *
count_evaluation(void)
{
	evaluated++;
	return "line";
}

/* dfota_debug() builds its message only when a debug message would be shown: the AT trace is
 * not formatted, redacted and handed to a writer that drops it, once per line. */
static void
test_debug_gate(void)
{
	int cache_at = -1, cache_other = -1;

	g_unsetenv("G_MESSAGES_DEBUG");
	g_log_set_debug_enabled(FALSE);
	g_ptr_array_set_size(records, 0);
	evaluated = 0;
	dfota_debug("<-- %s", count_evaluation());
	g_assert_cmpuint(evaluated, ==, 0);
	g_assert_cmpuint(records->len, ==, 0);

	/* --verbose */
	g_log_set_debug_enabled(TRUE);
	dfota_debug("<-- %s", count_evaluation());
	g_assert_cmpuint(evaluated, ==, 1);
	g_assert_cmpuint(records->len, ==, 1);
	g_assert_cmpstr(field(last_record(), "MESSAGE"), ==, "<-- line");
	g_assert_cmpstr(field(last_record(), "PRIORITY"), ==, "7");
	g_log_set_debug_enabled(FALSE);

	/* G_MESSAGES_DEBUG names domains; the answer is kept per cache */
	g_setenv("G_MESSAGES_DEBUG", "dfota-at", TRUE);
	g_assert_true(dfota_log_debug_on("dfota-at", &cache_at));
	g_assert_false(dfota_log_debug_on("dfota-fota", &cache_other));
	g_unsetenv("G_MESSAGES_DEBUG");
	g_assert_true(dfota_log_debug_on("dfota-at", &cache_at));
	g_log_set_debug_enabled(TRUE);
	g_assert_true(dfota_log_debug_on("dfota-fota", &cache_other));
	g_log_set_debug_enabled(FALSE);
}

int
main(int argc, char **argv)
{
	int status;

	g_test_init(&argc, &argv, NULL);
	records = g_ptr_array_new_with_free_func(record_free);
	g_log_set_writer_func(recording_writer, NULL, NULL);
	g_test_add_func("/journal/fields", test_fields);
	g_test_add_func("/journal/story-reaches-journal", test_story_reaches_journal);
	g_test_add_func("/journal/debug-gate", test_debug_gate);
	status = g_test_run();
	g_ptr_array_unref(records);
	return status;
}
