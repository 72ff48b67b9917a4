// SPDX-License-Identifier: LGPL-2.1-or-later
/* Fault injection: the control FIFO (one command per line, acknowledged on stdout as
 * "OK <command>" or "ERROR <command>" so that a test can wait for it), line noise, and the
 * parsers shared with the command-line options.
 */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const noise_urcs[] = {
	"+CEREG: 1",
	"+CSCON: 0",
	"+CSCON: 1",
	"+QNBIOTEVENT: \"ENTER PSM\"",
	"+QNBIOTEVENT: \"EXIT PSM\"",
	"+CTZEV: \"+32\",0",
	"+QIND: \"SIM\",\"READY\"",
};

gboolean
sim_parse_inject(Sim *sim, const char *code, const char *kind)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(code, 10, 1, 99999, &v, NULL))
		return FALSE;
	if (strcmp(kind, "sync") == 0)
		sim->inject_kind = SIM_INJECT_SYNC;
	else if (strcmp(kind, "httpend") == 0)
		sim->inject_kind = SIM_INJECT_HTTPEND;
	else if (strcmp(kind, "end") == 0)
		sim->inject_kind = SIM_INJECT_END;
	else
		return FALSE;
	sim->inject_code = (int)v;
	return TRUE;
}

gboolean
sim_parse_field(Sim *sim, const char *list)
{
	static const struct {
		const char *name;
		SimField bit;
	} names[] = {
		{ "no-downloading", SIM_FIELD_NO_DOWNLOADING },
		{ "no-start", SIM_FIELD_NO_START },
		{ "no-end", SIM_FIELD_NO_END },
		{ "unknown-states", SIM_FIELD_UNKNOWN_STATES },
		{ "app-rdy", SIM_FIELD_APP_RDY },
		{ "lost-download", SIM_FIELD_LOST_DOWNLOAD },
	};
	g_auto(GStrv) words = g_strsplit(list, ",", -1);
	guint field = 0;

	for (guint i = 0; words[i]; i++) {
		guint j;

		if (strcmp(words[i], "none") == 0)
			continue;
		for (j = 0; j < G_N_ELEMENTS(names); j++)
			if (strcmp(words[i], names[j].name) == 0)
				break;
		if (j == G_N_ELEMENTS(names))
			return FALSE;
		field |= names[j].bit;
	}
	sim->field = field;
	return TRUE;
}

gboolean
sim_parse_cut(Sim *sim, const char *phase, const char *pct)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(pct, 10, 0, 100, &v, NULL))
		return FALSE;
	if (strcmp(phase, "updating") == 0)
		sim->cut_phase = SIM_PHASE_UPDATING;
	else if (strcmp(phase, "downloading") == 0)
		sim->cut_phase = SIM_PHASE_DOWNLOADING;
	else if (strcmp(phase, "start") == 0)
		sim->cut_phase = SIM_PHASE_AT_START;
	else if (strcmp(phase, "end") == 0)
		sim->cut_phase = SIM_PHASE_AT_END;
	else
		return FALSE;
	sim->cut_pct = (int)v;
	return TRUE;
}

/* ---- noise ---- */

void
sim_noise_emit(Sim *sim)
{
	static const char garbage[] = "abcdefghijklmnopqrstuvwxyz0123456789#~^_;:!";
	g_autoptr(GString) s = g_string_new(NULL);
	int len;
	int i;

	switch (g_rand_int_range(sim->rand, 0, 4)) {
	case 0:
		len = g_rand_int_range(sim->rand, 6, 40);
		g_string_append(s, "\r\n");
		for (i = 0; i < len; i++)
			g_string_append_c(
			        s, garbage[g_rand_int_range(sim->rand, 0, sizeof garbage - 1)]);
		g_string_append(s, "\r\n");
		break;
	case 1:
		len = g_rand_int_range(sim->rand, 1, 5);
		for (i = 0; i < len; i++)
			g_string_append_c(s, '\0');
		break;
	case 2:
		len = g_rand_int_range(sim->rand, 5001, 6000);
		g_string_append(s, "\r\n");
		for (i = 0; i < len; i++)
			g_string_append_c(s, garbage[i % (sizeof garbage - 1)]);
		g_string_append(s, "\r\n");
		break;
	default:
		g_string_append_printf(
		        s, "\r\n%s\r\n",
		        noise_urcs[g_rand_int_range(sim->rand, 0, G_N_ELEMENTS(noise_urcs))]);
		break;
	}
	sim_write(sim, s->str, s->len);
	sim_log(sim, "< [noise %zu bytes]", s->len);
}

static gboolean
on_noise(gpointer data)
{
	Sim *sim = data;

	sim->noise_timer = 0;
	if (!sim->noise)
		return G_SOURCE_REMOVE;
	if (sim->upload == NULL)
		sim_noise_emit(sim);
	sim->noise_timer =
	        g_timeout_add((guint)g_rand_int_range(sim->rand, 20, 150), on_noise, sim);
	return G_SOURCE_REMOVE;
}

void
sim_noise_set(Sim *sim, gboolean on)
{
	sim->noise = on;
	g_clear_handle_id(&sim->noise_timer, g_source_remove);
	if (on)
		sim->noise_timer = g_timeout_add(20, on_noise, sim);
}

/* ---- control FIFO ---- */

static gboolean
on_off(const char *arg, gboolean *out)
{
	if (g_strcmp0(arg, "on") == 0)
		*out = TRUE;
	else if (g_strcmp0(arg, "off") == 0)
		*out = FALSE;
	else
		return FALSE;
	return TRUE;
}

static gboolean
control_execute(Sim *sim, const char *line)
{
	g_auto(GStrv) w = g_strsplit_set(line, " \t", 3);
	guint n = g_strv_length(w);
	gboolean flag;
	guint64 v;

	if (n == 0)
		return FALSE;
	if (strcmp(w[0], "urc") == 0 && n >= 2) {
		sim_send_line(sim, "%s", line + 4);
	} else if (strcmp(w[0], "error") == 0 && n == 3) {
		return sim_parse_inject(sim, w[1], w[2]);
	} else if (strcmp(w[0], "powercut") == 0 && n == 2 && strcmp(w[1], "now") == 0) {
		sim_reboot(sim, TRUE);
	} else if (strcmp(w[0], "powercut") == 0 && n == 3) {
		return sim_parse_cut(sim, w[1], w[2]);
	} else if (strcmp(w[0], "field") == 0 && n == 2) {
		return sim_parse_field(sim, w[1]);
	} else if (strcmp(w[0], "cfun") == 0 && n == 2 &&
	           (strcmp(w[1], "0") == 0 || strcmp(w[1], "1") == 0)) {
		/* as AT+CFUN=<n> typed on the module's other port */
		sim->radio_off = strcmp(w[1], "0") == 0;
	} else if (strcmp(w[0], "reboot") == 0 && n == 1) {
		sim_reboot(sim, FALSE);
	} else if (strcmp(w[0], "unplug") == 0 && n == 1) {
		sim_unplug(sim);
	} else if (strcmp(w[0], "replug") == 0 && n == 1) {
		sim_replug(sim);
	} else if (strcmp(w[0], "silence") == 0 && n == 2 && on_off(w[1], &flag)) {
		sim->silence = flag;
	} else if (strcmp(w[0], "noise") == 0 && n == 2 && on_off(w[1], &flag)) {
		sim_noise_set(sim, flag);
	} else if (strcmp(w[0], "delay") == 0 && n == 2 &&
	           g_ascii_string_to_unsigned(w[1], 10, 0, 3600000, &v, NULL)) {
		sim->delay_next_ms = (int)v;
	} else if (strcmp(w[0], "hold") == 0 && n == 2 &&
	           /* "hold start": the next accepted AT+QFOTADL gets its OK, then its job
	            * waits for "release"; "hold ok": the OK (all output) waits too. A restart
	            * of the module ends the hold, and the held job with it. */
	           (strcmp(w[1], "start") == 0 || strcmp(w[1], "ok") == 0)) {
		sim->hold_fota = strcmp(w[1], "ok") == 0 ? SIM_HOLD_OK : SIM_HOLD_START;
	} else if (strcmp(w[0], "release") == 0 && n == 1) {
		sim_fota_release(sim);
	} else if (strcmp(w[0], "identity-fail") == 0 && n == 2) {
		return sim_parse_identity_fail(sim, w[1]);
	} else if (strcmp(w[0], "sleep") == 0 && n == 1) {
		if (sim->qsclk == 0)
			return FALSE; /* the module is held awake: say so instead of pretending */
		sim_sleep_now(sim);
	} else {
		return FALSE;
	}
	return TRUE;
}

static gboolean on_control(gint fd, GIOCondition cond, gpointer data);

static gboolean
control_reopen(Sim *sim, GError **error)
{
	sim_control_close(sim);
	sim->control_fd = open(sim->control_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (sim->control_fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "open %s: %s",
		            sim->control_path, g_strerror(errno));
		return FALSE;
	}
	/* our own writer keeps the FIFO from reporting EOF (and spinning) between clients */
	sim->control_wfd = open(sim->control_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	sim->control_watch = g_unix_fd_add(sim->control_fd, G_IO_IN | G_IO_HUP, on_control, sim);
	return TRUE;
}

static gboolean
on_control(gint fd, GIOCondition cond, gpointer data)
{
	Sim *sim = data;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof buf);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		g_autoptr(GError) error = NULL;

		sim->control_watch = 0;
		if (!control_reopen(sim, &error))
			g_warning("control: %s", error->message);
		return G_SOURCE_REMOVE;
	}
	g_string_append_len(sim->control_line, buf, n);
	while ((nl = memchr(sim->control_line->str, '\n', sim->control_line->len)) != NULL) {
		g_autofree char *line = g_strstrip(
		        g_strndup(sim->control_line->str, (gsize)(nl - sim->control_line->str)));

		g_string_erase(sim->control_line, 0, nl - sim->control_line->str + 1);
		if (*line == '\0')
			continue;
		printf("%s %s\n", control_execute(sim, line) ? "OK" : "ERROR", line);
		fflush(stdout);
	}
	if (sim->control_line->len > 4096)
		g_string_truncate(sim->control_line, 0);
	return G_SOURCE_CONTINUE;
}

gboolean
sim_control_open(Sim *sim, GError **error)
{
	struct stat st;

	if (sim->control_path == NULL)
		return TRUE;
	sim->control_line = g_string_new(NULL);
	if (lstat(sim->control_path, &st) == 0 && !S_ISFIFO(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s exists and is not a FIFO",
		            sim->control_path);
		return FALSE;
	}
	if (lstat(sim->control_path, &st) < 0 && mkfifo(sim->control_path, 0600) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mkfifo %s: %s",
		            sim->control_path, g_strerror(errno));
		return FALSE;
	}
	return control_reopen(sim, error);
}

void
sim_control_close(Sim *sim)
{
	g_clear_handle_id(&sim->control_watch, g_source_remove);
	if (sim->control_fd >= 0)
		close(sim->control_fd);
	if (sim->control_wfd >= 0)
		close(sim->control_wfd);
	sim->control_fd = sim->control_wfd = -1;
}
