// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-journal.c: the per-modem record, one GVariant text file written atomically; its text
 * is checked in dfota-journal-parse.c, written off the main loop by dfota-journal-writer.c. */
#include "dfota-journal.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfota-journal-writer.h"

struct _DfotaJournal {
	char *path;
	char *progress_path;      /* the side file of dfota_journal_set_progress() */
	int progress_fd;          /* open once, rewritten in place; -1 until the first update */
	gboolean progress_failed; /* the side file cannot be written: said once, not per percent */
	guint64 next_id;
	guint64 id_limit;      /* ids below it are reserved on disk: taking one writes nothing */
	GVariant *job;         /* a{sv} or NULL */
	GVariant *last_result; /* a{sv} or NULL */
	DfotaJournalWriter *writer; /* the asynchronous writes; created at the first */
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

/* ---- reading files that may be anything ----------------------------------------------------- */

typedef enum {
	READ_OK,
	READ_ABSENT,
	READ_BAD, /* not something to read: move it aside */
} ReadResult;

/* Reads @path when it is a regular file (not followed when a symbolic link, never opened when
 * a FIFO or device: opening a tty can raise its modem lines, opening a FIFO can block) of at
 * most @max bytes; @reason says why not. */
static ReadResult
read_bounded(const char *path, gsize max, char **text, gsize *len, char **reason)
{
	struct stat st;
	g_autofree char *buf = NULL;
	gsize got = 0;
	int fd;

	*text = NULL;
	*len = 0;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return READ_ABSENT;
		*reason = g_strdup_printf("cannot be examined: %s", g_strerror(errno));
		return errno == ENOTDIR ? READ_ABSENT : READ_BAD;
	}
	if (S_ISLNK(st.st_mode)) {
		*reason = g_strdup("is a symbolic link, not a file the daemon wrote");
		return READ_BAD;
	}
	if (S_ISDIR(st.st_mode)) {
		*reason = g_strdup("is a directory");
		return READ_BAD;
	}
	if (!S_ISREG(st.st_mode)) {
		*reason = g_strdup("is not a regular file (a FIFO, socket or device)");
		return READ_BAD;
	}
	if ((guint64)st.st_size > max) {
		*reason = g_strdup_printf("is %" G_GUINT64_FORMAT
		                          " bytes, more than the %" G_GSIZE_FORMAT " it can be",
		                          (guint64)st.st_size, max);
		return READ_BAD;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return READ_ABSENT;
		*reason = g_strdup_printf("cannot be opened: %s", g_strerror(errno));
		return READ_BAD;
	}
	/* Replaced between lstat() and open(): check what was opened. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*reason = g_strdup("is not a regular file");
		return READ_BAD;
	}
	buf = g_malloc(max + 1);
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*reason = g_strdup_printf("cannot be read: %s", g_strerror(errno));
			close(fd);
			return READ_BAD;
		}
		if (n == 0)
			break;
		got += (gsize)n;
		if (got > max) {
			close(fd);
			*reason = g_strdup_printf(
			        "grew past the %" G_GSIZE_FORMAT " bytes it can be", max);
			return READ_BAD;
		}
	}
	close(fd);
	buf[got] = '\0';
	*text = g_steal_pointer(&buf);
	*len = got;
	return READ_OK;
}

/* Moves @path aside with ONE warning that names it and says why. */
static void
move_aside(const char *path, const char *what, const char *reason)
{
	g_autofree char *aside =
	        g_strdup_printf("%s.corrupt-%" G_GINT64_FORMAT, path, g_get_real_time());

	if (g_rename(path, aside) == 0)
		g_warning("%s %s %s; moved aside to %s", what, path, reason, aside);
	else
		g_warning("%s %s %s, and cannot be moved aside: %s", what, path, reason,
		          g_strerror(errno));
}

static void
journal_load(DfotaJournal *self)
{
	g_autofree char *text = NULL;
	g_autofree char *reason = NULL;
	g_autoptr(GError) error = NULL;
	gsize len;
	guint64 next_id = 0;

	switch (read_bounded(self->path, DFOTA_JOURNAL_MAX_BYTES, &text, &len, &reason)) {
	case READ_ABSENT:
		return;
	case READ_OK:
		if (dfota_journal_parse(text, len, &next_id, &self->job, &self->last_result,
		                        &error)) {
			self->next_id = next_id;
			return;
		}
		reason = g_strdup_printf("cannot be used: %s", error->message);
		break;
	case READ_BAD:
		break;
	}
	move_aside(self->path, "journal", reason);
	/* The counter is lost (or untrustworthy): ids issued from it were small counts, or, after
	 * an earlier loss, times in µs. Continuing above the time now and above what could still
	 * be read never reuses one (a clock set back past both could). */
	self->next_id = MAX(next_id, (guint64)MAX(g_get_real_time(), 1));
}

/* The record's text: next-id (the end of the reserved block, see journal_reserve_ids()), the
 * job in progress and the last result. */
static char *
journal_text(DfotaJournal *self)
{
	GVariantBuilder b;
	g_autoptr(GVariant) v = NULL;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "next-id", g_variant_new_uint64(self->id_limit));
	if (self->job)
		g_variant_builder_add(&b, "{sv}", "job", self->job);
	if (self->last_result)
		g_variant_builder_add(&b, "{sv}", "last-result", self->last_result);
	v = g_variant_ref_sink(g_variant_builder_end(&b));
	return g_variant_print(v, TRUE);
}

/* Temp file, fsync, rename, fsync of the directory: after a power cut the file is the old or
 * the new record, never a mix, and a completed write survives. After any asynchronous write
 * still under way, so that an older record never lands over this one. */
static gboolean
journal_store(DfotaJournal *self, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree char *text = journal_text(self);

	if (self->writer)
		dfota_journal_writer_wait(self->writer);
	if (dfota_journal_write_file(self->path, text, &local))
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
#define PROGRESS_LINE_LEN (20 + 1 + PROGRESS_PHASE_MAX + 1 + 3 + 1)

/* Opens the side file for writing without following a symbolic link or blocking on a FIFO,
 * and only when it is a regular file; a leftover longer than one line is cut. */
static int
progress_open(DfotaJournal *self, char **reason)
{
	struct stat st;
	int fd = open(self->progress_path,
	              O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);

	if (fd < 0) {
		*reason = g_strdup(g_strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*reason = g_strdup("not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size > DFOTA_JOURNAL_PROGRESS_MAX_BYTES && ftruncate(fd, 0) != 0) {
		*reason = g_strdup(g_strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
dfota_journal_set_progress(DfotaJournal *self, guint64 job_id, const char *phase, guint percent)
{
	char line[64];
	int len;

	g_return_if_fail(phase != NULL && strlen(phase) <= PROGRESS_PHASE_MAX);
	if (self->progress_fd < 0) {
		g_autofree char *reason = NULL;

		self->progress_fd = progress_open(self, &reason);
		if (self->progress_fd < 0) {
			if (!self->progress_failed)
				g_warning("journal %s: cannot write: %s", self->progress_path,
				          reason);
			self->progress_failed = TRUE;
			return;
		}
	}
	len = g_snprintf(line, sizeof line, "%020" G_GUINT64_FORMAT " %-24s %03u\n", job_id, phase,
	                 MIN(percent, 100));
	if (pwrite(self->progress_fd, line, (size_t)len, 0) != len && !self->progress_failed) {
		g_warning("journal %s: cannot write: %s", self->progress_path, g_strerror(errno));
		self->progress_failed = TRUE;
	}
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

/* @n ASCII digits at @p, as a number. */
static gboolean
fixed_digits(const char *p, guint n, guint64 *out)
{
	guint64 v = 0;

	for (guint i = 0; i < n; i++) {
		if (!g_ascii_isdigit(p[i]) || v > (G_MAXUINT64 - 9) / 10)
			return FALSE;
		v = v * 10 + (guint64)(p[i] - '0');
	}
	*out = v;
	return TRUE;
}

gboolean
dfota_journal_parse_progress(const char *text, gsize len, guint64 *job_id, char **phase,
                             guint *percent)
{
	/* "%020 ID" " " "%-24s PHASE" " " "%03u PCT" "\n": by position, exactly as written */
	const char *ph = text + 21;
	guint64 id, pct;
	guint n = 0;

	*phase = NULL;
	if (len != PROGRESS_LINE_LEN || text[20] != ' ' || text[21 + PROGRESS_PHASE_MAX] != ' ' ||
	    text[len - 1] != '\n' || !fixed_digits(text, 20, &id) || id < 1 ||
	    id >= DFOTA_JOURNAL_ID_MAX || !fixed_digits(text + 22 + PROGRESS_PHASE_MAX, 3, &pct) ||
	    pct > 100)
		return FALSE;
	while (n < PROGRESS_PHASE_MAX && (g_ascii_islower(ph[n]) || ph[n] == '-'))
		n++;
	if (n == 0)
		return FALSE;
	for (guint i = n; i < PROGRESS_PHASE_MAX; i++)
		if (ph[i] != ' ')
			return FALSE;
	*job_id = id;
	*phase = g_strndup(ph, n);
	*percent = (guint)pct;
	return TRUE;
}

/* The side file's percent when it names @job's id and phase, else @job's own. */
static guint
progress_merge(DfotaJournal *self, GVariant *job)
{
	g_autofree char *text = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *side_phase = NULL;
	const char *phase = NULL;
	guint64 id = 0, side_id;
	guint percent = 0, side_percent;
	gsize len;

	g_variant_lookup(job, "id", "t", &id);
	g_variant_lookup(job, "phase", "&s", &phase);
	g_variant_lookup(job, "percent", "u", &percent);
	switch (read_bounded(self->progress_path, DFOTA_JOURNAL_PROGRESS_MAX_BYTES, &text, &len,
	                     &reason)) {
	case READ_ABSENT:
		return percent;
	case READ_BAD:
		/* Not what this code writes; a torn line is normal and merely ignored below. */
		if (self->progress_fd >= 0)
			close(self->progress_fd);
		self->progress_fd = -1;
		move_aside(self->progress_path, "journal side file", reason);
		return percent;
	case READ_OK:
		break;
	}
	if (!dfota_journal_parse_progress(text, len, &side_id, &side_phase, &side_percent) ||
	    side_id != id || g_strcmp0(side_phase, phase) != 0)
		return percent;
	return MAX(percent, side_percent);
}

gboolean
dfota_journal_prepare_dir(const char *state_dir, GError **error)
{
	struct stat st;

	if (!state_dir || !*state_dir) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		                    "the state directory is empty");
		return FALSE;
	}
	if (g_mkdir_with_parents(state_dir, 0700) != 0) {
		int e = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "state directory %s: cannot create it: %s", state_dir, g_strerror(e));
		return FALSE;
	}
	if (stat(state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
		            "state directory %s: not a directory", state_dir);
		return FALSE;
	}
	if (access(state_dir, W_OK | X_OK) != 0) {
		int e = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "state directory %s: the daemon cannot write there: %s", state_dir,
		            g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

/* A side file that is not one this code writes (a directory, a symbolic link, a FIFO, a
 * huge file) is moved aside now, before an update writes to it or a step removes it. */
static void
progress_check(DfotaJournal *self)
{
	g_autofree char *text = NULL;
	g_autofree char *reason = NULL;
	gsize len;

	if (read_bounded(self->progress_path, DFOTA_JOURNAL_PROGRESS_MAX_BYTES, &text, &len,
	                 &reason) == READ_BAD)
		move_aside(self->progress_path, "journal side file", reason);
}

DfotaJournal *
dfota_journal_open(const char *state_dir, const char *port, const char *imei)
{
	DfotaJournal *self = g_new0(DfotaJournal, 1);
	g_autofree char *p = sanitize(port);
	g_autofree char *i = sanitize(imei && *imei ? imei : "unknown-imei");
	g_autofree char *name = g_strdup_printf("modem-%s-%s.journal", p, i);
	g_autoptr(GError) error = NULL;

	if (!dfota_journal_prepare_dir(state_dir, &error))
		g_warning("journal: %s", error->message);
	self->path = g_build_filename(state_dir, name, NULL);
	self->progress_path = g_strconcat(self->path, ".progress", NULL);
	self->progress_fd = -1;
	self->next_id = 1;
	journal_load(self);
	progress_check(self);
	journal_reserve_ids(self);
	return self;
}

gboolean
dfota_journal_flush(DfotaJournal *self, gint64 end_time)
{
	return !self->writer || dfota_journal_writer_wait_until(self->writer, end_time);
}

void
dfota_journal_free(DfotaJournal *self)
{
	if (!self)
		return;
	dfota_journal_writer_free(self->writer);
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

/* ---- writes off the main loop ------------------------------------------------------------- */

typedef struct {
	DfotaJournal *journal; /* alive while the writer reports: it is freed with the journal */
	gboolean finish;       /* the job is over: its side file goes whatever the outcome */
	DfotaJournalDoneFunc done;
	gpointer user_data;
	GDestroyNotify destroy;
} AsyncStore;

static void
async_store_free(gpointer data)
{
	AsyncStore *a = data;

	if (a->destroy)
		a->destroy(a->user_data);
	g_free(a);
}

static void
async_store_written(const GError *error, gpointer data)
{
	AsyncStore *a = data;

	if (error)
		g_warning("journal %s: cannot write: %s", a->journal->path, error->message);
	/* As in the synchronous writes: once the record holds the step, its percent is in it. */
	if (!error || a->finish)
		progress_forget(a->journal);
	a->done(error, a->user_data);
}

static void
journal_store_async(DfotaJournal *self, gboolean finish, DfotaJournalDoneFunc done,
                    gpointer user_data, GDestroyNotify destroy)
{
	AsyncStore *a = g_new0(AsyncStore, 1);

	a->journal = self;
	a->finish = finish;
	a->done = done;
	a->user_data = user_data;
	a->destroy = destroy;
	if (!self->writer)
		self->writer = dfota_journal_writer_new();
	dfota_journal_writer_submit(self->writer, self->path, journal_text(self),
	                            async_store_written, a, async_store_free);
}

void
dfota_journal_set_job_async(DfotaJournal *self, GVariant *job, DfotaJournalDoneFunc done,
                            gpointer user_data, GDestroyNotify destroy)
{
	g_clear_pointer(&self->job, g_variant_unref);
	self->job = job ? g_variant_ref_sink(job) : NULL;
	journal_store_async(self, FALSE, done, user_data, destroy);
}

void
dfota_journal_finish_job_async(DfotaJournal *self, GVariant *result, DfotaJournalDoneFunc done,
                               gpointer user_data, GDestroyNotify destroy)
{
	g_clear_pointer(&self->job, g_variant_unref);
	g_clear_pointer(&self->last_result, g_variant_unref);
	self->last_result = result ? g_variant_ref_sink(result) : NULL;
	journal_store_async(self, TRUE, done, user_data, destroy);
}
