// SPDX-License-Identifier: LGPL-2.1-or-later
/* fuzz-journal.c: the journal loader (dfota_journal_parse, dfota_journal_parse_progress) on
 * arbitrary bytes, as a corrupted disk or a hostile writer of the state directory leaves them.
 *
 * Invariants: never a crash, a critical or a leak; a refusal always carries
 * G_IO_ERROR_INVALID_DATA with a message and hands out no dictionaries, and the id counter it
 * salvages is 0 or in range; an accepted record holds only the keys of the model below, each
 * of its type (what Job and LastResult publish over D-Bus), with a known kind and phase, a
 * percent <= 100, the required keys, and a next id above every id in it; it is never accepted
 * when the text itself gives a known key another type; and what was accepted survives being
 * written back and read again unchanged (the daemon stores it that way). An accepted progress
 * line is written back byte for byte by the writer's own format.
 *
 * The model is written from dbus-api.md and dfota-job.c, not taken from dfota-journal.c.
 */
#include "fuzz-common.h"

#include <gio/gio.h>

#include "dfota-journal.h"

typedef struct {
	const char *key;
	const char *type;
} ModelKey;

static const ModelKey job_model[] = {
	{ "id", "t" },
	{ "kind", "s" },
	{ "source", "s" },
	{ "started", "t" },
	{ "from-revision", "s" },
	{ "via-host", "b" },
	{ "step", "u" },
	{ "phase", "s" },
	{ "percent", "u" },
	{ "from-sub-edition", "s" },
	{ "filename", "s" },
	{ "end-seen", "b" },
	{ "power-cut", "b" },
	{ "updating-done", "b" },
	{ "fallback-via-host", "b" },
	{ "first-failure", "s" },
	{ "command-accepted", "b" },
	{ NULL, NULL },
};

static const ModelKey last_model[] = {
	{ "id", "t" },      { "kind", "s" },          { "source", "s" },
	{ "started", "t" }, { "from-revision", "s" }, { "via-host", "b" },
	{ "success", "b" }, { "code", "i" },          { "error", "s" },
	{ "message", "s" }, { "to-revision", "s" },   { "finished", "t" },
	{ "file", "s" },    { "size", "t" },          { NULL, NULL },
};

static const char *const kinds[] = { "upgrade",
	                             "upgrade-local",
	                             "upgrade-via-host",
	                             "upgrade-from-file",
	                             "fetch-mcu-file",
	                             "forced-resume",
	                             NULL };
static const char *const phases[] = { "idle",     "fetching",  "uploading", "downloading",
	                              "updating", "rebooting", "verifying", NULL };

static const char *
model_type(const ModelKey *model, const char *key)
{
	for (; model->key; model++)
		if (strcmp(model->key, key) == 0)
			return model->type;
	return NULL;
}

/* An accepted dictionary: model keys only, each of its type, sane values; its id. */
static guint64
check_dict(GVariant *d, const ModelKey *model, const char *what)
{
	GVariantIter iter;
	const char *key;
	GVariant *value;
	guint64 id = 0;
	const char *kind = NULL;

	FUZZ_CHECK(g_variant_is_of_type(d, G_VARIANT_TYPE_VARDICT), "%s is %s", what,
	           g_variant_get_type_string(d));
	FUZZ_CHECK(g_variant_n_children(d) > 0, "%s accepted empty instead of NULL", what);
	g_variant_iter_init(&iter, d);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		const char *type = model_type(model, key);

		FUZZ_CHECK(type != NULL, "%s kept unknown key %s", what, key);
		FUZZ_CHECK(g_variant_is_of_type(value, G_VARIANT_TYPE(type)), "%s.%s is %s, not %s",
		           what, key, g_variant_get_type_string(value), type);
		if (strcmp(key, "percent") == 0)
			FUZZ_CHECK(g_variant_get_uint32(value) <= 100, "%s.percent %u", what,
			           g_variant_get_uint32(value));
		if (strcmp(key, "phase") == 0)
			FUZZ_CHECK(g_strv_contains(phases, g_variant_get_string(value, NULL)),
			           "%s.phase %s", what, g_variant_get_string(value, NULL));
		if (strcmp(key, "kind") == 0)
			kind = g_variant_get_string(value, NULL);
		if (strcmp(key, "id") == 0)
			id = g_variant_get_uint64(value);
		g_variant_unref(value);
	}
	FUZZ_CHECK(kind != NULL && g_strv_contains(kinds, kind), "%s has kind %s", what,
	           kind ? kind : "(none)");
	FUZZ_CHECK(id >= 1 && id < DFOTA_JOURNAL_ID_MAX, "%s has id %" G_GUINT64_FORMAT, what, id);
	return id;
}

/* Independently of the loader: does the text give a known key of @dict another type? */
static gboolean
text_has_bad_type(GVariant *dict, const ModelKey *model)
{
	GVariantIter iter;
	const char *key;
	GVariant *value;
	gboolean bad = FALSE;

	g_variant_iter_init(&iter, dict);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		const char *type = model_type(model, key);

		if (type && !g_variant_is_of_type(value, G_VARIANT_TYPE(type)))
			bad = TRUE;
		g_variant_unref(value);
	}
	return bad;
}

static void
check_no_bad_types_accepted(const char *text, gsize len)
{
	g_autoptr(GVariant) v =
	        g_variant_parse(G_VARIANT_TYPE_VARDICT, text, text + len, NULL, NULL);
	g_autoptr(GVariant) next = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;

	FUZZ_CHECK(v != NULL, "accepted a text GLib does not parse as a{sv}");
	next = g_variant_lookup_value(v, "next-id", NULL);
	FUZZ_CHECK(!next || g_variant_is_of_type(next, G_VARIANT_TYPE_UINT64),
	           "accepted next-id of type %s", g_variant_get_type_string(next));
	job = g_variant_lookup_value(v, "job", NULL);
	last = g_variant_lookup_value(v, "last-result", NULL);
	FUZZ_CHECK(!job || g_variant_is_of_type(job, G_VARIANT_TYPE_VARDICT),
	           "accepted job of type %s", g_variant_get_type_string(job));
	FUZZ_CHECK(!last || g_variant_is_of_type(last, G_VARIANT_TYPE_VARDICT),
	           "accepted last-result of type %s", g_variant_get_type_string(last));
	FUZZ_CHECK(!job || !text_has_bad_type(job, job_model), "accepted a job key of a bad type");
	FUZZ_CHECK(!last || !text_has_bad_type(last, last_model),
	           "accepted a last-result key of a bad type");
}

/* Written back as journal_store() writes, and read again: the same record. */
static void
check_round_trip(guint64 next_id, GVariant *job, GVariant *last)
{
	GVariantBuilder b;
	g_autoptr(GVariant) v = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) job2 = NULL;
	g_autoptr(GVariant) last2 = NULL;
	guint64 next2 = 0;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "next-id", g_variant_new_uint64(next_id));
	if (job)
		g_variant_builder_add(&b, "{sv}", "job", job);
	if (last)
		g_variant_builder_add(&b, "{sv}", "last-result", last);
	v = g_variant_ref_sink(g_variant_builder_end(&b));
	text = g_variant_print(v, TRUE);
	FUZZ_CHECK(dfota_journal_parse(text, strlen(text), &next2, &job2, &last2, &error),
	           "an accepted record written back does not load: %s\n  %s",
	           error ? error->message : "(no error)", text);
	FUZZ_CHECK(next2 == next_id, "next id %" G_GUINT64_FORMAT " became %" G_GUINT64_FORMAT,
	           next_id, next2);
	FUZZ_CHECK((job == NULL) == (job2 == NULL) && (!job || g_variant_equal(job, job2)),
	           "job changed on the round trip: %s", text);
	FUZZ_CHECK((last == NULL) == (last2 == NULL) && (!last || g_variant_equal(last, last2)),
	           "last-result changed on the round trip: %s", text);
}

static void
check_record(const char *text, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;
	guint64 next_id = 42;

	if (!dfota_journal_parse(text, len, &next_id, &job, &last, &error)) {
		FUZZ_CHECK(error != NULL, "refused without an error");
		FUZZ_CHECK(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA),
		           "refused with %s/%d", g_quark_to_string(error->domain), error->code);
		FUZZ_CHECK(error->message && *error->message, "refused without a message");
		FUZZ_CHECK(job == NULL && last == NULL, "refused but handed out a dictionary");
		FUZZ_CHECK(next_id == 0 || (next_id >= 1 && next_id < DFOTA_JOURNAL_ID_MAX),
		           "salvaged next id %" G_GUINT64_FORMAT, next_id);
		return;
	}
	FUZZ_CHECK(error == NULL, "accepted but set an error");
	FUZZ_CHECK(len <= DFOTA_JOURNAL_MAX_BYTES, "accepted %zu bytes", len);
	FUZZ_CHECK(g_utf8_validate(text, (gssize)len, NULL) && !memchr(text, '\0', len),
	           "accepted text that is not UTF-8");
	FUZZ_CHECK(next_id >= 1 && next_id < DFOTA_JOURNAL_ID_MAX, "next id %" G_GUINT64_FORMAT,
	           next_id);
	if (job)
		FUZZ_CHECK(check_dict(job, job_model, "job") < next_id, "job id not below next id");
	if (last)
		FUZZ_CHECK(check_dict(last, last_model, "last-result") < next_id,
		           "last-result id not below next id");
	check_no_bad_types_accepted(text, len);
	check_round_trip(next_id, job, last);
}

static void
check_progress(const char *text, gsize len)
{
	g_autofree char *phase = NULL;
	g_autofree char *again = NULL;
	guint64 id = 0;
	guint percent = 0;

	if (!dfota_journal_parse_progress(text, len, &id, &phase, &percent)) {
		FUZZ_CHECK(phase == NULL, "refused a progress line but returned a phase");
		return;
	}
	FUZZ_CHECK(id >= 1 && id < DFOTA_JOURNAL_ID_MAX, "progress id %" G_GUINT64_FORMAT, id);
	FUZZ_CHECK(percent <= 100, "progress percent %u", percent);
	FUZZ_CHECK(phase && *phase && strlen(phase) <= 24, "progress phase");
	again = g_strdup_printf("%020" G_GUINT64_FORMAT " %-24s %03u\n", id, phase, percent);
	FUZZ_CHECK(strlen(again) == len && memcmp(again, text, len) == 0,
	           "accepted a progress line the writer would not write");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The bytes as read from disk: any byte, NULs included, counted by length. */
	g_autofree char *text = g_malloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	check_record(text, size);
	check_progress(text, size);
	return 0;
}
