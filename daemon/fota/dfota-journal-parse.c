// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-journal-parse.c: reading a record's text back (pure: no I/O), and what it may hold. */
#include "dfota-journal.h"

#include <string.h>

#include "dfota-job.h"

#define JOURNAL_FORMAT "a{sv}"

/* ---- what a record may hold ------------------------------------------------------------------
 * One table per dictionary: each key the daemon writes, with its GVariant type and, where the
 * type alone does not say enough, a check of the value. Job and LastResult are published as
 * a{sv} properties, so a key of another type (a maybe or a handle D-Bus cannot carry, a string
 * where clients read a number) would break GetAll or its readers: a record with such a key is
 * not loaded. A key the job starts to record must be added here, or it is dropped on load. */

typedef struct {
	const char *key;
	const char *type;
	gboolean (*valid)(GVariant *value);
} RecordKey;

static gboolean
valid_id(GVariant *v)
{
	guint64 id = g_variant_get_uint64(v);

	return id >= 1 && id < DFOTA_JOURNAL_ID_MAX;
}

static gboolean
valid_kind(GVariant *v)
{
	DfotaJobKind kind;

	return dfota_job_kind_from_string(g_variant_get_string(v, NULL), &kind);
}

static const char *const phase_names[] = { "idle",     "fetching",  "uploading", "downloading",
	                                   "updating", "rebooting", "verifying", NULL };

static gboolean
valid_phase(GVariant *v)
{
	return g_strv_contains(phase_names, g_variant_get_string(v, NULL));
}

static gboolean
valid_step(GVariant *v)
{
	return g_variant_get_uint32(v) <= DFOTA_JOB_STEP_VERIFYING;
}

static gboolean
valid_percent(GVariant *v)
{
	return g_variant_get_uint32(v) <= 100;
}

static gboolean
valid_error_name(GVariant *v)
{
	const char *s = g_variant_get_string(v, NULL);

	return *s == '\0' || (g_str_has_prefix(s, "org.dfotad1.Error.") &&
	                      g_dbus_is_member_name(s + strlen("org.dfotad1.Error.")));
}

#define PUBLIC_JOB_KEYS                                                                \
	{ "id", "t", valid_id }, { "kind", "s", valid_kind }, { "source", "s", NULL }, \
	        { "started", "t", NULL }, { "from-revision", "s", NULL },              \
	{                                                                              \
		"via-host", "b", NULL                                                  \
	}

/* The Job property's keys plus the job's private state (dfota_job_to_record()). */
static const RecordKey job_keys[] = {
	PUBLIC_JOB_KEYS,
	{ "step", "u", valid_step },
	{ "phase", "s", valid_phase },
	{ "percent", "u", valid_percent },
	{ "from-sub-edition", "s", NULL },
	{ "filename", "s", NULL },
	{ "end-seen", "b", NULL },
	{ "power-cut", "b", NULL },
	{ "updating-done", "b", NULL },
	{ "fallback-via-host", "b", NULL },
	{ "first-failure", "s", NULL },
	{ "command-accepted", "b", NULL },
	{ NULL },
};
static const char *const job_required[] = { "id", "kind", "source", NULL };

/* LastResult (dbus-api.md): the Job keys and the outcome. */
static const RecordKey last_result_keys[] = {
	PUBLIC_JOB_KEYS,           { "success", "b", NULL },
	{ "code", "i", NULL },     { "error", "s", valid_error_name },
	{ "message", "s", NULL },  { "to-revision", "s", NULL },
	{ "finished", "t", NULL }, { "file", "s", NULL },
	{ "size", "t", NULL },     { NULL },
};
static const char *const last_result_required[] = { "id", "kind", "success", NULL };

static const RecordKey *
record_key_find(const RecordKey *table, const char *key)
{
	for (; table->key; table++)
		if (g_str_equal(table->key, key))
			return table;
	return NULL;
}

static gboolean invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
invalid(GError **error, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, msg);
	return FALSE;
}

/* A copy of @dict (a{sv}) with the known keys only, each checked; a key twice is refused
 * (which one would win is not the writer's intent). NULL for an empty dictionary. */
static gboolean
record_check(GVariant *dict, const char *what, const RecordKey *table, const char *const *required,
             GVariant **out, GError **error)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	GVariantBuilder b;
	GVariantIter iter;
	const char *key;
	GVariant *value;
	gboolean any = FALSE;

	*out = NULL;
	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_iter_init(&iter, dict);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_autoptr(GVariant) v = value;
		const RecordKey *k = record_key_find(table, key);

		if (!g_hash_table_add(seen, (gpointer)key)) {
			g_variant_builder_clear(&b);
			return invalid(error, "key \"%s\" appears twice in %s", key, what);
		}
		if (!k) {
			g_debug("journal: dropping unknown key \"%s\" of %s", key, what);
			continue;
		}
		if (!g_variant_is_of_type(v, G_VARIANT_TYPE(k->type))) {
			g_variant_builder_clear(&b);
			return invalid(error, "%s.%s is of type %s, not %s", what, key,
			               g_variant_get_type_string(v), k->type);
		}
		if (k->valid && !k->valid(v)) {
			g_variant_builder_clear(&b);
			return invalid(error, "%s.%s has a value it can never have", what, key);
		}
		g_variant_builder_add(&b, "{sv}", key, v);
		any = TRUE;
	}
	if (!any) {
		g_variant_builder_clear(&b);
		return TRUE;
	}
	for (guint i = 0; required[i]; i++) {
		if (!g_hash_table_contains(seen, required[i])) {
			g_variant_builder_clear(&b);
			return invalid(error, "%s has no \"%s\"", what, required[i]);
		}
	}
	*out = g_variant_ref_sink(g_variant_builder_end(&b));
	return TRUE;
}

gboolean
dfota_journal_parse(const char *text, gsize len, guint64 *next_id, GVariant **job,
                    GVariant **last_result, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(GVariant) v = NULL;
	g_autoptr(GVariant) next = NULL;
	g_autoptr(GVariant) job_v = NULL;
	g_autoptr(GVariant) last_v = NULL;
	g_autoptr(GVariant) job_out = NULL;
	g_autoptr(GVariant) last_out = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	GVariantIter iter;
	const char *key;
	GVariant *value;
	guint64 id = 1;

	*next_id = 0;
	*job = NULL;
	*last_result = NULL;
	if (len > DFOTA_JOURNAL_MAX_BYTES)
		return invalid(error, "%" G_GSIZE_FORMAT " bytes, more than a record can be", len);
	if (memchr(text, '\0', len))
		return invalid(error, "a NUL byte in the text");
	/* g_variant_parse() fails on a string that is not UTF-8 without setting its error. */
	if (!g_utf8_validate(text, (gssize)len, NULL))
		return invalid(error, "the text is not valid UTF-8");
	v = g_variant_parse(G_VARIANT_TYPE(JOURNAL_FORMAT), text, text + len, NULL, &local);
	if (!v)
		return invalid(error, "not a record (%s)",
		               local ? local->message : "the text does not parse");

	/* The id counter first: even a record refused below tells how far ids went. */
	next = g_variant_lookup_value(v, "next-id", NULL);
	if (next && g_variant_is_of_type(next, G_VARIANT_TYPE_UINT64) && valid_id(next))
		*next_id = g_variant_get_uint64(next);

	g_variant_iter_init(&iter, v);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_autoptr(GVariant) owned = value;

		if (!g_hash_table_add(seen, (gpointer)key))
			return invalid(error, "key \"%s\" appears twice", key);
		if (g_str_equal(key, "next-id")) {
			if (!g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64) || !valid_id(value))
				return invalid(error,
				               "next-id is not a number from 1 to 2^62-1 (type %s)",
				               g_variant_get_type_string(value));
			id = g_variant_get_uint64(value);
		} else if (g_str_equal(key, "job") || g_str_equal(key, "last-result")) {
			if (!g_variant_is_of_type(value, G_VARIANT_TYPE_VARDICT))
				return invalid(error, "%s is of type %s, not a dictionary a{sv}",
				               key, g_variant_get_type_string(value));
			if (g_str_equal(key, "job"))
				job_v = g_steal_pointer(&owned);
			else
				last_v = g_steal_pointer(&owned);
		} else {
			g_debug("journal: dropping unknown key \"%s\"", key);
		}
	}
	if (job_v && !record_check(job_v, "job", job_keys, job_required, &job_out, error))
		return FALSE;
	if (last_v && !record_check(last_v, "last-result", last_result_keys, last_result_required,
	                            &last_out, error))
		return FALSE;
	/* Never below an id the record shows was issued. */
	for (guint i = 0; i < 2; i++) {
		GVariant *d = i ? last_out : job_out;
		guint64 used;

		if (d && g_variant_lookup(d, "id", "t", &used) && used + 1 > id)
			id = used + 1;
	}
	if (id >= DFOTA_JOURNAL_ID_MAX)
		return invalid(error, "ids would pass 2^62");
	*next_id = id;
	*job = g_steal_pointer(&job_out);
	*last_result = g_steal_pointer(&last_out);
	return TRUE;
}
