// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel.c: one AT command in flight, URCs by prefix, resync after a timeout.
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
#include "dfota-at-channel.h"

#include <string.h>

#include "at-parse.h"
#include "dfota-error.h"
#include "dfota-line-reader.h"
#include "dfota-redact.h"

#define RESYNC_BACKOFF_MAX_MS 5000
/* Once unresponsive, the quiet between probes. It must exceed the module's AT+QFUPL
 * inactivity bound: a module left in a data phase by a daemon restart takes our probes as data
 * and only leaves it once the line has been quiet that long. */
#define DEFAULT_UNRESPONSIVE_QUIET_MS 12000
#define DEFAULT_PROBE_TIMEOUT_MS 3000
#define WAKE_TIMEOUT_MS 500
/* Failed resync probes in a row after which the module counts as unresponsive: waiting
 * commands fail with ModemLost and new ones are refused until a probe succeeds again. */
#define UNRESPONSIVE_PROBES 3
/* V.250 S12's default escape guard time (Quectel: at least 1 s of silence before and after
 * "+++"). */
#define ESCAPE_GUARD_MS 1000

/* Lines that are unsolicited whatever is in flight (unless they carry its own prefix). */
static const char *const builtin_urc_prefixes[] = {
	"+QIND:",  "RDY",     "+CPIN:",  "+QATSLEEP",     "+QATWAKEUP",
	"+CEREG:", "+CGREG:", "+CSCON:", "+QNBIOTEVENT:", "+IP:",
	"+CGEV:",  "+CTZEU:", "+CTZV:",  "+QLWEVTIND:",   "+NPSMR:",
};

typedef enum { STATE_RUNNING, STATE_QUIET, STATE_PROBE, STATE_CLOSED } ChannelState;

/* A prompt or data mode the module entered for a command the channel did not send as a data
 * command: the channel leaves it at once and fails the command. */
typedef enum {
	LEFT_NONE = 0,
	LEFT_PROMPT, /* "> ": ESC sent */
	LEFT_DATA,   /* CONNECT: "+++" sent after the guard time */
} LeftMode;

typedef struct {
	char *text;               /* as written to the tty */
	char *shown;              /* for logs and messages: a URL in it redacted (dfota-redact.h) */
	char **expected_prefixes; /* of every extended command in the line; NULL for none */
	guint timeout_ms;
	DfotaAtFlags flags;
	GTask *task;            /* NULL for the internal resync probe */
	GSource *cancel_source; /* while queued */
	GPtrArray *lines;
	gboolean is_probe;
	gboolean is_wake;
	gboolean then_probe; /* a wake-up sent before a resync probe */
	gboolean is_data;
	gboolean in_data_mode;
	LeftMode left;
	DfotaAtConnectFunc on_connect;
	DfotaAtRawFunc on_raw;
	gpointer data_user_data;
} Command;

typedef struct {
	guint id;
	char *prefix;
	DfotaAtUrcFunc func;
	gpointer user_data;
	GDestroyNotify destroy;
} UrcHandler;

struct _DfotaAtChannel {
	GObject parent_instance;

	DfotaSerial *serial;
	gulong data_id;
	gulong lost_id;
	GMainContext *context;
	DfotaLineReader *reader;
	ChannelState state;
	GQueue queue; /* Command*, waiting */
	Command *current;
	GSource *timeout_source;
	GSource *quiet_source;
	GSource *kick_source;
	GSource *guard_source; /* escape guard time before "+++" */
	gboolean at_chunk_end; /* the line being handled is the last of what was read */
	guint max_queue;
	guint quiet_ms;
	guint probe_timeout_ms;
	guint backoff_ms;
	GPtrArray *handlers; /* UrcHandler* */
	guint next_handler_id;
	gboolean asleep; /* +QATSLEEP seen and no sign of life since */
	guint failed_probes;
	gboolean unresponsive;
	guint unresponsive_quiet_ms;
	guint64 commands_written; /* AT command lines handed to the tty, probes included */
};

enum {
	SIGNAL_URC,
	SIGNAL_LOST,
	SIGNAL_RESYNCED,
	SIGNAL_UNRESPONSIVE,
	SIGNAL_COMMAND_WRITTEN,
	N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(DfotaAtChannel, dfota_at_channel, G_TYPE_OBJECT)

static void schedule_next(DfotaAtChannel *self);
static void send_wake(DfotaAtChannel *self, gboolean then_probe);
static void wake_done(DfotaAtChannel *self);
static void start_quiet(DfotaAtChannel *self, guint ms);

static void
command_free(Command *cmd)
{
	if (cmd->cancel_source) {
		g_source_destroy(cmd->cancel_source);
		g_source_unref(cmd->cancel_source);
	}
	g_clear_object(&cmd->task);
	g_ptr_array_unref(cmd->lines);
	g_strfreev(cmd->expected_prefixes);
	g_free(cmd->text);
	g_free(cmd->shown);
	g_free(cmd);
}

static void
urc_handler_free(UrcHandler *h)
{
	if (h->destroy)
		h->destroy(h->user_data);
	g_free(h->prefix);
	g_free(h);
}

static void
clear_source(GSource **source)
{
	if (*source) {
		g_source_destroy(*source);
		g_clear_pointer(source, g_source_unref);
	}
}

static GSource *
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
static void
finish_current(DfotaAtChannel *self, GError *error)
{
	Command *cmd = g_steal_pointer(&self->current);

	clear_source(&self->timeout_source);
	clear_source(&self->guard_source);
	complete_command(cmd, error);
}

static void
fail_all(DfotaAtChannel *self, const GError *error)
{
	Command *cmd;

	clear_source(&self->timeout_source);
	clear_source(&self->quiet_source);
	clear_source(&self->kick_source);
	clear_source(&self->guard_source);
	self->state = STATE_CLOSED;
	if (self->current)
		finish_current(self, g_error_copy(error));
	while ((cmd = g_queue_pop_head(&self->queue)) != NULL) {
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
	g_signal_emit(self, signals[SIGNAL_LOST], 0, lost);
}

static gboolean
on_serial_lost_idle(gpointer data)
{
	on_serial_lost(NULL, NULL, data);
	return G_SOURCE_REMOVE;
}

static gboolean
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

static gboolean on_command_timeout(gpointer data);

static void
restart_command_timer(DfotaAtChannel *self)
{
	clear_source(&self->timeout_source);
	if (self->current && self->current->timeout_ms > 0)
		self->timeout_source = add_timeout(self, self->current->timeout_ms,
		                                   on_command_timeout, "dfota-at-timeout");
}

static void
write_command(DfotaAtChannel *self, Command *cmd)
{
	g_autofree char *wire = g_strconcat(cmd->text, "\r", NULL);

	self->current = cmd;
	g_debug("--> %s", cmd->shown);
	if (!write_or_lose(self, wire, strlen(wire)))
		return;
	self->commands_written++;
	restart_command_timer(self);
	g_signal_emit(self, signals[SIGNAL_COMMAND_WRITTEN], 0);
}

static void
send_wake(DfotaAtChannel *self, gboolean then_probe)
{
	Command *wake = g_new0(Command, 1);

	wake->text = g_strdup("AT");
	wake->shown = g_strdup("AT");
	wake->is_wake = TRUE;
	wake->then_probe = then_probe;
	wake->timeout_ms = WAKE_TIMEOUT_MS;
	wake->lines = g_ptr_array_new_with_free_func(g_free);
	self->asleep = FALSE;
	write_command(self, wake);
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
			g_task_return_new_error(cmd->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
			                        "%s was cancelled before it was sent", cmd->shown);
			command_free(cmd);
			continue;
		}
		/* Written: from now on it runs to its end (cancelling only discards the answer). */
		clear_source(&cmd->cancel_source);
		write_command(self, cmd);
		break;
	}
	return G_SOURCE_REMOVE;
}

static void
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
send_probe(DfotaAtChannel *self)
{
	Command *probe = g_new0(Command, 1);

	probe->text = g_strdup("ATI");
	probe->shown = g_strdup("ATI");
	probe->is_probe = TRUE;
	probe->timeout_ms = self->probe_timeout_ms;
	probe->lines = g_ptr_array_new_with_free_func(g_free);
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
static void
wake_done(DfotaAtChannel *self)
{
	gboolean then_probe = self->current->then_probe;

	finish_current(self, NULL);
	if (then_probe)
		send_probe(self);
	else
		schedule_next(self);
}

static void
start_quiet(DfotaAtChannel *self, guint ms)
{
	self->state = STATE_QUIET;
	clear_source(&self->quiet_source);
	self->quiet_source = add_timeout(self, ms, on_quiet, "dfota-at-quiet");
}

static void
probe_done(DfotaAtChannel *self, gboolean ok)
{
	g_autoptr(GError) error = NULL;

	if (ok) {
		finish_current(self, NULL);
		g_debug("AT channel resynchronised");
		self->state = STATE_RUNNING;
		self->backoff_ms = 0;
		self->failed_probes = 0;
		if (self->unresponsive)
			g_message("the module answers again");
		self->unresponsive = FALSE;
		g_signal_emit(self, signals[SIGNAL_RESYNCED], 0);
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
			clear_source(&cmd->cancel_source);
			g_task_return_new_error(cmd->task, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
			                        "The module does not answer: %s was not sent",
			                        cmd->shown);
			command_free(cmd);
		}
		g_signal_emit(self, signals[SIGNAL_UNRESPONSIVE], 0);
	}
	self->backoff_ms = self->backoff_ms == 0 ? MAX(self->quiet_ms, 100) : self->backoff_ms * 2;
	self->backoff_ms = MIN(self->backoff_ms, RESYNC_BACKOFF_MAX_MS);
	if (self->unresponsive)
		self->backoff_ms = self->unresponsive_quiet_ms;
	g_debug("AT resync probe failed, retrying after %u ms of quiet", self->backoff_ms);
	start_quiet(self, self->backoff_ms);
}

/* What a caller hears when its command put the module in a prompt or data mode. */
static GError *
left_mode_error(const Command *cmd)
{
	if (cmd->left == LEFT_PROMPT)
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
		                   "The module answered %s with a '>' prompt and waited for data; "
		                   "the daemon left the prompt (ESC) so that the channel stays "
		                   "usable: give the data inline in the command",
		                   cmd->shown);
	return g_error_new(DFOTA_ERROR, DFOTA_ERROR_COMMAND_FAILED,
	                   "The module answered %s with CONNECT and entered data mode; the daemon "
	                   "left data mode (+++) so that the channel stays usable: data mode is "
	                   "not offered through Command",
	                   cmd->shown);
}

static gboolean
on_command_timeout(gpointer data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(data);
	g_autoptr(DfotaAtChannel) keep = g_object_ref(self);
	Command *cmd = self->current;

	g_clear_pointer(&self->timeout_source, g_source_unref);
	if (cmd == NULL)
		return G_SOURCE_REMOVE;
	if (cmd->is_probe) {
		probe_done(self, FALSE);
		return G_SOURCE_REMOVE;
	}
	if (cmd->is_wake) {
		wake_done(self);
		return G_SOURCE_REMOVE;
	}
	g_message("AT command %s got no answer within %u ms; resynchronising", cmd->shown,
	          cmd->timeout_ms);
	/* The state changes before the caller hears of it, so a command it queues from its
	 * callback waits for the resync. */
	start_quiet(self, self->quiet_ms);
	if (cmd->left != LEFT_NONE) {
		finish_current(self, left_mode_error(cmd));
		return G_SOURCE_REMOVE;
	}
	finish_current(self, g_error_new(DFOTA_ERROR, DFOTA_ERROR_TIMEOUT,
	                                 "The module did not answer %s within %u ms", cmd->shown,
	                                 cmd->timeout_ms));
	return G_SOURCE_REMOVE;
}

static gboolean
is_urc_line(DfotaAtChannel *self, const char *line)
{
	for (gsize i = 0; i < G_N_ELEMENTS(builtin_urc_prefixes); i++) {
		if (g_str_has_prefix(line, builtin_urc_prefixes[i]))
			return TRUE;
	}
	for (guint i = 0; i < self->handlers->len; i++) {
		UrcHandler *h = g_ptr_array_index(self->handlers, i);
		if (g_str_has_prefix(line, h->prefix))
			return TRUE;
	}
	return dfota_at_is_boot_urc(line);
}

static void
dispatch_urc(DfotaAtChannel *self, const char *line)
{
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));

	if (g_str_has_prefix(line, "+QATSLEEP")) {
		self->asleep = TRUE;
	} else if (g_str_has_prefix(line, "+QATWAKEUP") || dfota_at_is_boot_urc(line)) {
		self->asleep = FALSE;
		if (self->current && self->current->is_wake) {
			g_signal_emit(self, signals[SIGNAL_URC], 0, line);
			wake_done(self);
			return;
		}
	}

	g_signal_emit(self, signals[SIGNAL_URC], 0, line);
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

static gboolean
on_escape_guard(gpointer data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(data);

	g_clear_pointer(&self->guard_source, g_source_unref);
	if (self->current == NULL || self->current->left != LEFT_DATA)
		return G_SOURCE_REMOVE;
	g_debug("--> +++ (leaving data mode)");
	if (write_or_lose(self, "+++", 3))
		restart_command_timer(self);
	return G_SOURCE_REMOVE;
}

/* CONNECT to a command that is not a data command: after the guard time of silence, "+++"
 * returns the module to command mode (it answers OK); the command then fails. */
static void
leave_data_mode(DfotaAtChannel *self, Command *cmd)
{
	g_message("the module answered %s with CONNECT: leaving data mode (+++)", cmd->shown);
	cmd->left = LEFT_DATA;
	clear_source(&self->timeout_source);
	clear_source(&self->guard_source);
	self->guard_source =
	        add_timeout(self, ESCAPE_GUARD_MS, on_escape_guard, "dfota-at-escape-guard");
}

/* A "> " prompt arrives without CR/LF, so it is seen as what is left buffered once the
 * bytes read so far are framed. ESC leaves it without sending anything; the module then
 * ends the command with a final result. */
static void
check_prompt(DfotaAtChannel *self)
{
	static const guint8 esc = 0x1b;
	Command *cmd = self->current;
	const char *partial;
	gsize len;

	if (self->state != STATE_RUNNING || cmd == NULL || cmd->is_data || cmd->is_probe ||
	    cmd->is_wake || cmd->left != LEFT_NONE)
		return;
	partial = dfota_line_reader_peek(self->reader, &len);
	while (len > 0 && partial[len - 1] == ' ')
		len--;
	if (len != 1 || partial[0] != '>')
		return;
	g_message("the module answered %s with a '>' prompt: leaving it (ESC)", cmd->shown);
	dfota_line_reader_reset(self->reader);
	cmd->left = LEFT_PROMPT;
	if (write_or_lose(self, &esc, 1))
		restart_command_timer(self);
}

static void
handle_line(DfotaAtChannel *self, const char *line)
{
	Command *cmd = self->current;
	g_autofree char *trimmed = g_strstrip(g_strdup(line));
	DfotaAtFinal final;
	int code = -1;
	/* The module echoes what it is sent, URLs included. */
	g_autofree char *shown = dfota_text_redact_urls(line);

	g_debug("<-- %s", shown);
	if (self->state == STATE_QUIET) {
		if (is_urc_line(self, line))
			dispatch_urc(self, line);
		else
			g_debug("Discarding late line after a timeout: %s", shown);
		return;
	}
	if (cmd == NULL) {
		if (g_ascii_strncasecmp(trimmed, "AT", 2) == 0) {
			g_debug("Dropping stray echo: %s", shown);
			return;
		}
		dispatch_urc(self, line);
		return;
	}
	if (g_ascii_strcasecmp(trimmed, cmd->text) == 0)
		return; /* echo */

	final = dfota_at_parse_final(line, &code);
	if (final != DFOTA_AT_FINAL_NONE && cmd->is_wake) {
		wake_done(self);
		return;
	}
	if (final != DFOTA_AT_FINAL_NONE) {
		if (cmd->is_probe) {
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
			GError *error = cmd->left != LEFT_NONE ? left_mode_error(cmd)
			                : final == DFOTA_AT_FINAL_OK
			                        ? NULL
			                        : error_for_final(cmd, final, code, trimmed);

			self->current = NULL;
			clear_source(&self->timeout_source);
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
	if (cmd->left != LEFT_NONE) {
		/* what the module says in a mode it is being taken out of is nobody's answer */
		if (is_urc_line(self, line))
			dispatch_urc(self, line);
		else
			g_debug("Discarding a line of a prompt or data mode: %s", line);
		return;
	}
	if (!cmd->is_data && !cmd->is_probe && !cmd->is_wake && dfota_at_is_connect(line)) {
		leave_data_mode(self, cmd);
		return;
	}
	if (cmd->is_data && !cmd->in_data_mode && dfota_at_is_connect(line)) {
		cmd->in_data_mode = TRUE;
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

		if (cmd && cmd->in_data_mode) {
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

static gboolean
on_cancelled_while_queued(GCancellable *cancellable, gpointer data)
{
	Command *cmd = data;
	DfotaAtChannel *self = g_task_get_source_object(cmd->task);

	if (g_queue_remove(&self->queue, cmd)) {
		g_task_return_new_error(cmd->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
		                        "%s was cancelled before it was sent", cmd->shown);
		command_free(cmd); /* destroys this source: we are its last dispatch */
	}
	return G_SOURCE_REMOVE;
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

static void
enqueue(DfotaAtChannel *self, Command *cmd, GCancellable *cancellable, GAsyncReadyCallback callback,
        gpointer user_data, gpointer tag)
{
	/* GTask defers any return made in the iteration that created it, so the errors below
	 * reach the callback from the main loop, never from inside this call. */
	cmd->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(cmd->task, tag);
	cmd->lines = g_ptr_array_new_with_free_func(g_free);

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
	if (cancellable) {
		cmd->cancel_source = g_cancellable_source_new(cancellable);
		g_source_set_callback(cmd->cancel_source, G_SOURCE_FUNC(on_cancelled_while_queued),
		                      cmd, NULL);
		g_source_attach(cmd->cancel_source, self->context);
	}
	g_queue_push_tail(&self->queue, cmd);
	/* An idle channel writes at once: a main-loop round less per command. Only bytes go
	 * out here; the command's task completes later, never inside this call. */
	if (self->state == STATE_RUNNING && !self->current && !self->kick_source &&
	    g_queue_get_length(&self->queue) == 1)
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

	cmd = g_new0(Command, 1);
	cmd->text = g_strdup(command);
	cmd->shown = dfota_text_redact_urls(command);
	cmd->expected_prefixes = dfota_at_expected_prefixes(command);
	cmd->timeout_ms = timeout_ms;
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
dfota_at_channel_send_data(DfotaAtChannel *self, const char *command, guint timeout_ms,
                           DfotaAtConnectFunc on_connect, DfotaAtRawFunc on_raw,
                           gpointer data_user_data, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
	Command *cmd;

	g_return_if_fail(DFOTA_IS_AT_CHANNEL(self));
	g_return_if_fail(command != NULL);

	cmd = g_new0(Command, 1);
	cmd->text = g_strdup(command);
	cmd->shown = dfota_text_redact_urls(command);
	cmd->expected_prefixes = dfota_at_expected_prefixes(command);
	cmd->timeout_ms = timeout_ms;
	cmd->is_data = TRUE;
	cmd->on_connect = on_connect;
	cmd->on_raw = on_raw;
	cmd->data_user_data = data_user_data;
	/* Same finish function as dfota_at_channel_send(). */
	enqueue(self, cmd, cancellable, callback, user_data, dfota_at_channel_send);
}

gboolean
dfota_at_channel_write_raw(DfotaAtChannel *self, const void *data, gsize len, GError **error)
{
	g_return_val_if_fail(DFOTA_IS_AT_CHANNEL(self), FALSE);

	if (self->state == STATE_CLOSED) {
		g_set_error_literal(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                    "The modem is not connected");
		return FALSE;
	}
	if (self->current == NULL || !self->current->in_data_mode) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
		                    "The AT channel is not in data mode");
		return FALSE;
	}
	if (!dfota_serial_write(self->serial, data, len, error))
		return FALSE;
	restart_command_timer(self);
	return TRUE;
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
dfota_at_channel_add_urc_handler(DfotaAtChannel *self, const char *prefix, DfotaAtUrcFunc func,
                                 gpointer user_data, GDestroyNotify destroy)
{
	UrcHandler *h;

	g_return_val_if_fail(DFOTA_IS_AT_CHANNEL(self), 0);
	g_return_val_if_fail(prefix != NULL && *prefix != '\0' && func != NULL, 0);

	h = g_new0(UrcHandler, 1);
	h->id = ++self->next_handler_id;
	h->prefix = g_strdup(prefix);
	h->func = func;
	h->user_data = user_data;
	h->destroy = destroy;
	g_ptr_array_add(self->handlers, h);
	return h->id;
}

void
dfota_at_channel_remove_urc_handler(DfotaAtChannel *self, guint id)
{
	for (guint i = 0; i < self->handlers->len; i++) {
		UrcHandler *h = g_ptr_array_index(self->handlers, i);
		if (h->id == id) {
			g_ptr_array_remove_index(self->handlers, i);
			return;
		}
	}
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
	g_ptr_array_set_size(self->handlers, 0);
	G_OBJECT_CLASS(dfota_at_channel_parent_class)->dispose(object);
}

static void
dfota_at_channel_finalize(GObject *object)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(object);

	g_ptr_array_unref(self->handlers);
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
	g_queue_init(&self->queue);
	self->max_queue = DFOTA_AT_CHANNEL_DEFAULT_MAX_QUEUE;
	self->quiet_ms = DFOTA_AT_CHANNEL_DEFAULT_QUIET_MS;
	self->probe_timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
	self->handlers = g_ptr_array_new_with_free_func((GDestroyNotify)urc_handler_free);
}

static void
dfota_at_channel_class_init(DfotaAtChannelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = dfota_at_channel_dispose;
	object_class->finalize = dfota_at_channel_finalize;

	signals[SIGNAL_URC] = g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_LOST] = g_signal_new("lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
	signals[SIGNAL_RESYNCED] =
	        g_signal_new("resynced", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_UNRESPONSIVE] =
	        g_signal_new("unresponsive", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_COMMAND_WRITTEN] =
	        g_signal_new("command-written", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                     NULL, NULL, NULL, G_TYPE_NONE, 0);
}
