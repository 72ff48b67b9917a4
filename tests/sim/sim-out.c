// SPDX-License-Identifier: LGPL-2.1-or-later
/* What the module sends: the output queue (baud pacing, delayed answers), response framing,
 * and the traffic log.
 */
#include "sim.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define MAX_OUT (4u << 20)

void
sim_log(Sim *sim, const char *fmt, ...)
{
	va_list ap;

	if (sim->log == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(sim->log, fmt, ap);
	va_end(ap);
	fputc('\n', sim->log);
	fflush(sim->log);
}

/* ---- output queue ---- */

static void out_pump(Sim *sim);

static gboolean
on_out_ready(gint fd, GIOCondition cond, gpointer data)
{
	Sim *sim = data;

	sim->out_watch = 0;
	out_pump(sim);
	return G_SOURCE_REMOVE;
}

static gboolean
on_out_timer(gpointer data)
{
	Sim *sim = data;

	sim->out_timer = 0;
	out_pump(sim);
	return G_SOURCE_REMOVE;
}

static gboolean
on_hold_timer(gpointer data)
{
	Sim *sim = data;

	sim->hold_timer = 0;
	out_pump(sim);
	return G_SOURCE_REMOVE;
}

static void
out_pump(Sim *sim)
{
	gint64 now = g_get_monotonic_time();
	gsize allowed = sim->out->len;
	ssize_t n;

	if (sim->master_fd < 0 || sim->out_watch)
		return;
	if (sim->hold_until_us) {
		if (now >= sim->hold_until_us)
			sim->hold_until_us = 0;
		else
			allowed = MIN(allowed, sim->hold_pos);
	}
	if (sim->baud) {
		double rate = sim->baud / 10.0;

		sim->out_credit += (double)(now - sim->out_last_us) * rate / 1e6;
		sim->out_credit = MIN(sim->out_credit, rate * 0.02 + 1);
		sim->out_last_us = now;
		allowed = MIN(allowed, (gsize)sim->out_credit);
	}
	if (allowed > 0) {
		n = write(sim->master_fd, sim->out->data, allowed);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			g_warning("write pty master: %s", g_strerror(errno));
			n = 0;
		}
		if (n > 0) {
			g_byte_array_remove_range(sim->out, 0, (guint)n);
			sim->hold_pos = sim->hold_pos > (gsize)n ? sim->hold_pos - (gsize)n : 0;
			if (sim->baud)
				sim->out_credit -= (double)n;
		} else if (n < 0) {
			/* the pty is full (nobody reading the slave): wait until it drains */
			sim->out_watch = g_unix_fd_add(sim->master_fd, G_IO_OUT, on_out_ready, sim);
			return;
		}
	}
	if (sim->out->len == 0)
		return;
	if (sim->hold_until_us && sim->hold_pos == 0) {
		/* everything left belongs to the delayed answer */
		if (sim->hold_timer == 0)
			sim->hold_timer = sim_timer_at(sim->hold_until_us, on_hold_timer, sim);
		return;
	}
	if (sim->baud && sim->out_timer == 0) {
		/* Next write when the line has carried enough for the next piece (up to 1 ms of
		 * line time): a 6-byte "OK" at 921600 baud takes 65 us, not a timer tick. */
		double rate = sim->baud / 10.0;
		double piece = MIN((double)sim->out->len, MAX(1.0, rate / 1000));
		double wait_us = (piece - sim->out_credit) * 1e6 / rate;

		sim->out_timer = sim_timer_at(now + (gint64)MAX(wait_us, 0) + 1, on_out_timer, sim);
	} else if (!sim->baud && sim->out_watch == 0)
		sim->out_watch = g_unix_fd_add(sim->master_fd, G_IO_OUT, on_out_ready, sim);
}

void
sim_write(Sim *sim, const void *data, gsize len)
{
	if (sim->dead || sim->silence || sim->unplugged || len == 0)
		return;
	if (sim->out->len + len > MAX_OUT) {
		g_warning("output queue full (nobody reads the pty?): dropping %zu bytes", len);
		return;
	}
	if (sim->out->len == 0 && sim->baud) {
		sim->out_last_us = g_get_monotonic_time();
		sim->out_credit = 1;
	}
	g_byte_array_append(sim->out, data, (guint)len);
	out_pump(sim);
}

void
sim_release_output(Sim *sim)
{
	if (!sim->hold_until_us)
		return;
	sim->hold_until_us = 0;
	sim->hold_pos = 0;
	g_clear_handle_id(&sim->hold_timer, g_source_remove);
	out_pump(sim);
}

void
sim_hold_output(Sim *sim, int ms)
{
	sim->hold_pos = sim->out->len;
	sim->hold_until_us = g_get_monotonic_time() + (gint64)ms * 1000;
}

void
sim_send_line(Sim *sim, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	g_autofree char *framed = NULL;
	va_list ap;

	if (sim->dead || sim->silence || sim->unplugged)
		return;
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (sim->chain_hold_ok) {
		if (strcmp(text, "OK") == 0) {
			/* a module answers a chained line with one final result */
			sim->chain_final = 1;
			sim_log(sim, "  (OK of a chained command, held back)");
			return;
		}
		if (strcmp(text, "ERROR") == 0 || g_str_has_prefix(text, "+CME ERROR"))
			sim->chain_final = 2;
	}
	if (sim->noise && sim->upload == NULL && g_rand_int_range(sim->rand, 0, 3) == 0)
		sim_noise_emit(sim);
	framed = g_strdup_printf("\r\n%s\r\n", text);
	sim_write(sim, framed, strlen(framed));
	sim_log(sim, "< %s", text);
}

void
sim_send_error(Sim *sim, int code)
{
	if (sim->cmee == 0)
		sim_send_line(sim, "ERROR");
	else
		sim_send_line(sim, "+CME ERROR: %d", code);
}
