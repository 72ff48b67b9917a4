// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-journal-writer.c: durable writes on a worker thread, in order, reported back. */
#include "dfota-journal-writer.h"

typedef struct {
	GMutex lock;
	GCond idle;
	guint in_flight; /* submitted and not yet on disk (or failed) */
	gboolean closed; /* the writer was freed: report nothing more */
} WriterState;

struct _DfotaJournalWriter {
	GThreadPool *pool;  /* one thread of its own: writes in the order submitted; NULL when it
	                     * could not be started (writes are then made by the submitter) */
	WriterState *state; /* g_atomic_rc_box: shared with the writes under way */
	gboolean test_no_thread;
};

typedef struct {
	WriterState *state;
	GMainContext *context;
	char *path;
	char *text;
	GError *error;
	DfotaJournalWrittenFunc done;
	gpointer user_data;
	GDestroyNotify destroy;
} Write;

static void
state_clear(gpointer data)
{
	WriterState *s = data;

	g_mutex_clear(&s->lock);
	g_cond_clear(&s->idle);
}

static void
write_free(gpointer data)
{
	Write *w = data;

	if (w->destroy)
		w->destroy(w->user_data);
	g_atomic_rc_box_release_full(w->state, state_clear);
	g_main_context_unref(w->context);
	g_free(w->path);
	g_free(w->text);
	g_clear_error(&w->error);
	g_free(w);
}

gboolean
dfota_journal_write_file(const char *path, const char *text, GError **error)
{
	return g_file_set_contents_full(
	        path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
	        error);
}

/* In the submitter's context: the write is over. */
static gboolean
write_report(gpointer data)
{
	Write *w = data;
	gboolean closed;

	g_mutex_lock(&w->state->lock);
	closed = w->state->closed;
	g_mutex_unlock(&w->state->lock);
	if (!closed && w->done)
		w->done(w->error, w->user_data);
	return G_SOURCE_REMOVE;
}

/* On the worker thread. */
static void
write_run(gpointer data, gpointer unused)
{
	Write *w = data;
	WriterState *s = w->state;
	GSource *report;

	dfota_journal_write_file(w->path, w->text, &w->error);
	g_mutex_lock(&s->lock);
	s->in_flight--;
	g_cond_broadcast(&s->idle);
	g_mutex_unlock(&s->lock);
	/* A source of its own, never g_main_context_invoke(): that would run the report on this
	 * thread when the submitter's context is the default one and nobody iterates it now. */
	report = g_idle_source_new();
	g_source_set_priority(report, G_PRIORITY_DEFAULT);
	g_source_set_static_name(report, "dfota-journal-written");
	g_source_set_callback(report, write_report, w, write_free);
	g_source_attach(report, w->context);
	g_source_unref(report);
}

DfotaJournalWriter *
dfota_journal_writer_new(void)
{
	DfotaJournalWriter *self = g_new0(DfotaJournalWriter, 1);

	g_autoptr(GError) error = NULL;

	self->state = g_atomic_rc_box_new0(WriterState);
	g_mutex_init(&self->state->lock);
	g_cond_init(&self->state->idle);
	/* Exclusive: its thread is started here or never, so a write is never left queued with
	 * no thread to run it (a shared pool may fail to start one at a later push). */
	self->pool = g_thread_pool_new(write_run, NULL, 1, TRUE, &error);
	if (!self->pool)
		g_warning("journal: no thread for the writes (%s); they are made on the main loop",
		          error->message);
	return self;
}

void
dfota_journal_writer_submit(DfotaJournalWriter *self, const char *path, char *text,
                            DfotaJournalWrittenFunc done, gpointer user_data,
                            GDestroyNotify destroy)
{
	Write *w = g_new0(Write, 1);

	w->state = g_atomic_rc_box_acquire(self->state);
	w->context = g_main_context_ref_thread_default();
	w->path = g_strdup(path);
	w->text = text;
	w->done = done;
	w->user_data = user_data;
	w->destroy = destroy;
	if (self->pool && !self->test_no_thread) {
		g_mutex_lock(&self->state->lock);
		self->state->in_flight++;
		g_mutex_unlock(&self->state->lock);
		if (g_thread_pool_push(self->pool, w, NULL))
			return;
		g_mutex_lock(&self->state->lock);
		self->state->in_flight--;
		g_mutex_unlock(&self->state->lock);
	}
	/* No thread: written here, after the writes queued before (the records' order holds),
	 * and still reported through the main context, never from inside this call. */
	dfota_journal_writer_wait(self);
	g_mutex_lock(&self->state->lock);
	self->state->in_flight++;
	g_mutex_unlock(&self->state->lock);
	write_run(w, NULL);
}

void
dfota_journal_writer_wait(DfotaJournalWriter *self)
{
	g_mutex_lock(&self->state->lock);
	while (self->state->in_flight > 0)
		g_cond_wait(&self->state->idle, &self->state->lock);
	g_mutex_unlock(&self->state->lock);
}

gboolean
dfota_journal_writer_wait_until(DfotaJournalWriter *self, gint64 end_time)
{
	gboolean idle;

	g_mutex_lock(&self->state->lock);
	while (self->state->in_flight > 0)
		if (!g_cond_wait_until(&self->state->idle, &self->state->lock, end_time))
			break;
	idle = self->state->in_flight == 0;
	g_mutex_unlock(&self->state->lock);
	return idle;
}

void
dfota_journal_writer_test_no_thread(DfotaJournalWriter *self)
{
	self->test_no_thread = TRUE;
}

void
dfota_journal_writer_free(DfotaJournalWriter *self)
{
	if (!self)
		return;
	dfota_journal_writer_wait(self);
	g_mutex_lock(&self->state->lock);
	self->state->closed = TRUE;
	g_mutex_unlock(&self->state->lock);
	/* Every write has run; the pool's thread ends. */
	if (self->pool)
		g_thread_pool_free(self->pool, FALSE, TRUE);
	g_atomic_rc_box_release_full(self->state, state_clear);
	g_free(self);
}
