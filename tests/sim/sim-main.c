// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-sim: options, the pseudo-terminal, command line assembly (echo, sleep) and the power
 * states (reboot, power cut, boot).
 */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>
#include <curl/curl.h>

#define MAX_LINE 8192
#define REBOOT_MS 2000.0
#define POWER_OFF_MS 1000.0
#define BOOT_MS 300.0

double
sim_scaled_ms(Sim *sim, double ms)
{
	return ms * sim->time_scale;
}

/* ---- input ---- */

static gboolean on_master(gint fd, GIOCondition cond, gpointer data);

static gboolean
on_input_resume(gpointer data)
{
	Sim *sim = data;

	sim->input_resume_id = 0;
	sim_input_pause_until(sim, 0);
	return G_SOURCE_REMOVE;
}

/* Precise timers. GLib's own timeouts poll in whole milliseconds, too coarse for a byte at
 * 921600 baud. Every pending timer is a small GSource without fds whose check() compares
 * CLOCK_MONOTONIC in µs; one timerfd, shared by all of them and armed to the earliest
 * deadline, wakes the poll in time. Adding or removing a poll fd wakes the main context
 * (an eventfd write and one more loop round), so the timerfd stays in the poll set for the
 * life of the process and is only re-armed: a timer costs one timerfd_settime(), and its
 * firing one read(). */
typedef struct {
	GSource source;
	gint64 at_us;
} PreciseTimer;

static int precise_fd = -1;
static gint64 precise_armed_us = G_MAXINT64;

static void
precise_arm(gint64 at_us)
{
	struct itimerspec its = { 0 };

	if (at_us >= precise_armed_us)
		return;
	/* it_value 0 would disarm: a time already past fires at once */
	at_us = MAX(at_us, 1);
	its.it_value.tv_sec = at_us / G_USEC_PER_SEC;
	its.it_value.tv_nsec = (at_us % G_USEC_PER_SEC) * 1000;
	if (timerfd_settime(precise_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		g_error("timerfd_settime: %s", g_strerror(errno));
	precise_armed_us = at_us;
}

static gboolean
on_precise_fd(gint fd, GIOCondition cond, gpointer user_data)
{
	guint64 expirations;

	/* the timers due are dispatched by their own check(); those still pending re-arm in
	 * their prepare() */
	if (read(fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
		g_error("read timerfd: %s", g_strerror(errno));
	precise_armed_us = G_MAXINT64;
	return G_SOURCE_CONTINUE;
}

static gboolean
precise_prepare(GSource *source, gint *timeout)
{
	PreciseTimer *t = (PreciseTimer *)source;
	gint64 left = t->at_us - g_source_get_time(source);

	if (left <= 0)
		return TRUE;
	precise_arm(t->at_us);
	/* the timerfd wakes the poll in time; this bound only rounds up */
	*timeout = (gint)MIN((left + 999) / 1000, G_MAXINT);
	return FALSE;
}

static gboolean
precise_check(GSource *source)
{
	PreciseTimer *t = (PreciseTimer *)source;

	return g_get_monotonic_time() >= t->at_us;
}

static gboolean
precise_dispatch(GSource *source, GSourceFunc func, gpointer data)
{
	func(data); /* one-shot, whatever it returns */
	return G_SOURCE_REMOVE;
}

static GSourceFuncs precise_funcs = {
	precise_prepare, precise_check, precise_dispatch, NULL, NULL, NULL
};

guint
sim_timer_at(gint64 at_us, GSourceFunc func, gpointer data)
{
	GSource *source;
	guint id;

	if (precise_fd < 0) {
		GSource *watch;

		precise_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (precise_fd < 0)
			g_error("timerfd_create: %s", g_strerror(errno));
		/* recursive: GLib leaves a recursive source's fd in the poll set while it is
		 * dispatched instead of removing and re-adding it */
		watch = g_unix_fd_source_new(precise_fd, G_IO_IN);
		g_source_set_callback(watch, G_SOURCE_FUNC(on_precise_fd), NULL, NULL);
		g_source_set_can_recurse(watch, TRUE);
		g_source_set_static_name(watch, "sim-precise-timerfd");
		g_source_attach(watch, NULL);
		g_source_unref(watch);
	}
	source = g_source_new(&precise_funcs, sizeof(PreciseTimer));
	((PreciseTimer *)source)->at_us = at_us;
	g_source_set_callback(source, func, data, NULL);
	g_source_set_static_name(source, "sim-precise-timer");
	id = g_source_attach(source, NULL);
	g_source_unref(source);
	precise_arm(at_us);
	return id;
}

/* The pty master's input watch; recursive for the reason given above the precise timers. */
static guint
add_master_watch(Sim *sim)
{
	GSource *watch = g_unix_fd_source_new(sim->master_fd, G_IO_IN);
	guint id;

	g_source_set_callback(watch, G_SOURCE_FUNC(on_master), sim, NULL);
	g_source_set_can_recurse(watch, TRUE);
	id = g_source_attach(watch, NULL);
	g_source_unref(watch);
	return id;
}

void
sim_input_pause_until(Sim *sim, gint64 until_us)
{
	gint64 now = g_get_monotonic_time();

	g_clear_handle_id(&sim->input_resume_id, g_source_remove);
	if (sim->master_fd < 0)
		return;
	if (until_us <= now) {
		if (sim->master_watch == 0)
			sim->master_watch = add_master_watch(sim);
		return;
	}
	g_clear_handle_id(&sim->master_watch, g_source_remove);
	if (until_us != G_MAXINT64)
		sim->input_resume_id = sim_timer_at(until_us, on_input_resume, sim);
}

static gboolean
on_idle(gpointer data)
{
	Sim *sim = data;

	sim->idle_timer = 0;
	sim_sleep_now(sim);
	return G_SOURCE_REMOVE;
}

void
sim_idle_restart(Sim *sim)
{
	g_clear_handle_id(&sim->idle_timer, g_source_remove);
	if (sim->sleep_after_ms && !sim->dead && !sim->asleep)
		sim->idle_timer =
		        g_timeout_add((guint)sim_scaled_ms(sim, sim->sleep_after_ms), on_idle, sim);
}

void
sim_sleep_now(Sim *sim)
{
	if (sim->qsclk == 0 || sim->dead || sim->asleep || sim->upload)
		return;
	sim_send_line(sim, "+QATSLEEP");
	sim->asleep = TRUE;
}

static void
handle_line(Sim *sim, const char *line)
{
	sim_log(sim, "> %s", line);
	if (sim->dead || sim->silence)
		return;
	if (sim->asleep) {
		/* the first command only wakes the module up; its bytes are gone */
		sim->asleep = FALSE;
		sim_send_line(sim, "+QATWAKEUP");
		return;
	}
	if (sim->echo) {
		g_autofree char *echo = g_strdup_printf("%s\r", line);

		sim_write(sim, echo, strlen(echo));
		sim_log(sim, "< %s", line);
	}
	sim_at_execute(sim, line);
}

void
sim_feed_commands(Sim *sim, const guint8 *buf, gsize len)
{
	gint64 now = g_get_monotonic_time();
	gsize i;

	for (i = 0; i < len; i++) {
		guint8 c = buf[i];

		if (sim->upload) {
			sim_upload_feed(sim, buf + i, len - i, now);
			break;
		}
		if (sim->mode != SIM_MODE_COMMAND) {
			sim_mode_feed(sim, c, now);
			continue;
		}
		sim->last_input_us = now;
		if (c == '\r') {
			g_autofree char *line = g_strndup(sim->line->str, sim->line->len);

			g_string_truncate(sim->line, 0);
			handle_line(sim, line);
		} else if (c == '\n' || c == '\0') {
			continue;
		} else if (sim->line->len < MAX_LINE) {
			g_string_append_c(sim->line, (char)c);
		}
	}
	sim_idle_restart(sim);
}

static gboolean
on_master(gint fd, GIOCondition cond, gpointer data)
{
	Sim *sim = data;
	guint8 buf[4096];
	ssize_t n;

	if (sim->upload) {
		sim_upload_read(sim);
		return G_SOURCE_CONTINUE;
	}
	n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		g_warning("read pty master: %s", n < 0 ? g_strerror(errno) : "EOF");
		sim->master_watch = 0;
		return G_SOURCE_REMOVE;
	}
	sim_feed_commands(sim, buf, (gsize)n);
	return G_SOURCE_CONTINUE;
}

/* ---- power ---- */

static void
boot(Sim *sim)
{
	sim->dead = FALSE;
	sim->asleep = FALSE;
	sim->echo = TRUE;
	sim->cmee = 0;
	sim->qsclk = 1;
	sim->cereg_n = 0;
	sim->pdp_defined = FALSE;
	sim->pdp_active = FALSE;
	g_string_truncate(sim->line, 0);
	sim->radio_off = FALSE;
	sim_send_line(sim, "RDY");
	sim_identity_boot(sim);
	if (sim->field & SIM_FIELD_APP_RDY)
		sim_send_line(sim, "APP RDY");
	if (sim->forced_upgrade_pending) {
		if (sim->field & SIM_FIELD_APP_RDY)
			sim_send_line(sim, "Last upgrade was not finished,continue upgrade");
		sim_fota_forced_upgrade(sim);
	} else
		sim_send_line(sim, "+CPIN: READY");
	sim_idle_restart(sim);
}

static gboolean
on_power_timer(gpointer data)
{
	Sim *sim = data;

	sim->power_timer = 0;
	if (!sim->unplugged)
		boot(sim);
	return G_SOURCE_REMOVE;
}

static void
power_down(Sim *sim, gboolean power_cut)
{
	sim_fota_cancel(sim);
	sim_upload_abort(sim);
	sim_mode_reset(sim);
	sim->dead = TRUE;
	sim->asleep = FALSE;
	g_string_truncate(sim->line, 0);
	g_clear_handle_id(&sim->idle_timer, g_source_remove);
	g_clear_handle_id(&sim->app_rdy_timer, g_source_remove);
	g_clear_handle_id(&sim->power_timer, g_source_remove);
	if (power_cut) {
		/* what sat in the UART FIFO dies with the power */
		g_byte_array_set_size(sim->out, 0);
		sim->hold_until_us = 0;
		sim->hold_pos = 0;
		g_clear_handle_id(&sim->hold_timer, g_source_remove);
	}
}

void
sim_reboot(Sim *sim, gboolean power_cut)
{
	if (!power_cut && !sim->dead && (sim->field & SIM_FIELD_APP_RDY))
		sim_send_line(sim, "POWERED DOWN");
	power_down(sim, power_cut);
	sim->power_timer = g_timeout_add(
	        (guint)sim_scaled_ms(sim, power_cut ? POWER_OFF_MS + BOOT_MS : REBOOT_MS),
	        on_power_timer, sim);
}

/* ---- pseudo-terminal ---- */

static gboolean
on_inotify(gint fd, GIOCondition cond, gpointer data)
{
	Sim *sim = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(fd, buf, sizeof buf);
	ssize_t off = 0;

	while (n > 0 && off < n) {
		const struct inotify_event *ev = (const void *)(buf + off);

		if (ev->mask & IN_OPEN)
			sim->slave_opens++;
		if (ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) {
			/* TIOCEXCL outlives the daemon's close because we hold the slave open;
			 * clear it so that a restarted daemon can open the port again. */
			if (--sim->slave_opens <= 0) {
				sim->slave_opens = 0;
				if (sim->slave_fd >= 0)
					ioctl(sim->slave_fd, TIOCNXCL);
			}
		}
		off += (ssize_t)sizeof *ev + ev->len;
	}
	return G_SOURCE_CONTINUE;
}

gboolean
sim_pty_open(Sim *sim, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s.tmp%d", sim->link, (int)getpid());
	struct termios tio;
	struct stat st;
	char name[128];

	sim->master_fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (sim->master_fd < 0 || grantpt(sim->master_fd) < 0 || unlockpt(sim->master_fd) < 0 ||
	    ptsname_r(sim->master_fd, name, sizeof name) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "posix_openpt: %s",
		            g_strerror(errno));
		return FALSE;
	}
	fcntl(sim->master_fd, F_SETFD, FD_CLOEXEC);
	sim->slave_path = g_strdup(name);
	/* holding the slave keeps the master from reporting EIO/HUP while no daemon has it */
	sim->slave_fd = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (sim->slave_fd < 0 || tcgetattr(sim->slave_fd, &tio) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "open %s: %s", name,
		            g_strerror(errno));
		return FALSE;
	}
	cfmakeraw(&tio);
	tcsetattr(sim->slave_fd, TCSANOW, &tio);
	if (lstat(sim->link, &st) == 0 && !S_ISLNK(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
		            "%s exists and is not a symlink; not replacing it", sim->link);
		return FALSE;
	}
	unlink(tmp);
	if (symlink(name, tmp) < 0 || rename(tmp, sim->link) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "link %s: %s",
		            sim->link, g_strerror(errno));
		unlink(tmp);
		return FALSE;
	}
	sim->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	sim->slave_opens = 0;
	if (sim->inotify_fd >= 0 &&
	    inotify_add_watch(sim->inotify_fd, name, IN_OPEN | IN_CLOSE) >= 0)
		sim->inotify_watch = g_unix_fd_add(sim->inotify_fd, G_IO_IN, on_inotify, sim);
	sim->unplugged = FALSE;
	sim->master_watch = add_master_watch(sim);
	printf("READY %s\n", name);
	fflush(stdout);
	return TRUE;
}

static void
pty_close(Sim *sim)
{
	g_clear_handle_id(&sim->master_watch, g_source_remove);
	g_clear_handle_id(&sim->input_resume_id, g_source_remove);
	g_clear_handle_id(&sim->out_watch, g_source_remove);
	g_clear_handle_id(&sim->out_timer, g_source_remove);
	g_clear_handle_id(&sim->hold_timer, g_source_remove);
	g_clear_handle_id(&sim->inotify_watch, g_source_remove);
	if (sim->inotify_fd >= 0)
		close(sim->inotify_fd);
	if (sim->slave_fd >= 0)
		close(sim->slave_fd);
	if (sim->master_fd >= 0)
		close(sim->master_fd);
	sim->inotify_fd = sim->slave_fd = sim->master_fd = -1;
	g_byte_array_set_size(sim->out, 0);
	sim->hold_until_us = 0;
	sim->hold_pos = 0;
	if (sim->link)
		unlink(sim->link);
	g_clear_pointer(&sim->slave_path, g_free);
}

void
sim_unplug(Sim *sim)
{
	if (sim->unplugged)
		return;
	power_down(sim, TRUE);
	pty_close(sim);
	sim->unplugged = TRUE;
}

void
sim_replug(Sim *sim)
{
	g_autoptr(GError) error = NULL;

	if (!sim->unplugged)
		return;
	if (!sim_pty_open(sim, &error)) {
		g_warning("replug: %s", error->message);
		return;
	}
	sim->dead = TRUE;
	g_clear_handle_id(&sim->power_timer, g_source_remove);
	sim->power_timer = g_timeout_add((guint)sim_scaled_ms(sim, BOOT_MS), on_power_timer, sim);
}

/* ---- options and main ---- */

static gboolean
on_signal(gpointer data)
{
	Sim *sim = data;

	g_main_loop_quit(sim->loop);
	return G_SOURCE_CONTINUE;
}

static int
usage_error(const char *msg)
{
	g_printerr("dfota-sim: %s\n", msg);
	return 2;
}

static int run(Sim *sim, int argc, char **argv);

int
main(int argc, char **argv)
{
	Sim s = { 0 };
	int status = run(&s, argc, argv);

	g_free(s.link);
	g_free(s.model);
	g_free(s.revision);
	g_free(s.imei);
	g_free(s.log_path);
	g_free(s.control_path);
	g_strfreev(s.ufs_dirs);
	g_free(s.ati_urc);
	return status;
}

static int
run(Sim *sim, int argc, char **argv)
{
	g_autoptr(GOptionContext) octx = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *rat = NULL, *spelling = NULL, *flow = NULL, *power_cut = NULL;
	g_autofree char *field = NULL;
	g_autofree char *inject = NULL, *make_package = NULL, *from = NULL, *to = NULL;
	g_autofree char *checksum_style = NULL, *missing_file = NULL, *upload_stall = NULL;
	g_autofree char *identity_fail = NULL;
	int app_rdy = 0;
	gint64 max_package = 2097152, ufs_size = 4194304, payload_size = 20135;
	int baud = 0, rx_buffer = 256, ack_turnaround = 2, sleep_after = 0;
	gboolean corrupt = FALSE, noise = FALSE;
	GOptionEntry entries[] = {
		{ "link", 0, 0, G_OPTION_ARG_FILENAME, &sim->link, "symlink to the pty slave",
		  "PATH" },
		{ "model", 0, 0, G_OPTION_ARG_STRING, &sim->model, "BC65 or BC92", "MODEL" },
		{ "revision", 0, 0, G_OPTION_ARG_STRING, &sim->revision, "firmware revision",
		  "REV" },
		{ "rat", 0, 0, G_OPTION_ARG_STRING, &rat, "nb-iot or gsm (BC92 only)", "RAT" },
		{ "imei", 0, 0, G_OPTION_ARG_STRING, &sim->imei, "15 digits", "IMEI" },
		{ "unregistered", 0, 0, G_OPTION_ARG_NONE, &sim->unregistered, "not registered",
		  NULL },
		{ "no-ip", 0, 0, G_OPTION_ARG_NONE, &sim->no_ip, "registered but no IP", NULL },
		{ "baud", 0, 0, G_OPTION_ARG_INT, &baud, "line rate to honour (0: none)", "N" },
		{ "flow", 0, 0, G_OPTION_ARG_STRING, &flow, "none or rtscts", "FLOW" },
		{ "rx-buffer", 0, 0, G_OPTION_ARG_INT, &rx_buffer, "UART rx FIFO bytes", "BYTES" },
		{ "ack-turnaround", 0, 0, G_OPTION_ARG_INT, &ack_turnaround,
		  "flash write per block", "MS" },
		{ "time-scale", 0, 0, G_OPTION_ARG_DOUBLE, &sim->time_scale, "delay factor", "F" },
		{ "spelling", 0, 0, G_OPTION_ARG_STRING, &spelling, "clean or seed", "S" },
		{ "max-package", 0, 0, G_OPTION_ARG_INT64, &max_package, "largest package",
		  "BYTES" },
		{ "ufs-size", 0, 0, G_OPTION_ARG_INT64, &ufs_size, "UFS capacity", "BYTES" },
		{ "log", 0, 0, G_OPTION_ARG_FILENAME, &sim->log_path, "traffic log", "FILE" },
		{ "control", 0, 0, G_OPTION_ARG_FILENAME, &sim->control_path, "control FIFO",
		  "PATH" },
		{ "noise", 0, 0, G_OPTION_ARG_NONE, &noise, "noise from the start", NULL },
		{ "sleep-after", 0, 0, G_OPTION_ARG_INT, &sleep_after, "idle time before sleep",
		  "MS" },
		{ "power-cut", 0, 0, G_OPTION_ARG_STRING, &power_cut,
		  "updating:PCT|downloading:PCT", "P" },
		{ "field", 0, 0, G_OPTION_ARG_STRING, &field,
		  "field behaviours: no-downloading,no-start,no-end,unknown-states,app-rdy,"
		  "lost-download",
		  "LIST" },
		{ "inject-error", 0, 0, G_OPTION_ARG_STRING, &inject, "CODE:sync|httpend|end",
		  "E" },
		{ "make-package", 0, 0, G_OPTION_ARG_FILENAME, &make_package, "write a package",
		  "OUT" },
		{ "from", 0, 0, G_OPTION_ARG_STRING, &from, "package source revision", "REV" },
		{ "to", 0, 0, G_OPTION_ARG_STRING, &to, "package target revision", "REV" },
		{ "payload-size", 0, 0, G_OPTION_ARG_INT64, &payload_size, "package payload", "N" },
		{ "corrupt", 0, 0, G_OPTION_ARG_NONE, &corrupt, "break the package checksum",
		  NULL },
		{ "ufs-prefix", 0, 0, G_OPTION_ARG_NONE, &sim->ufs_prefix,
		  "list files as \"UFS:<name>\"", NULL },
		{ "ufs-dir", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sim->ufs_dirs,
		  "a directory entry AT+QFLST lists (repeatable)", "DIR/" },
		{ "checksum-style", 0, 0, G_OPTION_ARG_STRING, &checksum_style,
		  "lower (default), upper, padded or upper-padded", "S" },
		{ "missing-file", 0, 0, G_OPTION_ARG_STRING, &missing_file,
		  "answer for a missing file: a CME code (default 405) or error", "A" },
		{ "identity-fail", 0, 0, G_OPTION_ARG_STRING, &identity_fail,
		  "the first ATI/AT+CGMR/AT+CGSN after boot fail: cme14|error|partial|"
		  "manufacturer|silent, for N queries, N wall-clock seconds or until APP RDY",
		  "KIND:N|Ns|app" },
		{ "ati-urc", 0, 0, G_OPTION_ARG_STRING, &sim->ati_urc,
		  "an unsolicited line sent inside every ATI answer", "LINE" },
		{ "app-rdy", 0, 0, G_OPTION_ARG_INT, &app_rdy,
		  "send APP RDY this long (wall clock) after RDY and after the start", "MS" },
		{ "upload-stall", 0, 0, G_OPTION_ARG_STRING, &upload_stall,
		  "AT+QFUPL takes no bytes beyond K, then report|error|silent", "K[:END]" },
		{ NULL }
	};
	int status = 0;

	sim->time_scale = 1.0;
	octx = g_option_context_new("- simulated Quectel BC65/BC92 on a pseudo-terminal");
	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &error))
		return usage_error(error->message);
	if (argc > 1)
		return usage_error("unexpected argument");
	if (sim->model == NULL)
		sim->model = g_strdup("BC65");
	if (strcmp(sim->model, "BC65") != 0 && strcmp(sim->model, "BC92") != 0)
		return usage_error("--model must be BC65 or BC92");
	if (make_package) {
		if (!from || !to || payload_size < 0)
			return usage_error("--make-package needs --from and --to");
		return sim_make_package(make_package, sim->model, from, to, (gsize)payload_size,
		                        corrupt);
	}
	if (sim->link == NULL)
		return usage_error("--link PATH is required");
	if (sim->revision == NULL)
		sim->revision =
		        g_strdup(strcmp(sim->model, "BC92") == 0 ? "BC92JBR01A01" : "BC65JAR01A01");
	if (rat && strcmp(rat, "gsm") == 0 && strcmp(sim->model, "BC92") == 0)
		sim->gsm = TRUE;
	else if (rat && strcmp(rat, "nb-iot") != 0)
		return usage_error("--rat must be nb-iot, or gsm with --model BC92");
	if (sim->imei == NULL)
		sim->imei = g_strdup("866425030000001");
	if (strlen(sim->imei) != 15 || strspn(sim->imei, "0123456789") != 15)
		return usage_error("--imei must be 15 digits");
	if (spelling && strcmp(spelling, "seed") == 0)
		sim->seed_spelling = TRUE;
	else if (spelling && strcmp(spelling, "clean") != 0)
		return usage_error("--spelling must be clean or seed");
	if (flow && strcmp(flow, "rtscts") == 0)
		sim->flow_rtscts = TRUE;
	else if (flow && strcmp(flow, "none") != 0)
		return usage_error("--flow must be none or rtscts");
	if (baud < 0 || rx_buffer < 0 || ack_turnaround < 0 || sleep_after < 0 || max_package < 0 ||
	    ufs_size < 0 || !(sim->time_scale > 0))
		return usage_error("numeric options must not be negative (time-scale > 0)");
	sim->baud = (guint)baud;
	sim->rx_buffer = (guint)rx_buffer;
	sim->ack_turnaround_ms = (guint)ack_turnaround;
	sim->sleep_after_ms = (guint)sleep_after;
	sim->max_package = (gsize)max_package;
	sim->ufs_size = (gsize)ufs_size;
	if (power_cut) {
		g_auto(GStrv) p = g_strsplit(power_cut, ":", 2);

		if (!p[1] || !sim_parse_cut(sim, p[0], p[1]))
			return usage_error("--power-cut must be updating:PCT, downloading:PCT, "
			                   "start:0 or end:0");
	}
	if (field && !sim_parse_field(sim, field))
		return usage_error(
		        "--field takes no-downloading, no-start, no-end, "
		        "unknown-states, app-rdy and lost-download, separated by commas");
	if (inject) {
		g_auto(GStrv) p = g_strsplit(inject, ":", 2);

		if (!p[1] || !sim_parse_inject(sim, p[0], p[1]))
			return usage_error("--inject-error must be CODE:sync|httpend|end");
	}
	sim->missing_file_error = 405;
	if (checksum_style && !sim_parse_checksum_style(sim, checksum_style))
		return usage_error("--checksum-style must be lower, upper, padded or upper-padded");
	if (missing_file && !sim_parse_missing_file(sim, missing_file))
		return usage_error("--missing-file must be a CME code or error");
	if (identity_fail && !sim_parse_identity_fail(sim, identity_fail))
		return usage_error("--identity-fail must be KIND:N, KIND:Ns or KIND:app");
	if (app_rdy < 0)
		return usage_error("--app-rdy must not be negative");
	sim->app_rdy_ms = (guint)app_rdy;
	if (upload_stall && !sim_parse_upload_stall(sim, upload_stall))
		return usage_error("--upload-stall must be K or K:report|error|silent");
	for (guint i = 0; sim->ufs_dirs && sim->ufs_dirs[i]; i++) {
		if (!g_str_has_suffix(sim->ufs_dirs[i], "/"))
			return usage_error("--ufs-dir must end in /");
	}
	if (sim->log_path && (sim->log = fopen(sim->log_path, "ae")) == NULL)
		return usage_error(g_strerror(errno));

	/* a test harness may stop reading our stdout: control acks must not kill us */
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sim->loop = g_main_loop_new(NULL, FALSE);
	sim->rand = g_rand_new();
	sim->out = g_byte_array_new();
	sim->line = g_string_new(NULL);
	sim->master_fd = sim->slave_fd = sim->inotify_fd = -1;
	sim->control_fd = sim->control_wfd = -1;
	sim->echo = TRUE;
	sim->qsclk = 1;
	sim_ufs_clear(sim);
	if (!sim_control_open(sim, &error) || !sim_pty_open(sim, &error)) {
		g_printerr("dfota-sim: %s\n", error->message);
		status = 1;
		goto out;
	}
	sim_noise_set(sim, noise);
	sim_identity_boot(sim); /* the start counts as a boot for the identity options */
	sim_idle_restart(sim);
	g_unix_signal_add(SIGTERM, on_signal, sim);
	g_unix_signal_add(SIGINT, on_signal, sim);
	g_main_loop_run(sim->loop);
out:
	sim_fota_free(sim);
	sim_upload_abort(sim);
	sim_control_close(sim);
	if (sim->control_path && sim->control_line)
		unlink(sim->control_path);
	if (sim->control_line)
		g_string_free(sim->control_line, TRUE);
	if (!sim->unplugged)
		pty_close(sim);
	sim_noise_set(sim, FALSE);
	g_clear_handle_id(&sim->idle_timer, g_source_remove);
	g_clear_handle_id(&sim->power_timer, g_source_remove);
	g_clear_handle_id(&sim->app_rdy_timer, g_source_remove);
	g_ptr_array_unref(sim->files);
	g_byte_array_unref(sim->out);
	g_string_free(sim->line, TRUE);
	g_rand_free(sim->rand);
	g_main_loop_unref(sim->loop);
	if (sim->log)
		fclose(sim->log);
	curl_global_cleanup();
	return status;
}
