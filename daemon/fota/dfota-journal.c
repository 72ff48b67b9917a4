/* dfota-journal.c: the per-modem record, one GVariant text file written atomically. */
#include "dfota-journal.h"

#include <errno.h>
#include <glib/gstdio.h>

#define JOURNAL_FORMAT "a{sv}"

struct _DfotaJournal {
	char *path;
	guint64 next_id;
	GVariant *job;         /* a{sv} or NULL */
	GVariant *last_result; /* a{sv} or NULL */
};

static char *
sanitize(const char *s)
{
	GString *out = g_string_new(NULL);

	for (const char *p = s; p && *p; p++) {
		if (g_ascii_isalnum(*p) || *p == '.' || *p == '_')
			g_string_append_c(out, *p);
		else if (out->len && out->str[out->len - 1] != '-')
			g_string_append_c(out, '-');
	}
	while (out->len && out->str[0] == '-')
		g_string_erase(out, 0, 1);
	return g_string_free(out, FALSE);
}

static void
journal_load(DfotaJournal *self)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) v = NULL;
	g_autoptr(GVariant) job = NULL;
	g_autoptr(GVariant) last = NULL;

	if (!g_file_get_contents(self->path, &text, NULL, &error)) {
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("journal %s: %s", self->path, error->message);
		return;
	}
	v = g_variant_parse(G_VARIANT_TYPE(JOURNAL_FORMAT), text, NULL, NULL, &error);
	if (!v) {
		g_autofree char *aside = g_strdup_printf("%s.corrupt-%" G_GINT64_FORMAT, self->path,
		                                         g_get_real_time());
		g_warning("journal %s cannot be read (%s); moved aside to %s", self->path,
		          error->message, aside);
		if (g_rename(self->path, aside) != 0)
			g_warning("journal: cannot move %s aside: %s", self->path,
			          g_strerror(errno));
		return;
	}
	g_variant_lookup(v, "next-id", "t", &self->next_id);
	job = g_variant_lookup_value(v, "job", G_VARIANT_TYPE_VARDICT);
	last = g_variant_lookup_value(v, "last-result", G_VARIANT_TYPE_VARDICT);
	if (job && g_variant_n_children(job) > 0)
		self->job = g_steal_pointer(&job);
	if (last && g_variant_n_children(last) > 0)
		self->last_result = g_steal_pointer(&last);
}

static gboolean
journal_store(DfotaJournal *self, gboolean durable, GError **error)
{
	GVariantBuilder b;
	g_autoptr(GVariant) v = NULL;
	g_autofree char *text = NULL;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "next-id", g_variant_new_uint64(self->next_id));
	if (self->job)
		g_variant_builder_add(&b, "{sv}", "job", self->job);
	if (self->last_result)
		g_variant_builder_add(&b, "{sv}", "last-result", self->last_result);
	v = g_variant_ref_sink(g_variant_builder_end(&b));
	text = g_variant_print(v, TRUE);
	if (!g_file_set_contents_full(self->path, text, -1,
	                              G_FILE_SET_CONTENTS_CONSISTENT |
	                                      (durable ? G_FILE_SET_CONTENTS_DURABLE : 0),
	                              0600, error)) {
		g_warning("journal %s: cannot write: %s", self->path,
		          error && *error ? (*error)->message : "?");
		return FALSE;
	}
	return TRUE;
}

DfotaJournal *
dfota_journal_open(const char *state_dir, const char *port, const char *imei)
{
	DfotaJournal *self = g_new0(DfotaJournal, 1);
	g_autofree char *p = sanitize(port);
	g_autofree char *i = sanitize(imei && *imei ? imei : "unknown-imei");
	g_autofree char *name = g_strdup_printf("modem-%s-%s.journal", p, i);

	if (g_mkdir_with_parents(state_dir, 0700) != 0)
		g_warning("journal: cannot create %s: %s", state_dir, g_strerror(errno));
	self->path = g_build_filename(state_dir, name, NULL);
	self->next_id = 1;
	journal_load(self);
	if (self->next_id == 0)
		self->next_id = 1;
	return self;
}

void
dfota_journal_free(DfotaJournal *self)
{
	if (!self)
		return;
	g_free(self->path);
	g_clear_pointer(&self->job, g_variant_unref);
	g_clear_pointer(&self->last_result, g_variant_unref);
	g_free(self);
}

const char *
dfota_journal_get_path(DfotaJournal *self)
{
	return self->path;
}

guint64
dfota_journal_take_job_id(DfotaJournal *self, GError **error)
{
	guint64 id = self->next_id++;

	if (!journal_store(self, TRUE, error))
		return 0;
	return id;
}

GVariant *
dfota_journal_get_job(DfotaJournal *self)
{
	return self->job ? g_variant_ref(self->job) : NULL;
}

gboolean
dfota_journal_set_job(DfotaJournal *self, GVariant *job, GError **error)
{
	g_clear_pointer(&self->job, g_variant_unref);
	self->job = job ? g_variant_ref_sink(job) : NULL;
	return journal_store(self, TRUE, error);
}

gboolean
dfota_journal_set_job_lazy(DfotaJournal *self, GVariant *job, GError **error)
{
	g_clear_pointer(&self->job, g_variant_unref);
	self->job = job ? g_variant_ref_sink(job) : NULL;
	return journal_store(self, FALSE, error);
}

GVariant *
dfota_journal_get_last_result(DfotaJournal *self)
{
	return self->last_result ? g_variant_ref(self->last_result) : NULL;
}

gboolean
dfota_journal_finish_job(DfotaJournal *self, GVariant *result, GError **error)
{
	g_clear_pointer(&self->job, g_variant_unref);
	g_clear_pointer(&self->last_result, g_variant_unref);
	self->last_result = result ? g_variant_ref_sink(result) : NULL;
	return journal_store(self, TRUE, error);
}
