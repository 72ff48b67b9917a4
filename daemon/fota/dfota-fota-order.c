// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fota-order.c: events in, effects out, in order, around the journal's writes.
 *
 * A step's record is written on a worker thread (dfota_journal_set_job_async()) so that the
 * disk's 1-3 ms never hold the main loop, and with it every other modem. The rule of the job
 * machine stays: nothing that depends on a record is carried out before the record is on disk.
 * So the effects after a record wait for its write to complete, and the events that come
 * meanwhile (method calls, replies, URCs, timers) wait too, in the order they came: the
 * machine sees the same sequence of events it would have seen with a write that blocked, and
 * the effects run in the order it gave them. Results of a job's own I/O that come after that
 * job ended are dropped, as fota_call_self() drops them; a timer's expiry queued before the
 * timer was re-armed or cancelled is dropped too.
 */
#include "dfota-fota-private.h"

#include <unistd.h>

#include "dfota-error.h"

static void fota_drain(DfotaFota *self);
static void run_held_accept(DfotaFota *self);

/* ---- the journal's writes: what follows a record waits for the disk ------------------------ */

typedef struct {
	GWeakRef fota;
	GVariant *result; /* FINISH: published once written; NULL for a step */
} FotaRecordWrite;

static void
record_write_free(gpointer data)
{
	FotaRecordWrite *w = data;

	g_weak_ref_clear(&w->fota);
	g_clear_pointer(&w->result, g_variant_unref);
	g_free(w);
}

/* The reply to a method call and the Job property it sets (ACCEPT) wait for the record of the
 * job's first step that follows it in the batch: a client that reads Job and Phase when the
 * reply comes sees the job accepted ("Phase leaves idle when the job is accepted"), as it did
 * when that record was written on the main loop, and knows the job is on disk. */
static gboolean
record_follows(GArray *fx, guint from)
{
	for (guint i = from; i < fx->len; i++) {
		DfotaJmEffectType t = g_array_index(fx, DfotaJmEffect, i).type;

		if (t == DFOTA_JM_FX_JOURNAL_JOB || t == DFOTA_JM_FX_FINISH)
			return TRUE;
		if (t != DFOTA_JM_FX_LOG)
			return FALSE;
	}
	return FALSE;
}

static void
run_held_accept(DfotaFota *self)
{
	gint i = self->held_accept;

	self->held_accept = -1;
	if (i >= 0 && self->pending_fx && (guint)i < self->pending_fx->len)
		fota_run_effect(self, &g_array_index(self->pending_fx, DfotaJmEffect, i));
}

static void
record_written(const GError *error, gpointer data)
{
	FotaRecordWrite *w = data;
	g_autoptr(DfotaFota) self = g_weak_ref_get(&w->fota);

	if (!self || self->disposed)
		return;
	/* A record that could not be written was logged; the job goes on, as it always did. */
	self->journal_busy = FALSE;
	self->running = TRUE;
	run_held_accept(self);
	if (w->result)
		fota_finish_publish(self, w->result);
	self->running = FALSE;
	fota_drain(self);
}

/* Records @record (a step) or, with @finish, the result @record; the effects after it and
 * the events that come meanwhile wait for record_written(). */
void
fota_record_write(DfotaFota *self, GVariant *record, gboolean finish)
{
	FotaRecordWrite *w = g_new0(FotaRecordWrite, 1);

	g_weak_ref_init(&w->fota, self);
	self->journal_busy = TRUE;
	if (finish) {
		w->result = g_variant_ref(record);
		dfota_journal_finish_job_async(self->journal, record, record_written, w,
		                               record_write_free);
	} else {
		dfota_journal_set_job_async(self->journal, record, record_written, w,
		                            record_write_free);
	}
}

/* ---- events in order: the machine, then its effects ------------------------------------------ */

/* An event that came while a record was being written or effects were being carried out,
 * with copies of what it points to. */
typedef struct {
	DfotaJmEvent ev;
	DfotaFotaUrc urc;
	GError *error;
	char *strings[8];
	/* Results of a job's own I/O: dropped when that job ended meanwhile, as fota_call_self()
	 * drops them when they come after its end. */
	GCancellable *job_cancellable;
	guint timer_gen, hold_gen;
	/* A method call (fota_start_fd()) */
	gboolean start;
	DfotaFotaStartedFunc started;
	gpointer started_data;
	int fd;
	guint64 fd_size;
} FotaQueued;

static const char *
queued_dup(FotaQueued *q, guint i, const char *s)
{
	q->strings[i] = g_strdup(s);
	return q->strings[i];
}

static FotaQueued *
queued_new(DfotaFota *self, const DfotaJmEvent *ev)
{
	FotaQueued *q = g_new0(FotaQueued, 1);

	q->ev = *ev;
	q->fd = -1;
	if (ev->urc) {
		q->urc = *ev->urc;
		q->urc.name = g_strdup(ev->urc->name);
		q->ev.urc = &q->urc;
	}
	if (ev->error) {
		q->error = g_error_copy(ev->error);
		q->ev.error = q->error;
	}
	q->ev.line = queued_dup(q, 0, ev->line);
	q->ev.revision = queued_dup(q, 1, ev->revision);
	q->ev.sub_edition = queued_dup(q, 2, ev->sub_edition);
	q->ev.digest = queued_dup(q, 3, ev->digest);
	q->ev.source = queued_dup(q, 4, ev->source);
	q->ev.filename = queued_dup(q, 5, ev->filename);
	q->ev.sha256 = queued_dup(q, 6, ev->sha256);
	q->ev.expect_revision = queued_dup(q, 7, ev->expect_revision);
	q->job_cancellable = self->job_cancellable ? g_object_ref(self->job_cancellable) : NULL;
	q->timer_gen = self->timer_gen;
	q->hold_gen = self->hold_gen;
	return q;
}

static void
queued_free(gpointer data)
{
	FotaQueued *q = data;

	dfota_fota_urc_clear(&q->urc);
	g_clear_error(&q->error);
	for (guint i = 0; i < G_N_ELEMENTS(q->strings); i++)
		g_free(q->strings[i]);
	g_clear_object(&q->job_cancellable);
	if (q->ev.job)
		dfota_job_free(q->ev.job);
	if (q->fd >= 0)
		close(q->fd);
	g_free(q);
}

static gboolean
queued_is_stale(DfotaFota *self, const FotaQueued *q)
{
	switch (q->ev.type) {
	case DFOTA_JM_EV_TIMER:
		return q->timer_gen != self->timer_gen;
	case DFOTA_JM_EV_HOLD_EXPIRED:
		return q->hold_gen != self->hold_gen;
	case DFOTA_JM_EV_PREFLIGHT_DONE:
	case DFOTA_JM_EV_COMMAND_REPLY:
	case DFOTA_JM_EV_REVISION:
	case DFOTA_JM_EV_HOST_PROGRESS:
	case DFOTA_JM_EV_FETCH_DONE:
	case DFOTA_JM_EV_UPLOAD_DONE:
	case DFOTA_JM_EV_MCU_STAT:
	case DFOTA_JM_EV_DELETE_DONE:
		return q->job_cancellable && g_cancellable_is_cancelled(q->job_cancellable);
	default:
		return FALSE;
	}
}

/* Carries out the effects of the batch in hand, up to a record on its way to the disk. */
static void
run_pending(DfotaFota *self)
{
	while (!self->journal_busy && self->pending_fx &&
	       self->pending_pos < self->pending_fx->len) {
		guint i = self->pending_pos++;
		DfotaJmEffect *fx = &g_array_index(self->pending_fx, DfotaJmEffect, i);

		if (fx->type == DFOTA_JM_FX_ACCEPT && self->journal &&
		    record_follows(self->pending_fx, i + 1)) {
			self->held_accept = (gint)i;
			continue;
		}
		fota_run_effect(self, fx);
	}
	if (!self->journal_busy)
		g_clear_pointer(&self->pending_fx, g_array_unref);
}

/* Feeds @ev to the machine and carries out its effects (up to a record being written). */
static void
step(DfotaFota *self, DfotaJmEvent *ev)
{
	g_assert(self->pending_fx == NULL);
	/* An id is taken when the event is fed: whether it starts a job depends on the machine's
	 * state then. START takes its own (fota_start_now()). */
	if (ev->type == DFOTA_JM_EV_URC && self->journal &&
	    dfota_job_machine_wants_id(&self->machine, ev))
		ev->id = dfota_journal_take_job_id(self->journal);
	ev->now = g_get_real_time();
	self->pending_fx = dfota_job_machine_effects_new();
	self->pending_pos = 0;
	dfota_job_machine_step(&self->machine, ev, self->pending_fx);
	run_pending(self);
}

static void
fota_start_now(DfotaFota *self, DfotaJmEvent *ev, int fd, guint64 size,
               DfotaFotaStartedFunc started, gpointer user_data)
{
	DfotaModemState state = dfota_modem_get_state(self->modem);
	gboolean busy = self->machine.job != NULL;
	DfotaFotaStartedFunc old_cb = self->started_cb;
	gpointer old_data = self->started_data;

	if (fd >= 0 && busy) {
		close(fd); /* refused: the fd is not ours to keep */
	} else if (fd >= 0) {
		self->pending_fd = fd;
		self->pending_size = size;
	}
	ev->type = DFOTA_JM_EV_START;
	ev->module_answers = state == DFOTA_MODEM_STATE_READY;
	ev->line = dfota_modem_state_to_string(state);
	ev->revision = dfota_modem_get_revision(self->modem);
	ev->sub_edition = dfota_modem_get_sub_edition(self->modem);
	self->started_cb = started;
	self->started_data = user_data;
	if (!busy) {
		if (!self->job_cancellable)
			self->job_cancellable = g_cancellable_new();
		/* Ids may skip (a refused call, a power cut), never repeat. */
		if (self->journal && dfota_job_machine_wants_id(&self->machine, ev))
			ev->id = dfota_journal_take_job_id(self->journal);
	}
	step(self, ev);
	if (busy) {
		/* The refusal was carried out (it writes no record); the running job's call, if
		 * still unanswered, is answered later. */
		self->started_cb = old_cb;
		self->started_data = old_data;
	}
}

/* Takes the queued events one by one while no record is on its way. */
static void
fota_drain(DfotaFota *self)
{
	if (self->running || self->disposed)
		return;
	g_object_ref(self);
	self->running = TRUE;
	run_pending(self);
	while (!self->journal_busy && !self->pending_fx) {
		FotaQueued *q = g_queue_pop_head(&self->queued);

		if (!q)
			break;
		if (q->start) {
			int fd = q->fd;

			q->fd = -1;
			fota_start_now(self, &q->ev, fd, q->fd_size, q->started, q->started_data);
		} else if (!queued_is_stale(self, q)) {
			step(self, &q->ev);
			q->ev.job = NULL; /* RESUME: taken over by the machine */
		}
		queued_free(q);
	}
	self->running = FALSE;
	g_object_unref(self);
}

static gboolean
must_queue(DfotaFota *self)
{
	return self->running || self->journal_busy || self->disposed ||
	       !g_queue_is_empty(&self->queued);
}

void
fota_feed(DfotaFota *self, DfotaJmEvent *ev)
{
	if (must_queue(self)) {
		FotaQueued *q = queued_new(self, ev);

		if (ev->job) /* RESUME: the job now belongs to the queue */
			ev->job = NULL;
		g_queue_push_tail(&self->queued, q);
		fota_drain(self);
		return;
	}
	g_object_ref(self);
	self->running = TRUE;
	step(self, ev);
	self->running = FALSE;
	fota_drain(self);
	g_object_unref(self);
}

void
fota_start_fd(DfotaFota *self, DfotaJmEvent *ev, int fd, guint64 size, DfotaFotaStartedFunc started,
              gpointer user_data)
{
	if (must_queue(self)) {
		FotaQueued *q = queued_new(self, ev);

		q->start = TRUE;
		q->started = started;
		q->started_data = user_data;
		q->fd = fd;
		q->fd_size = size;
		g_queue_push_tail(&self->queued, q);
		fota_drain(self);
		return;
	}
	g_object_ref(self);
	self->running = TRUE;
	fota_start_now(self, ev, fd, size, started, user_data);
	self->running = FALSE;
	fota_drain(self);
	g_object_unref(self);
}

void
fota_start(DfotaFota *self, DfotaJmEvent *ev, DfotaFotaStartedFunc started, gpointer user_data)
{
	fota_start_fd(self, ev, -1, 0, started, user_data);
}

gboolean
fota_order_transfer_pending(DfotaFota *self)
{
	if (!self->journal_busy || !self->pending_fx)
		return FALSE;
	for (guint i = self->pending_pos; i < self->pending_fx->len; i++) {
		DfotaJmEffectType t = g_array_index(self->pending_fx, DfotaJmEffect, i).type;

		if (t == DFOTA_JM_FX_HOST_FETCH || t == DFOTA_JM_FX_HOST_UPLOAD)
			return TRUE;
	}
	return FALSE;
}

static void
answer_stopping(DfotaFotaStartedFunc started, gpointer user_data, const char *what)
{
	g_autoptr(GError) error =
	        g_error_new(DFOTA_ERROR, DFOTA_ERROR_NOT_READY, "The daemon is stopping; %s", what);

	started(error, user_data);
}

void
fota_order_clear(DfotaFota *self)
{
	DfotaFotaStartedFunc started = self->started_cb;
	gpointer started_data = self->started_data;

	/* Every method call gets its answer: the ones still queued started nothing; the one
	 * being started (preflight, or its reply held for the first record) may be on record,
	 * and such a job resumes when the daemon starts again. */
	for (GList *l = self->queued.head; l; l = l->next) {
		FotaQueued *q = l->data;

		if (q->start && q->started) {
			answer_stopping(q->started, q->started_data, "nothing was started");
			q->started = NULL;
		}
	}
	g_queue_clear_full(&self->queued, queued_free);
	g_clear_pointer(&self->pending_fx, g_array_unref);
	self->held_accept = -1;
	self->started_cb = NULL;
	self->started_data = NULL;
	if (started)
		answer_stopping(started, started_data,
		                "the job was not confirmed; if it was recorded it resumes when the "
		                "daemon starts again");
}
