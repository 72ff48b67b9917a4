// SPDX-License-Identifier: LGPL-2.1-or-later
/* Prompt and data modes, as a module enters them for a command a host passes through:
 *
 * - prompt: after "\r\n> " (no CR/LF after it) every byte is data until Ctrl-Z (sent: the
 *   command's result) or ESC (cancelled: OK);
 * - data: after CONNECT every byte is data until "+++" with a guard time of silence before and
 *   after it (Quectel: 1 s, scaled here), then OK and command mode again.
 *
 * The daemon's channel must leave both at once when a command it passed through enters them,
 * so that later commands are not swallowed as data.
 */
#include "sim.h"

#include <string.h>

#define GUARD_MS 1000.0

void
sim_mode_reset(Sim *sim)
{
	g_clear_handle_id(&sim->escape_timer, g_source_remove);
	g_clear_pointer(&sim->mode_cmd, g_free);
	if (sim->mode_data)
		g_string_truncate(sim->mode_data, 0);
	sim->mode = SIM_MODE_COMMAND;
	sim->plus_count = 0;
}

static void
enter(Sim *sim, SimMode mode, const char *cmd)
{
	sim_mode_reset(sim);
	if (sim->mode_data == NULL)
		sim->mode_data = g_string_new(NULL);
	sim->mode = mode;
	sim->mode_cmd = g_strdup(cmd);
}

void
sim_mode_enter_prompt(Sim *sim, const char *cmd)
{
	enter(sim, SIM_MODE_PROMPT, cmd);
	sim_write(sim, "\r\n> ", 4);
	sim_log(sim, "< > (prompt for %s)", cmd);
}

void
sim_mode_enter_data(Sim *sim, const char *cmd)
{
	enter(sim, SIM_MODE_DATA, cmd);
	sim_send_line(sim, "CONNECT");
}

static gboolean
on_escape(gpointer data)
{
	Sim *sim = data;

	sim->escape_timer = 0;
	sim_log(sim, "> (+++: left data mode of %s after %zu bytes)", sim->mode_cmd,
	        sim->mode_data->len);
	sim_mode_reset(sim);
	sim_send_line(sim, "OK");
	return G_SOURCE_REMOVE;
}

void
sim_mode_feed(Sim *sim, guint8 c, gint64 now_us)
{
	gint64 quiet_us = now_us - sim->last_input_us;

	sim->last_input_us = now_us;
	if (sim->mode == SIM_MODE_PROMPT) {
		if (c == 0x1a) {
			sim_log(sim, "> %s (Ctrl-Z: %zu bytes sent)", sim->mode_cmd,
			        sim->mode_data->len);
			if (g_str_has_prefix(sim->mode_cmd, "QISEND")) {
				sim_mode_reset(sim);
				sim_send_line(sim, "OK");
				sim_send_line(sim, "SEND OK");
			} else {
				sim_mode_reset(sim);
				sim_send_line(sim, "OK");
			}
		} else if (c == 0x1b) {
			sim_log(sim, "> (ESC: prompt of %s cancelled)", sim->mode_cmd);
			sim_mode_reset(sim);
			sim_send_line(sim, "OK");
		} else {
			g_string_append_c(sim->mode_data, (char)c);
		}
		return;
	}
	/* data mode */
	if (sim->escape_timer) {
		/* a byte within the guard time after "+++": it was data after all */
		g_clear_handle_id(&sim->escape_timer, g_source_remove);
		sim->plus_count = 0;
	}
	if (c == '+' &&
	    (sim->plus_count > 0 || quiet_us >= (gint64)(sim_scaled_ms(sim, GUARD_MS) * 900)))
		sim->plus_count++;
	else
		sim->plus_count = 0;
	g_string_append_c(sim->mode_data, (char)c);
	if (sim->plus_count == 3)
		sim->escape_timer =
		        g_timeout_add((guint)sim_scaled_ms(sim, GUARD_MS), on_escape, sim);
}
