// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel.c: one AT command in flight, and every line routed to it or to the URCs.
 *
 * The channel is a small state machine:
 *   RUNNING  – commands go out one at a time from the FIFO queue;
 *   QUIET    – after a timeout: wait until no byte arrived for a while, discarding late
 *              answers (URCs still go to their handlers);
 *   PROBE    – ATI is in flight; only an answer with identity lines ends the resync, so a
 *              late "OK" of the timed-out command cannot pass for it;
 *   CLOSED   – shut down or lost: everything fails with ModemLost.
 *
 * Sleep: after +QATSLEEP the module loses the first command it receives (it only wakes up
 * on it). So when a command is due while the module sleeps, the channel first sends a
 * throw-away "AT" (the wake-up) with a short timeout; if that gets no answer it
 * resynchronises as after any timeout, then sends the real command. No caller ever sees its
 * command eaten by the module's sleep.
 */
#include "dfota-at-channel-private.h"

#include <string.h>

#include "at-parse.h"
#include "dfota-error.h"
#include "dfota-line-reader.h"
#include "dfota-log.h"
#include "dfota-redact.h"

/* Once unresponsive, the quiet between probes. It must exceed the module's AT+QFUPL
 * inactivity bound: a module left in a data phase by a daemon restart takes our probes as data
 * and only leaves it once the line has been quiet that long. */
#define DEFAULT_UNRESPONSIVE_QUIET_MS 12000
#define DEFAULT_PROBE_TIMEOUT_MS 3000

/* The URCs the channel acts on itself (the module's sleep; the boot lines, dfota_at_is_boot_urc,
 * end it too). Every other prefix is the callers' to name (dfota_at_channel_add_urc_prefix). */
static const char *const channel_urc_prefixes[] = { "+QATSLEEP", "+QATWAKEUP" };

guint at_channel_signals[N_SIGNALS];

G_DEFINE_TYPE(DfotaAtChannel, dfota_at_channel, G_TYPE_OBJECT)

static gboolean
is_wake(const Command *cmd)
{
	return cmd->kind == COMMAND_KIND_WAKE || cmd->kind == COMMAND_KIND_WAKE_THEN_PROBE;
}

/* Whether the channel is taking the module out of a prompt or data mode @cmd put it in. */
static gboolean
is_leaving(const Command *cmd)
{
	return cmd->mode == MODE_LEFT_PROMPT || cmd->mode == MODE_LEFT_DATA;
}

void
command_free(Command *cmd)
{
	g_clear_object(&cmd->task);
	g_ptr_array_unref(cmd->lines);
	g_strfreev(cmd->expected_prefixes);
	g_free(cmd->text);
	g_free(cmd->shown);
	g_free(cmd);
}

/* A command of @kind for @text; the lines it collects start empty. */
Command *
command_new(const char *text, guint timeout_ms, CommandKind kind)
{
	Command *cmd = g_new0(Command, 1);

	cmd->text = g_strdup(text);
	cmd->shown = dfota_text_redact_urls(text);
	cmd->expected_prefixes = dfota_at_expected_prefixes(text);
	cmd->timeout_ms = timeout_ms;
	cmd->kind = kind;
	cmd->lines = g_ptr_array_new_with_free_func(g_free);
	return cmd;
}

void
clear_source(GSource **source)
{
	if (*source) {
		g_source_destroy(*source);
		g_clear_pointer(source, g_source_unref);
	}
}

GSource *
add_timeout(DfotaAtChannel *self, guint ms, GSourceFunc func, const char *name)
{
	GSource *source = g_timeout_source_new(ms);

	g_source_set_callback(source, func, self, NULL);
	g_source_set_static_name(source, name);
	g_source_attach(source, self->context);
	return source;
}

/* Ends @cmd, no longer in flight, with its lines (success) or @error (owned). */
static void
complete_command(Command *cmd, GError *error)
{
	if (cmd->task) {
		if (error) {
			g_task_return_error(cmd->task, error);
		} else {
			g_ptr_array_add(cmd->lines, NULL);
			g_task_return_pointer(cmd->task, g_strdupv((char **)cmd->lines->pdata),
			                      (GDestroyNotify)g_strfreev);
		}
	} else if (error) {
		g_error_free(error);
	}
	command_free(cmd);
}

/* Ends the command in flight with @lines (success) or @error (owned). */
void
finish_current(DfotaAtChannel *self, GError *error)
{
	Command *cmd = g_steal_pointer(&self->current);

	stop_command_timer(self);
	clear_source(&self->guard_source);
	complete_command(cmd, error);
}

static void
fail_all(DfotaAtChannel *self, const GError *error)
{
	Command *cmd;

	stop_command_timer(self);
	clear_source(&self->quiet_source);
	clear_source(&self->kick_source);
	clear_source(&self->guard_source);
	self->state = STATE_CLOSED;
	if (self->current)
		finish_current(self, g_error_copy(error));
	while ((cmd = g_queue_pop_head(&self->queue)) != NULL) {
		unwatch_command(self, cmd);
		if (cmd->task)
			g_task_return_error(cmd->task, g_error_copy(error));
		command_free(cmd);
	}
}

static gboolean on_serial_lost_idle(gpointer data);

static void
on_serial_lost(DfotaSerial *serial, GError *error, gpointer user_data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(user_data);
	g_autoptr(DfotaAtChannel) keep = g_object_ref(self);
	g_autoptr(GError) lost = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST, "%s",
	                                     error ? error->message : "The modem's tty was lost");

	if (self->state == STATE_CLOSED)
		return;
	fail_all(self, lost);
	g_signal_emit(self, at_channel_signals[SIGNAL_LOST], 0, lost);
}

static gboolean
on_serial_lost_idle(gpointer data)
{
	on_serial_lost(NULL, NULL, data);
	return G_SOURCE_REMOVE;
}

gboolean
write_or_lose(DfotaAtChannel *self, const void *data, gsize len)
{
	g_autoptr(GError) error = NULL;

	if (dfota_serial_write(self->serial, data, len, &error))
		return TRUE;
	/* Reported from the main loop, never from inside a caller's function. */
	g_idle_add_full(G_PRIORITY_DEFAULT, on_serial_lost_idle, g_object_ref(self),
	                g_object_unref);
	return FALSE;
}

static void on_command_timeout(DfotaAtChannel *self);

/* A command's timeout restarts with every command written and, in a data phase, with every
 * chunk: thousands of times a second at full rate. Creating and destroying a timeout source
 * each time costs allocations, a source id and list surgery on the main context; moving a
 * source's ready time outside its dispatch wakes the context (an eventfd write and one more
 * loop round). So the channel keeps one timer source and only records the deadline here.
 * The source is moved only when it would otherwise fire too late (it is idle, or the new
 * deadline is earlier); when it fires before the deadline it re-arms itself from its own
 * dispatch, which costs no wake-up. */
void
restart_command_timer(DfotaAtChannel *self)
{
	gint64 ready;

	if (!self->command_timer || !self->current || self->current->timeout_ms == 0) {
		self->command_deadline_us = 0;
		return;
	}
	self->command_deadline_us =
	        g_get_monotonic_time() + (gint64)self->current->timeout_ms * 1000;
	ready = g_source_get_ready_time(self->command_timer);
	if (ready < 0 || ready > self->command_deadline_us)
		g_source_set_ready_time(self->command_timer, self->command_deadline_us);
}

/* No command timeout runs; the timer, if armed, finds no deadline and goes idle. */
void
stop_command_timer(DfotaAtChannel *self)
{
	self->command_deadline_us = 0;
}

typedef struct {
	GSource source;
	DfotaAtChannel *channel; /* not a reference: the channel destroys the source first */
} CommandTimer;

static gboolean
command_timer_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	DfotaAtChannel *self = ((CommandTimer *)source)->channel;
	gint64 deadline = self->command_deadline_us;

	if (deadline == 0) {
		g_source_set_ready_time(source, -1);
		return G_SOURCE_CONTINUE;
	}
	if (g_get_monotonic_time() < deadline) {
		g_source_set_ready_time(source, deadline);
		return G_SOURCE_CONTINUE;
	}
	self->command_deadline_us = 0;
	g_source_set_ready_time(source, -1);
	on_command_timeout(self);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs command_timer_funcs = { NULL, NULL, command_timer_dispatch, NULL, NULL, NULL };

void
write_command(DfotaAtChannel *self, Command *cmd)
{
	g_autofree char *wire = g_strconcat(cmd->text, "\r", NULL);

	self->current = cmd;
	dfota_debug("--> %s", cmd->shown);
	if (!write_or_lose(self, wire, strlen(wire)))
		return;
	self->commands_written++;
	restart_command_timer(self);
	g_signal_emit(self, at_channel_signals[SIGNAL_COMMAND_WRITTEN], 0);
}

static gboolean
on_kick(gpointer data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(data);
	Command *cmd;

	g_clear_pointer(&self->kick_source, g_source_unref);
	if (self->state != STATE_RUNNING || self->current != NULL)
		return G_SOURCE_REMOVE;
	if (self->asleep && !g_queue_is_empty(&self->queue)) {
		g_debug("the module sleeps: waking it before %s",
		        ((Command *)g_queue_peek_head(&self->queue))->shown);
		send_wake(self, FALSE);
		return G_SOURCE_REMOVE;
	}
	while ((cmd = g_queue_pop_head(&self->queue)) != NULL) {
		GCancellable *cancellable = g_task_get_cancellable(cmd->task);
		if (cancellable && g_cancellable_is_cancelled(cancellable)) {
			unwatch_command(self, cmd);
			g_task_return_new_error(cmd->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
			                        "%s was cancelled before it was sent", cmd->shown);
			command_free(cmd);
			continue;
		}
		/* Written: from now on it runs to its end (cancelling only discards the answer).
		 * The write goes first: the module is waiting. */
		write_command(self, cmd);
		unwatch_command(self, cmd);
		break;
	}
	return G_SOURCE_REMOVE;
}

void
schedule_next(DfotaAtChannel *self)
{
	if (self->kick_source || self->state != STATE_RUNNING || self->current ||
	    g_queue_is_empty(&self->queue))
		return;
	self->kick_source = g_idle_source_new();
	g_source_set_callback(self->kick_source, on_kick, self, NULL);
	g_source_set_static_name(self->kick_source, "dfota-at-kick");
	g_source_attach(self->kick_source, self->context);
}

static void
on_command_timeout(DfotaAtChannel *self)
{
	g_autoptr(DfotaAtChannel) keep = g_object_ref(self);
	Command *cmd = self->current;

	if (cmd == NULL)
		return;
	if (cmd->kind == COMMAND_KIND_PROBE) {
		probe_done(self, FALSE);
		return;
	}
	if (is_wake(cmd)) {
		wake_done(self);
		return;
	}
	g_message("AT command %s got no answer within %u ms; resynchronising", cmd->shown,
	          cmd->timeout_ms);
	/* The state changes before the caller hears of it, so a command it queues from its
	 * callback waits for the resync. */
	start_quiet(self, self->quiet_ms);
	if (is_leaving(cmd)) {
		finish_current(self, left_mode_error(cmd));
		return;
	}
	finish_current(self, g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
	                                 "The module did not answer %s within %u ms", cmd->shown,
	                                 cmd->timeout_ms));
}

static void
dispatch_urc(DfotaAtChannel *self, const char *line)
{
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));

	if (g_str_has_prefix(line, "+QATSLEEP")) {
		self->asleep = TRUE;
	} else if (g_str_has_prefix(line, "+QATWAKEUP") || dfota_at_is_boot_urc(line)) {
		self->asleep = FALSE;
		if (self->current && is_wake(self->current)) {
			g_signal_emit(self, at_channel_signals[SIGNAL_URC], 0, line);
			wake_done(self);
			return;
		}
	}

	g_signal_emit(self, at_channel_signals[SIGNAL_URC], 0, line);
	/* Handlers may add or remove handlers: call by id from a snapshot. */
	for (guint i = 0; i < self->handlers->len; i++) {
		UrcHandler *h = g_ptr_array_index(self->handlers, i);
		if (g_str_has_prefix(line, h->prefix))
			g_array_append_val(ids, h->id);
	}
	for (guint i = 0; i < ids->len; i++) {
		guint id = g_array_index(ids, guint, i);
		for (guint j = 0; j < self->handlers->len; j++) {
			UrcHandler *h = g_ptr_array_index(self->handlers, j);
			if (h->id == id) {
				h->func(self, line, h->user_data);
				break;
			}
		}
	}
}

static GError *
error_for_final(const Command *cmd, DfotaAtFinal final, int code, const char *line)
{
	switch (final) {
	case DFOTA_AT_FINAL_CME_ERROR:
		if (code >= 0)
			return dfota_error_from_cme(code);
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_CME_ERROR, "%s", line);
	case DFOTA_AT_FINAL_CMS_ERROR:
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_CME_ERROR, "%s", line);
	case DFOTA_AT_FINAL_NO_CARRIER:
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
		                   "The module answered NO CARRIER to %s", cmd->shown);
	case DFOTA_AT_FINAL_ERROR:
	default:
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
		                   "The module answered ERROR to %s: check the command's syntax "
		                   "and parameters",
		                   cmd->shown);
	}
}

static gboolean
has_expected_prefix(const Command *cmd, const char *line)
{
	for (gsize i = 0; cmd->expected_prefixes && cmd->expected_prefixes[i]; i++) {
		if (g_str_has_prefix(line, cmd->expected_prefixes[i]))
			return TRUE;
	}
	return FALSE;
}

/* Logs @what and @line at debug level, with URLs redacted (the module echoes what it is
 * sent, URLs included); nothing is built when debug messages are not shown. */
static void
debug_line(const char *what, const char *line)
{
	static int cache = -1;
	g_autofree char *shown = NULL;

	if (G_LIKELY(!dfota_log_debug_on(G_LOG_DOMAIN, &cache)))
		return;
	shown = dfota_text_redact_urls(line);
	g_debug("%s%s", what, shown);
}

static void
handle_line(DfotaAtChannel *self, const char *line)
{
	Command *cmd = self->current;
	g_autofree char *trimmed = g_strstrip(g_strdup(line));
	DfotaAtFinal final;
	int code = -1;

	debug_line("<-- ", line);
	if (self->state == STATE_QUIET) {
		if (is_urc_line(self, line))
			dispatch_urc(self, line);
		else
			debug_line("Discarding late line after a timeout: ", line);
		return;
	}
	if (cmd == NULL) {
		if (g_ascii_strncasecmp(trimmed, "AT", 2) == 0) {
			debug_line("Dropping stray echo: ", line);
			return;
		}
		dispatch_urc(self, line);
		return;
	}
	if (g_ascii_strcasecmp(trimmed, cmd->text) == 0)
		return; /* echo */

	final = dfota_at_parse_final(line, &code);
	if (final != DFOTA_AT_FINAL_NONE && is_wake(cmd)) {
		wake_done(self);
		return;
	}
	if (final != DFOTA_AT_FINAL_NONE) {
		if (cmd->kind == COMMAND_KIND_PROBE) {
			DfotaAtIdentity id;
			gboolean ok = FALSE;
			if (final == DFOTA_AT_FINAL_OK) {
				g_ptr_array_add(cmd->lines, NULL);
				const char *const *lines = (const char *const *)cmd->lines->pdata;
				ok = dfota_at_parse_ati(lines, &id);
				g_ptr_array_remove_index(cmd->lines, cmd->lines->len - 1);
				if (ok)
					dfota_at_identity_clear(&id);
			}
			probe_done(self, ok);
		} else {
			GError *error = is_leaving(cmd) ? left_mode_error(cmd)
			                : final == DFOTA_AT_FINAL_OK
			                        ? NULL
			                        : error_for_final(cmd, final, code, trimmed);

			self->current = NULL;
			stop_command_timer(self);
			clear_source(&self->guard_source);
			/* When the final line ends what the module sent, the next command goes out
			 * before this one's caller hears back: the module works on it while the
			 * D-Bus reply is built and sent (GTask calls back at once here). With more
			 * bytes after it, they are read first, as lines that belong to no command. */
			if (self->at_chunk_end)
				on_kick(self);
			complete_command(cmd, error);
			schedule_next(self);
		}
		return;
	}
	if (is_leaving(cmd)) {
		/* what the module says in a mode it is being taken out of is nobody's answer */
		if (is_urc_line(self, line))
			dispatch_urc(self, line);
		else
			g_debug("Discarding a line of a prompt or data mode: %s", line);
		return;
	}
	if (cmd->kind == COMMAND_KIND_AT && dfota_at_is_connect(line)) {
		leave_data_mode(self, cmd);
		return;
	}
	if (cmd->kind == COMMAND_KIND_DATA && cmd->mode == MODE_COMMAND &&
	    dfota_at_is_connect(line)) {
		cmd->mode = MODE_DATA;
		restart_command_timer(self);
		if (cmd->on_connect)
			cmd->on_connect(self, cmd->data_user_data);
		return;
	}
	if (!has_expected_prefix(cmd, line)) {
		if (is_urc_line(self, line)) {
			dispatch_urc(self, line);
			return;
		}
	}
	g_ptr_array_add(cmd->lines, g_strdup(line));
}

/* Whether @data holds nothing but line ends (the LF of a final CRLF): no line to come. */
static gboolean
only_terminators(const guint8 *data, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (data[i] != '\r' && data[i] != '\n' && data[i] != '\0')
			return FALSE;
	return TRUE;
}

static void
on_serial_data(DfotaSerial *serial, GBytes *bytes, gpointer user_data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(user_data);
	g_autoptr(DfotaAtChannel) keep = g_object_ref(self);
	gsize len;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	gsize off = 0;

	if (self->state == STATE_QUIET)
		start_quiet(self, self->backoff_ms ? self->backoff_ms : self->quiet_ms);
	while (off < len && self->state != STATE_CLOSED) {
		Command *cmd = self->current;
		g_autofree char *line = NULL;

		if (cmd && cmd->mode == MODE_DATA) {
			restart_command_timer(self);
			if (dfota_line_reader_is_empty(self->reader)) {
				off += dfota_line_reader_skip_terminator(self->reader, data + off,
				                                         len - off);
				if (off < len && cmd->on_raw) {
					gsize n = cmd->on_raw(self, data + off, len - off,
					                      cmd->data_user_data);
					off += MIN(n, len - off);
					if (off == len || self->current != cmd)
						continue;
				}
			}
		}
		off += dfota_line_reader_feed_one(self->reader, data + off, len - off, &line);
		self->at_chunk_end = dfota_line_reader_is_empty(self->reader) &&
		                     only_terminators(data + off, len - off);
		if (line)
			handle_line(self, line);
		self->at_chunk_end = FALSE;
	}
	check_prompt(self);
}

DfotaAtChannel *
dfota_at_channel_new(DfotaSerial *serial)
{
	DfotaAtChannel *self;

	g_return_val_if_fail(DFOTA_IS_SERIAL(serial), NULL);
	self = g_object_new(DFOTA_TYPE_AT_CHANNEL, NULL);
	self->serial = g_object_ref(serial);
	self->data_id = g_signal_connect(serial, "data", G_CALLBACK(on_serial_data), self);
	self->lost_id = g_signal_connect(serial, "lost", G_CALLBACK(on_serial_lost), self);
	return self;
}

void
dfota_at_channel_set_max_queue(DfotaAtChannel *self, guint max_queue)
{
	self->max_queue = max_queue;
}

void
dfota_at_channel_set_quiet_ms(DfotaAtChannel *self, guint quiet_ms)
{
	self->quiet_ms = quiet_ms;
}

void
dfota_at_channel_set_probe_timeout_ms(DfotaAtChannel *self, guint probe_timeout_ms)
{
	self->probe_timeout_ms = probe_timeout_ms > 0 ? probe_timeout_ms : DEFAULT_PROBE_TIMEOUT_MS;
}

static guint
count_bounded(DfotaAtChannel *self)
{
	guint n = 0;

	for (GList *l = self->queue.head; l; l = l->next) {
		const Command *cmd = l->data;
		if (cmd->flags & DFOTA_AT_FLAG_BOUNDED)
			n++;
	}
	return n;
}

void
enqueue(DfotaAtChannel *self, Command *cmd, GCancellable *cancellable, GAsyncReadyCallback callback,
        gpointer user_data, gpointer tag)
{
	gboolean at_once;

	/* GTask defers any return made in the iteration that created it, so the errors below
	 * reach the callback from the main loop, never from inside this call. */
	cmd->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(cmd->task, tag);

	if (self->state == STATE_CLOSED) {
		g_task_return_new_error(cmd->task, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                        "The modem is not connected: %s was not sent", cmd->shown);
		command_free(cmd);
		return;
	}
	if (self->unresponsive) {
		g_task_return_new_error(cmd->task, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                        "The module does not answer (still probing): %s was not "
		                        "sent",
		                        cmd->shown);
		command_free(cmd);
		return;
	}
	if ((cmd->flags & DFOTA_AT_FLAG_BOUNDED) && count_bounded(self) >= self->max_queue) {
		g_task_return_new_error(cmd->task, DFOTA_ERROR, DFOTA_ERROR_BUSY,
		                        "The AT queue is full (%u commands waiting): retry later",
		                        self->max_queue);
		command_free(cmd);
		return;
	}
	/* An idle channel writes at once: a main-loop round less per command. Only bytes go
	 * out here; the command's task completes later, never inside this call. Written, a
	 * command runs to its end, so only one that waits watches its cancellable. */
	at_once = self->state == STATE_RUNNING && !self->current && !self->kick_source &&
	          !self->asleep && g_queue_is_empty(&self->queue);
	if (cancellable && !at_once)
		watch_command(self, cmd, cancellable);
	g_queue_push_tail(&self->queue, cmd);
	if (at_once)
		on_kick(self);
	else
		schedule_next(self);
}

void
dfota_at_channel_send(DfotaAtChannel *self, const char *command, guint timeout_ms,
                      DfotaAtFlags flags, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
	Command *cmd;

	g_return_if_fail(DFOTA_IS_AT_CHANNEL(self));
	g_return_if_fail(command != NULL);

	cmd = command_new(command, timeout_ms, COMMAND_KIND_AT);
	cmd->flags = flags;
	enqueue(self, cmd, cancellable, callback, user_data, dfota_at_channel_send);
}

char **
dfota_at_channel_send_finish(DfotaAtChannel *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
dfota_at_channel_set_unresponsive_quiet_ms(DfotaAtChannel *self, guint ms)
{
	self->unresponsive_quiet_ms = MAX(ms, 100);
}

guint64
dfota_at_channel_get_commands_written(DfotaAtChannel *self)
{
	return self->commands_written;
}

DfotaSerial *
dfota_at_channel_get_serial(DfotaAtChannel *self)
{
	return self->serial;
}

gsize
dfota_at_channel_get_pending(DfotaAtChannel *self)
{
	return dfota_serial_get_pending(self->serial);
}

guint
dfota_at_channel_get_queue_length(DfotaAtChannel *self)
{
	return count_bounded(self);
}

guint
dfota_at_channel_get_waiting(DfotaAtChannel *self)
{
	return g_queue_get_length(&self->queue);
}

void
dfota_at_channel_shutdown(DfotaAtChannel *self)
{
	g_autoptr(DfotaAtChannel) keep = g_object_ref(self);
	g_autoptr(GError) error = NULL;

	if (self->state == STATE_CLOSED)
		return;
	error = g_error_new_literal(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
	                            "The AT channel was shut down");
	fail_all(self, error);
}

static void
dfota_at_channel_dispose(GObject *object)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(object);

	if (self->serial) {
		g_clear_signal_handler(&self->data_id, self->serial);
		g_clear_signal_handler(&self->lost_id, self->serial);
	}
	if (self->state != STATE_CLOSED)
		dfota_at_channel_shutdown(self);
	g_clear_object(&self->serial);
	clear_source(&self->command_timer);
	g_ptr_array_set_size(self->handlers, 0);
	G_OBJECT_CLASS(dfota_at_channel_parent_class)->dispose(object);
}

static void
dfota_at_channel_finalize(GObject *object)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(object);

	g_ptr_array_unref(self->handlers);
	g_ptr_array_unref(self->cancel_watches);
	g_ptr_array_unref(self->urc_prefixes);
	dfota_line_reader_free(self->reader);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(dfota_at_channel_parent_class)->finalize(object);
}

static void
dfota_at_channel_init(DfotaAtChannel *self)
{
	self->unresponsive_quiet_ms = DEFAULT_UNRESPONSIVE_QUIET_MS;
	self->context = g_main_context_ref_thread_default();
	self->reader = dfota_line_reader_new(DFOTA_LINE_READER_DEFAULT_MAX);
	self->state = STATE_RUNNING;
	self->command_timer = g_source_new(&command_timer_funcs, sizeof(CommandTimer));
	((CommandTimer *)self->command_timer)->channel = self;
	g_source_set_static_name(self->command_timer, "dfota-at-timeout");
	g_source_attach(self->command_timer, self->context);
	g_queue_init(&self->queue);
	self->max_queue = DFOTA_AT_CHANNEL_DEFAULT_MAX_QUEUE;
	self->quiet_ms = DFOTA_AT_CHANNEL_DEFAULT_QUIET_MS;
	self->probe_timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
	self->handlers = g_ptr_array_new_with_free_func((GDestroyNotify)urc_handler_free);
	self->cancel_watches = g_ptr_array_new_with_free_func((GDestroyNotify)cancel_watch_free);
	self->urc_prefixes = g_ptr_array_new_with_free_func(g_free);
	for (gsize i = 0; i < G_N_ELEMENTS(channel_urc_prefixes); i++)
		dfota_at_channel_add_urc_prefix(self, channel_urc_prefixes[i]);
}

static void
dfota_at_channel_class_init(DfotaAtChannelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = dfota_at_channel_dispose;
	object_class->finalize = dfota_at_channel_finalize;

	at_channel_signals[SIGNAL_URC] =
	        g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	at_channel_signals[SIGNAL_LOST] =
	        g_signal_new("lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
	at_channel_signals[SIGNAL_RESYNCED] =
	        g_signal_new("resynced", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	at_channel_signals[SIGNAL_UNRESPONSIVE] =
	        g_signal_new("unresponsive", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
	at_channel_signals[SIGNAL_COMMAND_WRITTEN] =
	        g_signal_new("command-written", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                     NULL, NULL, NULL, G_TYPE_NONE, 0);
}
