// SPDX-License-Identifier: LGPL-2.1-or-later
/* fault-helpers.h: what the restart, fault, load and soak tests need beyond harness.h:
 * killing and restarting the daemon on the same state directory, its PID (for /proc
 * figures), and waits on Progress signals.
 *
 * Header-only (static functions) because each integration test is built from one source
 * file; it reaches into the harness's private struct for the daemon's process, which the
 * public harness API does not expose.
 */
#pragma once

#include "harness-private.h"

/* @v printed for a log message; the string lives until the next call (tests log one at a time). */
static inline const char *
fh_printed(GVariant *v)
{
	static char *last;

	g_free(last);
	last = v ? g_variant_print(v, TRUE) : g_strdup("(null)");
	return last;
}

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

G_GNUC_UNUSED static const char *
fh_require_env(const char *name)
{
	const char *value = g_getenv(name);

	if (value == NULL || *value == '\0')
		g_error("%s is not set: run the integration tests with `meson test`", name);
	return value;
}

static void
fh_child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
fh_proc_alive(GSubprocess *proc)
{
	return proc != NULL && g_subprocess_get_identifier(proc) != NULL;
}

static gboolean
fh_cond_name(Harness *h, gpointer data)
{
	return h->name_owned == GPOINTER_TO_INT(data);
}

G_GNUC_UNUSED static int
fh_daemon_pid(Harness *h)
{
	const char *id = h->daemon_proc ? g_subprocess_get_identifier(h->daemon_proc) : NULL;

	g_assert_nonnull(id);
	return atoi(id);
}

/* SIGKILL: no shutdown code of the daemon runs, as after a crash or a power loss of the
 * gateway. Waits until the process is reaped and its bus name is gone. */
G_GNUC_UNUSED static void
fh_daemon_kill(Harness *h)
{
	GSubprocess *proc = g_steal_pointer(&h->daemon_proc);

	g_assert_nonnull(proc);
	g_test_message("SIGKILL dfotad (pid %s)", g_subprocess_get_identifier(proc));
	g_subprocess_send_signal(proc, SIGKILL);
	g_subprocess_wait(proc, NULL, NULL);
	g_assert_true(g_subprocess_get_if_signaled(proc));
	g_object_unref(proc);
	if (!harness_wait(h, fh_cond_name, GINT_TO_POINTER(FALSE), START_TIMEOUT_MS,
	                  "org.dfotad1 to leave the bus"))
		g_error("the killed daemon's name stayed on the bus");
}

static void
fh_on_exited(GObject *source, GAsyncResult *res, gpointer data)
{
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
}

/* Starts dfotad again exactly as the harness did (same config, port and state directory),
 * its output appended to dfotad.log, and waits for its bus name. */
G_GNUC_UNUSED static void
fh_daemon_start(Harness *h)
{
	g_autofree char *config = g_build_filename(h->tmpdir, "dfotad.conf", NULL);
	g_autofree char *state = g_build_filename(h->tmpdir, "state", NULL);
	g_autofree char *log = g_build_filename(h->tmpdir, "dfotad.log", NULL);
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(0);
	g_autoptr(GError) error = NULL;
	const char *argv[] = { fh_require_env("DFOTAD"),
		               "--session",
		               "--port",
		               h->link_path,
		               "--state-dir",
		               state,
		               "--config",
		               config,
		               "--verbose",
		               NULL };
	int fd;

	g_assert_null(h->daemon_proc);
	g_assert_cmpint(g_mkdir_with_parents(state, 0700), ==, 0);
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	g_assert_cmpint(fd, >=, 0);
	g_subprocess_launcher_take_stdout_fd(launcher, fd);
	g_subprocess_launcher_set_flags(launcher, G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_subprocess_launcher_set_child_setup(launcher, fh_child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "DBUS_SESSION_BUS_ADDRESS", h->bus_address, TRUE);
	g_subprocess_launcher_unsetenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS");
	g_subprocess_launcher_setenv(launcher, "XDG_STATE_HOME", state, TRUE);
	h->daemon_proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_test_message("restarted dfotad, pid %s", g_subprocess_get_identifier(h->daemon_proc));
	g_subprocess_wait_async(h->daemon_proc, NULL, fh_on_exited, NULL);
	if (!harness_wait(h, fh_cond_name, GINT_TO_POINTER(TRUE), START_TIMEOUT_MS,
	                  "the restarted daemon's name"))
		g_error("the restarted dfotad did not own %s", HARNESS_BUS_NAME);
	g_assert_true(fh_proc_alive(h->daemon_proc));
}

G_GNUC_UNUSED static char *
fh_state_dir(Harness *h)
{
	return g_build_filename(h->tmpdir, "state", NULL);
}

/* Names of the files in the state directory (sorted, for messages). */
G_GNUC_UNUSED static GPtrArray *
fh_state_files(Harness *h)
{
	g_autofree char *state = fh_state_dir(h);
	g_autoptr(GDir) dir = g_dir_open(state, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	return names;
}

/* The daemon's log so far. */
G_GNUC_UNUSED static char *
fh_daemon_log(Harness *h)
{
	g_autofree char *log = g_build_filename(h->tmpdir, "dfotad.log", NULL);

	return read_file_or_empty(log);
}

typedef struct {
	guint64 since;
	const char *phase;
	guint min_percent;
} FhProgressWait;

/* TRUE when @ev is a Progress signal of Modem/0; its phase and percent then. */
static inline gboolean
fh_progress_of(HarnessEvent *ev, const char **phase, guint32 *percent)
{
	if (ev->type != HARNESS_EVENT_SIGNAL || g_strcmp0(ev->member, "Progress") != 0 ||
	    g_strcmp0(ev->path, HARNESS_MODEM_PATH) != 0)
		return FALSE;
	g_variant_get(ev->body, "(&su)", phase, percent);
	return TRUE;
}

static gboolean
fh_progress_seen(Harness *h, guint64 since, const char *phase, guint min_percent)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *p;
		guint32 pct;

		if (!fh_progress_of(ev, &p, &pct))
			continue;
		if (strcmp(p, phase) == 0 && pct >= min_percent)
			return TRUE;
	}
	return FALSE;
}

static gboolean
fh_cond_progress(Harness *h, gpointer data)
{
	FhProgressWait *pw = data;

	return fh_progress_seen(h, pw->since, pw->phase, pw->min_percent);
}

/* Waits for a Progress(@phase, >= @min_percent) since @since. */
G_GNUC_UNUSED static gboolean
fh_wait_progress(Harness *h, guint64 since, const char *phase, guint min_percent, guint timeout_ms)
{
	FhProgressWait pw = { since, phase, min_percent };
	g_autofree char *what = g_strdup_printf("Progress(%s, >= %u)", phase, min_percent);

	return harness_wait(h, fh_cond_progress, &pw, timeout_ms, what);
}

/* The Progress signals since @since as "phase:percent" joined with spaces (for messages and
 * for checks of what came after a restart). */
G_GNUC_UNUSED static char *
fh_progress_trace(Harness *h, guint64 since)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *p;
		guint32 pct;

		if (!fh_progress_of(ev, &p, &pct))
			continue;
		g_string_append_printf(s, "%s%s:%u", s->len ? " " : "", p, pct);
	}
	return g_string_free(s, FALSE);
}

/* The phases entered since @since, in order, comma-separated, consecutive repeats merged. */
G_GNUC_UNUSED static char *
fh_phases(Harness *h, guint64 since)
{
	g_autoptr(GPtrArray) events = harness_events(h, since);
	GString *s = g_string_new(NULL);
	g_autofree char *last = NULL;

	for (guint i = 0; i < events->len; i++) {
		HarnessEvent *ev = events->pdata[i];
		const char *p;
		guint32 pct;

		if (!fh_progress_of(ev, &p, &pct))
			continue;
		if (g_strcmp0(p, last) == 0 || strcmp(p, "idle") == 0)
			continue;
		g_string_append_printf(s, "%s%s", s->len ? "," : "", p);
		g_free(last);
		last = g_strdup(p);
	}
	return g_string_free(s, FALSE);
}

/* The Job property's id, or 0 when no job runs. */
G_GNUC_UNUSED static guint64
fh_job_id(Harness *h)
{
	g_autoptr(GVariant) job = harness_get_property(h, HARNESS_IFACE_FOTA, "Job");
	guint64 id = 0;

	g_variant_lookup(job, "id", "t", &id);
	return id;
}

G_GNUC_UNUSED static char *
fh_state(Harness *h)
{
	g_autoptr(GVariant) v = harness_get_property(h, HARNESS_IFACE_MODEM, "State");

	return g_variant_dup_string(v, NULL);
}

G_GNUC_UNUSED static gboolean
fh_wait_state(Harness *h, const char *state, guint timeout_ms)
{
	return harness_wait_property(h, HARNESS_IFACE_MODEM, "State", g_variant_new_string(state),
	                             timeout_ms);
}

/* Starts Upgrade(@url) and asserts the call succeeded. */
G_GNUC_UNUSED static void
fh_upgrade(Harness *h, const char *url)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade",
	                                         g_variant_new("(s)", url), NULL, &error);

	g_assert_no_error(error);
}

/* g_test_init() with --keep-going: a test that records a failure with g_test_fail_printf()
 * (a daemon defect it documents) does not stop the tests after it. */
G_GNUC_UNUSED static void
fh_test_init(int *argc, char ***argv)
{
	char **args = g_new0(char *, *argc + 2);

	for (int i = 0; i < *argc; i++)
		args[i] = (*argv)[i];
	args[(*argc)++] = (char *)"--keep-going";
	*argv = args; /* lives as long as the process, as argv does */
	g_test_init(argc, argv, NULL);
}
