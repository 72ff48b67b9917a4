// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel-cancel.c: queued commands whose caller gave up.
 *
 * A command that waits in the queue ends with Cancelled as soon as its cancellable fires; once
 * written it runs to its end. Callers share cancellables (the service passes one per D-Bus
 * client for all of that client's commands), so the channel watches each cancellable once,
 * for as long as any queued command uses it, instead of attaching a cancellable source per
 * command: with many clients every command waits, and a source per command meant a source, a
 * signal handler and their teardown for each. */
#include "dfota-at-channel-private.h"

struct _CancelWatch {
	GCancellable *cancellable;
	gulong handler; /* 0 when it was already cancelled at connection */
	guint users;    /* queued commands that use it */
};

static CancelWatch *
find_watch(DfotaAtChannel *self, GCancellable *cancellable)
{
	for (guint i = 0; i < self->cancel_watches->len; i++) {
		CancelWatch *w = g_ptr_array_index(self->cancel_watches, i);
		if (w->cancellable == cancellable)
			return w;
	}
	return NULL;
}

/* Ends every queued command whose cancellable fired. */
static gboolean
sweep_cancelled(gpointer data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(data);
	g_autoptr(GPtrArray) gone = g_ptr_array_new();

	/* collected first: a caller's callback may queue or cancel other commands */
	for (GList *l = self->queue.head; l;) {
		Command *cmd = l->data;
		GList *next = l->next;

		if (cmd->watched && g_cancellable_is_cancelled(g_task_get_cancellable(cmd->task))) {
			g_queue_delete_link(&self->queue, l);
			unwatch_command(self, cmd);
			g_ptr_array_add(gone, cmd);
		}
		l = next;
	}
	for (guint i = 0; i < gone->len; i++) {
		Command *cmd = g_ptr_array_index(gone, i);

		g_task_return_new_error(cmd->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                        "%s was cancelled before it was sent", cmd->shown);
		command_free(cmd);
	}
	return G_SOURCE_REMOVE;
}

/* Runs in the thread that cancelled, possibly not the channel's: the sweep runs in the
 * channel's context. Disconnecting waits for a handler running elsewhere, so @data is alive. */
static void
on_watch_cancelled(GCancellable *cancellable, gpointer data)
{
	DfotaAtChannel *self = data;
	GSource *source = g_idle_source_new();

	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(source, sweep_cancelled, g_object_ref(self), g_object_unref);
	g_source_set_static_name(source, "dfota-at-cancelled");
	g_source_attach(source, self->context);
	g_source_unref(source);
}

void
watch_command(DfotaAtChannel *self, Command *cmd, GCancellable *cancellable)
{
	CancelWatch *w = find_watch(self, cancellable);

	if (!w) {
		w = g_new0(CancelWatch, 1);
		w->cancellable = g_object_ref(cancellable);
		g_ptr_array_add(self->cancel_watches, w);
		/* already cancelled: the handler runs now, which schedules the sweep */
		w->handler = g_cancellable_connect(cancellable, G_CALLBACK(on_watch_cancelled),
		                                   self, NULL);
	} else if (g_cancellable_is_cancelled(cancellable)) {
		/* its handler ran before this command came: sweep it too */
		on_watch_cancelled(cancellable, self);
	}
	w->users++;
	cmd->watched = TRUE;
}

void
unwatch_command(DfotaAtChannel *self, Command *cmd)
{
	CancelWatch *w;

	if (!cmd->watched)
		return;
	cmd->watched = FALSE;
	w = find_watch(self, g_task_get_cancellable(cmd->task));
	g_return_if_fail(w != NULL);
	if (--w->users == 0)
		g_ptr_array_remove_fast(self->cancel_watches, w);
}

void
cancel_watch_free(CancelWatch *w)
{
	g_cancellable_disconnect(w->cancellable, w->handler);
	g_object_unref(w->cancellable);
	g_free(w);
}
