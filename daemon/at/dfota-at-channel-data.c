// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-at-channel-data.c: data phases, and the prompts and data modes nobody asked for. */
#include "dfota-at-channel-private.h"

#include "dfota-error.h"
#include "dfota-serial.h"

/* V.250 S12's default escape guard time (Quectel: at least 1 s of silence before and after
 * "+++"). */
#define ESCAPE_GUARD_MS 1000

/* What a caller hears when its command put the module in a prompt or data mode. */
GError *
left_mode_error(const Command *cmd)
{
	if (cmd->mode == MODE_LEFT_PROMPT)
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
on_escape_guard(gpointer data)
{
	DfotaAtChannel *self = DFOTA_AT_CHANNEL(data);

	g_clear_pointer(&self->guard_source, g_source_unref);
	if (self->current == NULL || self->current->mode != MODE_LEFT_DATA)
		return G_SOURCE_REMOVE;
	g_debug("--> +++ (leaving data mode)");
	if (write_or_lose(self, "+++", 3))
		restart_command_timer(self);
	return G_SOURCE_REMOVE;
}

/* CONNECT to a command that is not a data command: after the guard time of silence, "+++"
 * returns the module to command mode (it answers OK); the command then fails. */
void
leave_data_mode(DfotaAtChannel *self, Command *cmd)
{
	g_message("the module answered %s with CONNECT: leaving data mode (+++)", cmd->shown);
	cmd->mode = MODE_LEFT_DATA;
	stop_command_timer(self);
	clear_source(&self->guard_source);
	self->guard_source =
	        add_timeout(self, ESCAPE_GUARD_MS, on_escape_guard, "dfota-at-escape-guard");
}

/* A "> " prompt arrives without CR/LF, so it is seen as what is left buffered once the
 * bytes read so far are framed. ESC leaves it without sending anything; the module then
 * ends the command with a final result. */
void
check_prompt(DfotaAtChannel *self)
{
	static const guint8 esc = 0x1b;
	Command *cmd = self->current;
	const char *partial;
	gsize len;

	if (self->state != STATE_RUNNING || cmd == NULL || cmd->kind != COMMAND_KIND_AT ||
	    cmd->mode != MODE_COMMAND)
		return;
	partial = dfota_line_reader_peek(self->reader, &len);
	while (len > 0 && partial[len - 1] == ' ')
		len--;
	if (len != 1 || partial[0] != '>')
		return;
	g_message("the module answered %s with a '>' prompt: leaving it (ESC)", cmd->shown);
	dfota_line_reader_reset(self->reader);
	cmd->mode = MODE_LEFT_PROMPT;
	if (write_or_lose(self, &esc, 1))
		restart_command_timer(self);
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

	cmd = command_new(command, timeout_ms, COMMAND_KIND_DATA);
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
	if (self->current == NULL || self->current->mode != MODE_DATA) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
		                    "The AT channel is not in data mode");
		return FALSE;
	}
	if (!dfota_serial_write(self->serial, data, len, error))
		return FALSE;
	restart_command_timer(self);
	return TRUE;
}
