// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel-resync.c: getting back in step with the module after a timeout (quiet, then
 * an ATI probe with back-off; unresponsive after UNRESPONSIVE_PROBES failures), and waking it
 * from sleep before a command. */
#include "dfota-at-channel-private.h"

#include "at-parse.h"
#include "dfota-error.h"

#define RESYNC_BACKOFF_MAX_MS 5000
#define WAKE_TIMEOUT_MS 500
/* Failed resync probes in a row after which the module counts as unresponsive: waiting
 * commands fail with ModemLost and new ones are refused until a probe succeeds again. */
#define UNRESPONSIVE_PROBES 3

void
send_wake(DfotaAtChannel *self, gboolean then_probe)
{
	Command *wake = command_new("AT", WAKE_TIMEOUT_MS,
	                            then_probe ? COMMAND_KIND_WAKE_THEN_PROBE : COMMAND_KIND_WAKE);

	self->asleep = FALSE;
	write_command(self, wake);
}

static void
send_probe(DfotaAtChannel *self)
{
	Command *probe = command_new("ATI", self->probe_timeout_ms, COMMAND_KIND_PROBE);

	self->state = STATE_PROBE;
	write_command(self, probe);
}

static gboolean
on_quiet(gpointer data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(data);

	g_clear_pointer(&self->quiet_source, g_source_unref);
	if (self->asleep) {
		/* A probe to a sleeping module would be eaten like any first command. */
		self->state = STATE_PROBE;
		send_wake(self, TRUE);
		return G_SOURCE_REMOVE;
	}
	send_probe(self);
	return G_SOURCE_REMOVE;
}

/* The wake-up ended: answered, announced (+QATWAKEUP) or eaten (timeout). A module that
 * slept does not answer the command that woke it, so nothing late can follow it. */
void
wake_done(DfotaAtChannel *self)
{
	gboolean then_probe = self->current->kind == COMMAND_KIND_WAKE_THEN_PROBE;

	finish_current(self, NULL);
	if (then_probe)
		send_probe(self);
	else
		schedule_next(self);
}

void
start_quiet(DfotaAtChannel *self, guint ms)
{
	self->state = STATE_QUIET;
	clear_source(&self->quiet_source);
	self->quiet_source = add_timeout(self, ms, on_quiet, "dfota-at-quiet");
}

void
probe_done(DfotaAtChannel *self, gboolean ok)
{
	if (ok) {
		finish_current(self, NULL);
		g_debug("AT channel resynchronised");
		self->state = STATE_RUNNING;
		self->backoff_ms = 0;
		self->failed_probes = 0;
		if (self->unresponsive)
			g_message("the module answers again");
		self->unresponsive = FALSE;
		g_signal_emit(self, at_channel_signals[SIGNAL_RESYNCED], 0);
		schedule_next(self);
		return;
	}
	finish_current(self, NULL);
	if (++self->failed_probes == UNRESPONSIVE_PROBES) {
		Command *cmd;

		g_warning("the module has not answered %u probes in a row: it is unresponsive",
		          self->failed_probes);
		self->unresponsive = TRUE;
		while ((cmd = g_queue_pop_head(&self->queue)) != NULL) {
			unwatch_command(self, cmd);
			g_task_return_new_error(cmd->task, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
			                        "The module does not answer: %s was not sent",
			                        cmd->shown);
			command_free(cmd);
		}
		g_signal_emit(self, at_channel_signals[SIGNAL_UNRESPONSIVE], 0);
	}
	self->backoff_ms = self->backoff_ms == 0 ? MAX(self->quiet_ms, 100) : self->backoff_ms * 2;
	self->backoff_ms = MIN(self->backoff_ms, RESYNC_BACKOFF_MAX_MS);
	if (self->unresponsive)
		self->backoff_ms = self->unresponsive_quiet_ms;
	g_debug("AT resync probe failed, retrying after %u ms of quiet", self->backoff_ms);
	start_quiet(self, self->backoff_ms);
}
