// SPDX-License-Identifier: LGPL-2.1-or-later
/* The module's user file system (in memory) and its file commands: AT+QFLDS, AT+QFLST,
 * AT+QFDEL, AT+QFUPL (with the UART receive model that makes the ack mode testable) and
 * AT+QFDWL.
 *
 * Receive model during AT+QFUPL: every byte gets a virtual arrival time (the time it was read,
 * or with --baud N the time the wire, at N/10 bytes/s, delivers it). After each complete
 * 1024-byte block the module is busy writing flash for --ack-turnaround ms. With flow none,
 * bytes arriving while busy go to an rx FIFO of --rx-buffer bytes and the rest are lost, as on
 * a UART without flow control. With flow rtscts the simulator stops reading the pty while busy
 * (and never reads past a block or faster than the line), so the pty's buffer pushes back on
 * the writer like CTS and nothing is lost. The 'A' of a block and the final +QFUPL go out at
 * their virtual times.
 *
 * Field behaviours, as options: "UFS:" in front of listed names (--ufs-prefix), directory
 * entries in the list (--ufs-dir), checksum spellings (--checksum-style), the answer to a
 * command on a missing file (--missing-file: a CME code or a bare ERROR), and an upload that
 * stops taking bytes after K of them (--upload-stall K[:report|error|silent]: no more acks, the
 * rest swallowed; when the module's own <timeout_s> of silence runs out it reports the short
 * file, answers +CME ERROR: 421, or goes back to command mode without a word).
 */
#include "sim.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_UPL_TIMEOUT_S 5

typedef struct {
	gint64 at_us;
	gboolean finish;
} UplEvent;

struct _SimUpload {
	char *name;
	gsize size;
	guint timeout_s;
	gboolean ackmode;
	GByteArray *data;
	gsize block_fill;
	gint64 busy_until;
	double wire_free; /* us: when the line has carried every byte read so far */
	guint held;
	gsize wire_bytes;
	gsize lost;
	gboolean complete;
	GQueue events;
	guint event_timer;
	guint timeout_timer;
};

/* The line's free time rounded up to the microsecond of the clock. */
static gint64
wire_free_us(const SimUpload *u)
{
	gint64 t = (gint64)u->wire_free;

	return (double)t < u->wire_free ? t + 1 : t;
}

gsize
sim_ufs_used(Sim *sim)
{
	gsize used = 0;
	guint i;

	for (i = 0; i < sim->files->len; i++)
		used += g_bytes_get_size(((SimFile *)sim->files->pdata[i])->data);
	return used;
}

gsize
sim_ufs_free(Sim *sim)
{
	gsize used = sim_ufs_used(sim);

	return used >= sim->ufs_size ? 0 : sim->ufs_size - used;
}

SimFile *
sim_ufs_find(Sim *sim, const char *name)
{
	guint i;

	for (i = 0; i < sim->files->len; i++) {
		SimFile *f = sim->files->pdata[i];

		if (strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

static void
file_free(gpointer data)
{
	SimFile *f = data;

	g_free(f->name);
	g_bytes_unref(f->data);
	g_free(f);
}

static void
ufs_delete(Sim *sim, const char *name)
{
	SimFile *f = sim_ufs_find(sim, name);

	if (f)
		g_ptr_array_remove(sim->files, f);
}

gboolean
sim_ufs_store(Sim *sim, const char *name, GBytes *data)
{
	SimFile *old = sim_ufs_find(sim, name);
	gsize room = sim_ufs_free(sim) + (old ? g_bytes_get_size(old->data) : 0);
	SimFile *f;

	if (g_bytes_get_size(data) > room)
		return FALSE;
	ufs_delete(sim, name);
	f = g_new0(SimFile, 1);
	f->name = g_strdup(name);
	f->data = g_bytes_ref(data);
	g_ptr_array_add(sim->files, f);
	return TRUE;
}

void
sim_ufs_clear(Sim *sim)
{
	if (sim->files == NULL)
		sim->files = g_ptr_array_new_with_free_func(file_free);
	g_ptr_array_set_size(sim->files, 0);
}

gboolean
sim_upload_active(Sim *sim)
{
	return sim->upload != NULL;
}

static void
upload_free(SimUpload *u)
{
	g_clear_handle_id(&u->event_timer, g_source_remove);
	g_clear_handle_id(&u->timeout_timer, g_source_remove);
	g_queue_clear_full(&u->events, g_free);
	g_byte_array_unref(u->data);
	g_free(u->name);
	g_free(u);
}

void
sim_upload_abort(Sim *sim)
{
	if (sim->upload == NULL)
		return;
	upload_free(g_steal_pointer(&sim->upload));
	sim_input_pause_until(sim, 0);
}

void
sim_ufs_send_transfer_result(Sim *sim, const char *prefix, gsize size, guint16 sum)
{
	g_autofree char *hex = NULL;

	switch (sim->checksum_style) {
	case SIM_CHECKSUM_UPPER:
		hex = g_strdup_printf("%X", sum);
		break;
	case SIM_CHECKSUM_PADDED:
		hex = g_strdup_printf("%04x", sum);
		break;
	case SIM_CHECKSUM_UPPER_PADDED:
		hex = g_strdup_printf("%04X", sum);
		break;
	default:
		hex = g_strdup_printf("%x", sum);
		break;
	}
	sim_send_line(sim, "%s %zu,%s", prefix, size, hex);
}

static void
send_missing(Sim *sim)
{
	if (sim->missing_file_error == 0)
		sim_send_line(sim, "ERROR");
	else
		sim_send_error(sim, sim->missing_file_error);
}

static gboolean
stalled(Sim *sim, SimUpload *u)
{
	return sim->upload_stall > 0 && u->data->len < u->size;
}

static void
upload_finish(Sim *sim)
{
	SimUpload *u = g_steal_pointer(&sim->upload);
	g_autoptr(GBytes) bytes = g_bytes_new(u->data->data, u->data->len);

	sim_log(sim, "> [data %zu bytes]", u->wire_bytes);
	if (u->lost)
		g_message("QFUPL %s: %zu bytes lost (host did not wait for the acks)", u->name,
		          u->lost);
	if (stalled(sim, u) && sim->upload_stall_end == SIM_STALL_ERROR) {
		sim_send_error(sim, 421);
	} else if (stalled(sim, u) && sim->upload_stall_end == SIM_STALL_SILENT) {
		sim_log(sim, "(QFUPL stalled: back in command mode without a word)");
	} else {
		sim_ufs_store(sim, u->name, bytes);
		sim_ufs_send_transfer_result(sim, "+QFUPL:", u->data->len,
		                             sim_xor16(u->data->data, u->data->len));
		sim_send_line(sim, "OK");
	}
	upload_free(u);
	sim_input_pause_until(sim, 0);
}

gboolean
sim_parse_upload_stall(Sim *sim, const char *spec)
{
	g_auto(GStrv) p = g_strsplit(spec, ":", 2);
	guint64 k;

	if (!g_ascii_string_to_unsigned(p[0], 10, 1, G_MAXUINT32, &k, NULL))
		return FALSE;
	if (p[1] == NULL || strcmp(p[1], "report") == 0)
		sim->upload_stall_end = SIM_STALL_REPORT;
	else if (strcmp(p[1], "error") == 0)
		sim->upload_stall_end = SIM_STALL_ERROR;
	else if (strcmp(p[1], "silent") == 0)
		sim->upload_stall_end = SIM_STALL_SILENT;
	else
		return FALSE;
	sim->upload_stall = (gsize)k;
	return TRUE;
}

gboolean
sim_parse_checksum_style(Sim *sim, const char *style)
{
	static const char *const names[] = { "lower", "upper", "padded", "upper-padded" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		if (strcmp(style, names[i]) == 0) {
			sim->checksum_style = (int)i;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
sim_parse_missing_file(Sim *sim, const char *answer)
{
	guint64 code;

	if (strcmp(answer, "error") == 0) {
		sim->missing_file_error = 0;
		return TRUE;
	}
	if (!g_ascii_string_to_unsigned(answer, 10, 1, 65535, &code, NULL))
		return FALSE;
	sim->missing_file_error = (int)code;
	return TRUE;
}

static gboolean run_events(gpointer data);

static void
schedule_events(Sim *sim)
{
	SimUpload *u = sim->upload;
	UplEvent *head = g_queue_peek_head(&u->events);
	if (u->event_timer || head == NULL)
		return;
	u->event_timer = sim_timer_at(head->at_us, run_events, sim);
}

static gboolean
run_events(gpointer data)
{
	Sim *sim = data;
	SimUpload *u = sim->upload;
	gint64 now = g_get_monotonic_time();
	UplEvent *ev;

	u->event_timer = 0;
	while ((ev = g_queue_peek_head(&u->events)) && ev->at_us <= now) {
		gboolean finish = ev->finish;

		g_free(g_queue_pop_head(&u->events));
		if (finish) {
			upload_finish(sim);
			return G_SOURCE_REMOVE;
		}
		sim_write(sim, "A", 1);
		sim_log(sim, "< A");
	}
	schedule_events(sim);
	return G_SOURCE_REMOVE;
}

static void
push_event(SimUpload *u, gint64 at, gboolean finish)
{
	UplEvent *ev = g_new0(UplEvent, 1);

	ev->at_us = at;
	ev->finish = finish;
	g_queue_push_tail(&u->events, ev);
}

static void
accept_byte(Sim *sim, SimUpload *u, guint8 b, gint64 at)
{
	gint64 ta = (gint64)sim->ack_turnaround_ms * 1000;

	g_byte_array_append(u->data, &b, 1);
	if (++u->block_fill == SIM_BLOCK) {
		u->block_fill = 0;
		u->busy_until = at + ta;
		u->held = 0;
		if (u->ackmode)
			push_event(u, u->busy_until, FALSE);
		at = u->busy_until;
	}
	if (u->data->len == u->size) {
		u->complete = TRUE;
		push_event(u, at, TRUE);
	}
}

static gboolean
upload_timeout(gpointer data)
{
	Sim *sim = data;

	sim->upload->timeout_timer = 0;
	g_message("QFUPL: no byte for %u s, storing %u of %zu bytes", sim->upload->timeout_s,
	          sim->upload->data->len, sim->upload->size);
	upload_finish(sim);
	return G_SOURCE_REMOVE;
}

void
sim_upload_feed(Sim *sim, const guint8 *buf, gsize len, gint64 now)
{
	SimUpload *u = sim->upload;
	/* 10 bits per byte; fractional (10.85 us at 921600 baud): truncating it would make the
	 * simulated line faster than the real one */
	double byte_us = sim->baud ? 1e7 / sim->baud : 0;
	gsize i;

	u->wire_bytes += len;
	if (!u->complete) {
		g_clear_handle_id(&u->timeout_timer, g_source_remove);
		u->timeout_timer = g_timeout_add_seconds(u->timeout_s, upload_timeout, sim);
	}
	for (i = 0; i < len && !u->complete; i++) {
		gint64 arrival = now;

		if (sim->upload_stall && u->data->len >= sim->upload_stall) {
			u->lost++; /* stuck: swallowed, never acknowledged */
			continue;
		}

		if (byte_us) {
			u->wire_free = MAX(u->wire_free, (double)now) + byte_us;
			arrival = wire_free_us(u);
		}
		if (arrival >= u->busy_until)
			accept_byte(sim, u, buf[i], arrival);
		else if (u->held < sim->rx_buffer) {
			u->held++;
			accept_byte(sim, u, buf[i], u->busy_until);
		} else
			u->lost++;
	}
	if (u->complete)
		g_clear_handle_id(&u->timeout_timer, g_source_remove);
	schedule_events(sim);
}

void
sim_upload_read(Sim *sim)
{
	SimUpload *u = sim->upload;
	gint64 now = g_get_monotonic_time();
	guint8 buf[4096];
	gsize max = sizeof buf;
	ssize_t n;

	if (sim->flow_rtscts) {
		gint64 until = MAX(u->busy_until, wire_free_us(u));

		if (u->complete) {
			sim_input_pause_until(sim, G_MAXINT64);
			return;
		}
		if (now < until) {
			sim_input_pause_until(sim, until);
			return;
		}
		max = MIN(max, SIM_BLOCK - u->block_fill);
		max = MIN(max, u->size - u->data->len);
		if (sim->baud)
			max = MIN(max, MAX(1u, sim->baud / 10 / 50)); /* 20 ms of line time */
	}
	n = read(sim->master_fd, buf, max);
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			g_warning("read pty master: %s", g_strerror(errno));
		return;
	}
	sim_upload_feed(sim, buf, (gsize)n, now);
	if (sim->flow_rtscts && sim->upload) {
		gint64 until = MAX(u->busy_until, wire_free_us(u));

		if (u->complete)
			sim_input_pause_until(sim, G_MAXINT64);
		else if (until > now)
			sim_input_pause_until(sim, until);
	}
}

static gboolean
parse_name_arg(Sim *sim, const char *tail, char ***args_out, guint min, guint max)
{
	gboolean ok = FALSE;
	char **args;

	if (tail[0] != '=' || (args = sim_at_split_args(tail + 1, &ok)) == NULL)
		return FALSE;
	if (!ok || g_strv_length(args) < min || g_strv_length(args) > max || !*args[0]) {
		g_strfreev(args);
		return FALSE;
	}
	*args_out = args;
	return TRUE;
}

static void
cmd_qfupl(Sim *sim, const char *tail)
{
	g_auto(GStrv) args = NULL;
	SimFile *old;
	SimUpload *u;
	guint64 size;
	guint64 timeout_s = DEFAULT_UPL_TIMEOUT_S;
	guint64 ackmode = 0;

	if (!parse_name_arg(sim, tail, &args, 2, 4) ||
	    !g_ascii_string_to_unsigned(args[1], 10, 0, G_MAXUINT32, &size, NULL) ||
	    (args[2] && !g_ascii_string_to_unsigned(args[2], 10, 1, 3600, &timeout_s, NULL)) ||
	    (args[2] && args[3] &&
	     !g_ascii_string_to_unsigned(args[3], 10, 0, 1, &ackmode, NULL))) {
		sim_send_error(sim, 421);
		return;
	}
	old = sim_ufs_find(sim, args[0]);
	if (size > sim_ufs_free(sim) + (old ? g_bytes_get_size(old->data) : 0)) {
		sim_send_error(sim, 419);
		return;
	}
	u = g_new0(SimUpload, 1);
	u->name = g_strdup(args[0]);
	u->size = (gsize)size;
	u->timeout_s = (guint)timeout_s;
	u->ackmode = ackmode == 1;
	u->data = g_byte_array_new();
	g_queue_init(&u->events);
	sim->upload = u;
	sim_send_line(sim, "CONNECT");
	if (size == 0) {
		u->complete = TRUE;
		push_event(u, g_get_monotonic_time(), TRUE);
		schedule_events(sim);
		return;
	}
	u->timeout_timer = g_timeout_add_seconds(u->timeout_s, upload_timeout, sim);
}

void
sim_ufs_command(Sim *sim, const char *cmd, const char *tail)
{
	g_auto(GStrv) args = NULL;
	SimFile *f;
	guint i;

	if (strcmp(cmd, "QFLDS") == 0) {
		if (!parse_name_arg(sim, tail, &args, 1, 1) || g_ascii_strcasecmp(args[0], "UFS")) {
			sim_send_error(sim, 421);
			return;
		}
		sim_send_line(sim, "+QFLDS: %zu,%zu", sim_ufs_free(sim), sim->ufs_size);
		sim_send_line(sim, "OK");
	} else if (strcmp(cmd, "QFLST") == 0) {
		const char *drive = sim->ufs_prefix ? "UFS:" : "";

		if (*tail == '\0') {
			for (i = 0; sim->ufs_dirs && sim->ufs_dirs[i]; i++)
				sim_send_line(sim, "+QFLST: \"%s%s\",0", drive, sim->ufs_dirs[i]);
			for (i = 0; i < sim->files->len; i++) {
				f = sim->files->pdata[i];
				sim_send_line(sim, "+QFLST: \"%s%s\",%zu", drive, f->name,
				              g_bytes_get_size(f->data));
			}
		} else if (!parse_name_arg(sim, tail, &args, 1, 1)) {
			sim_send_error(sim, 421);
			return;
		} else if ((f = sim_ufs_find(sim, args[0])) == NULL) {
			send_missing(sim);
			return;
		} else {
			sim_send_line(sim, "+QFLST: \"%s%s\",%zu", drive, f->name,
			              g_bytes_get_size(f->data));
		}
		sim_send_line(sim, "OK");
	} else if (strcmp(cmd, "QFDEL") == 0) {
		if (!parse_name_arg(sim, tail, &args, 1, 1)) {
			sim_send_error(sim, 421);
		} else if (strcmp(args[0], "*") == 0) {
			sim_ufs_clear(sim);
			sim_send_line(sim, "OK");
		} else if (sim_ufs_find(sim, args[0]) == NULL) {
			send_missing(sim);
		} else {
			ufs_delete(sim, args[0]);
			sim_send_line(sim, "OK");
		}
	} else if (strcmp(cmd, "QFUPL") == 0) {
		cmd_qfupl(sim, tail);
	} else if (strcmp(cmd, "QFDWL") == 0) {
		gsize len;
		const guint8 *data;

		if (!parse_name_arg(sim, tail, &args, 1, 1)) {
			sim_send_error(sim, 421);
			return;
		}
		if ((f = sim_ufs_find(sim, args[0])) == NULL) {
			send_missing(sim);
			return;
		}
		data = g_bytes_get_data(f->data, &len);
		sim_send_line(sim, "CONNECT");
		sim_write(sim, data, len);
		sim_log(sim, "< [data %zu bytes]", len);
		sim_ufs_send_transfer_result(sim, "+QFDWL:", len, sim_xor16(data, len));
		sim_send_line(sim, "OK");
	}
}
