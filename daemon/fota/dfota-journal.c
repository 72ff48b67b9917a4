/* dfota-journal.c: the per-modem record, one GVariant text file written atomically. */
#include "dfota-journal.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define JOURNAL_FORMAT "a{sv}"

struct _DfotaJournal {
	char *path;
	char *progress_path; /* the side file of dfota_journal_set_progress() */
	int progress_fd;     /* open once, rewritten in place; -1 until the first update */
	guint64 next_id;
	guint64 id_limit;      /* ids below it are reserved on disk: taking one writes nothing */
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

/* Temp file, fsync, rename, fsync of the directory: after a power cut the file is the old or
 * the new record, never a mix, and a completed write survives. The stored next-id is the end
 * of the reserved block (see journal_reserve_ids()). */
static gboolean
journal_store(DfotaJournal *self, GError **error)
{
	GVariantBuilder b;
	g_autoptr(GVariant) v = NULL;
	g_autoptr(GError) local = NULL;
	g_autofree char *text = NULL;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "next-id", g_variant_new_uint64(self->id_limit));
	if (self->job)
		g_variant_builder_add(&b, "{sv}", "job", self->job);
	if (self->last_result)
		g_variant_builder_add(&b, "{sv}", "last-result", self->last_result);
	v = g_variant_ref_sink(g_variant_builder_end(&b));
	text = g_variant_print(v, TRUE);
	if (g_file_set_contents_full(self->path, text, -1,
	                             G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
	                             0600, &local))
		return TRUE;
	g_warning("journal %s: cannot write: %s", self->path, local->message);
	g_propagate_error(error, g_steal_pointer(&local));
	return FALSE;
}

/* Ids are handed out from a block reserved on disk in advance, so that starting a job writes
 * nothing before its reply; a power cut skips the rest of the block, never reuses an id. */
#define ID_BLOCK 64

static void
journal_reserve_ids(DfotaJournal *self)
{
	self->id_limit = self->next_id + ID_BLOCK;
	journal_store(self, NULL);
}

/* One fixed-width line, rewritten at offset 0 with one pwrite(): no truncation, so the file
 * never passes through an empty or shorter state, and a sector-sized write is not torn in
 * practice. */
#define PROGRESS_PHASE_MAX 24

void
dfota_journal_set_progress(DfotaJournal *self, guint64 job_id, const char *phase, guint percent)
{
	char line[64];
	int len;

	g_return_if_fail(phase != NULL && strlen(phase) <= PROGRESS_PHASE_MAX);
	if (self->progress_fd < 0) {
		self->progress_fd = open(self->progress_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (self->progress_fd < 0) {
			g_warning("journal %s: %s", self->progress_path, g_strerror(errno));
			return;
		}
	}
	len = g_snprintf(line, sizeof line, "%020" G_GUINT64_FORMAT " %-24s %03u\n", job_id, phase,
	                 MIN(percent, 100));
	if (pwrite(self->progress_fd, line, (size_t)len, 0) != len)
		g_warning("journal %s: cannot write: %s", self->progress_path, g_strerror(errno));
}

static void
progress_forget(DfotaJournal *self)
{
	if (self->progress_fd >= 0)
		close(self->progress_fd);
	self->progress_fd = -1;
	if (g_unlink(self->progress_path) != 0 && errno != ENOENT)
		g_warning("journal: cannot remove %s: %s", self->progress_path, g_strerror(errno));
}

/* The side file's percent when it names @job's id and phase, else @job's own. */
static guint
progress_merge(DfotaJournal *self, GVariant *job)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) f = NULL;
	const char *phase = NULL;
	guint64 id = 0, side_id;
	guint percent = 0;
	guint64 side_percent;

	g_variant_lookup(job, "id", "t", &id);
	g_variant_lookup(job, "phase", "&s", &phase);
	g_variant_lookup(job, "percent", "u", &percent);
	if (!g_file_get_contents(self->progress_path, &text, NULL, NULL))
		return percent;
	f = g_strsplit_set(g_strstrip(text), " ", -1);
	/* "ID PHASE<spaces> PCT": empty fields between the padding spaces */
	if (g_strv_length(f) < 3 ||
	    !g_ascii_string_to_unsigned(f[0], 10, 1, G_MAXUINT64, &side_id, NULL) ||
	    side_id != id || g_strcmp0(f[1], phase) != 0 ||
	    !g_ascii_string_to_unsigned(f[g_strv_length(f) - 1], 10, 0, 100, &side_percent, NULL))
		return percent;
	return MAX(percent, (guint)side_percent);
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
	self->progress_path = g_strconcat(self->path, ".progress", NULL);
	self->progress_fd = -1;
	self->next_id = 1;
	journal_load(self);
	if (self->next_id == 0)
		self->next_id = 1;
	journal_reserve_ids(self);
	return self;
}

void
dfota_journal_free(DfotaJournal *self)
{
	if (!self)
		return;
	if (self->progress_fd >= 0)
		close(self->progress_fd);
	g_free(self->path);
	g_free(self->progress_path);
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
dfota_journal_take_job_id(DfotaJournal *self)
{
	if (self->next_id >= self->id_limit)
		journal_reserve_ids(self);
	return self->next_id++;
}

GVariant *
dfota_journal_get_job(DfotaJournal *self)
{
	GVariantDict d;
	guint percent = 0;
	guint merged;

	if (!self->job)
		return NULL;
	g_variant_lookup(self->job, "percent", "u", &percent);
	merged = progress_merge(self, self->job);
	if (merged == percent)
		return g_variant_ref(self->job);
	g_variant_dict_init(&d, self->job);
	g_variant_dict_insert(&d, "percent", "u", merged);
	return g_variant_ref_sink(g_variant_dict_end(&d));
}

gboolean
dfota_journal_set_job(DfotaJournal *self, GVariant *job, GError **error)
{
	g_clear_pointer(&self->job, g_variant_unref);
	self->job = job ? g_variant_ref_sink(job) : NULL;
	if (!journal_store(self, error))
		return FALSE;
	/* The record now holds the percent; a side file from before this step could name the
	 * same job and phase (a phase entered again starts at 0) and bring back an old percent. */
	progress_forget(self);
	return TRUE;
}

GVariant *
dfota_journal_get_last_result(DfotaJournal *self)
{
	return self->last_result ? g_variant_ref(self->last_result) : NULL;
}

gboolean
dfota_journal_finish_job(DfotaJournal *self, GVariant *result, GError **error)
{
	gboolean ok;

	g_clear_pointer(&self->job, g_variant_unref);
	g_clear_pointer(&self->last_result, g_variant_unref);
	self->last_result = result ? g_variant_ref_sink(result) : NULL;
	ok = journal_store(self, error);
	progress_forget(self);
	return ok;
}
