// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-notify.c: the daemon under a service manager's eyes. NOTIFY_SOCKET points at a
 * datagram socket this test reads (with the sender's credentials, so that other children
 * that speak sd_notify — dbus-daemon does — are told apart): READY=1 exactly once and only
 * when org.dfotad1 has an owner, never when the name cannot be had; STATUS= lines with the
 * modem's state and the job's phase and percent during an upgrade; WATCHDOG=1 at about half
 * WATCHDOG_USEC; STOPPING=1 and exit status 0 within a second of SIGTERM. */
#include "harness.h"
#include "helper-fixture.h"

#include <glib-unix.h>
#include <sys/socket.h>
#include <sys/un.h>

#define WATCHDOG_USEC 400000

typedef struct {
	gint64 time_us;
	pid_t pid;
	char *text; /* one "KEY=VALUE" line */
} Note;

typedef struct {
	int fd;
	guint watch;
	char *path;
	GPtrArray *notes; /* Note */
	/* When READY=1 arrives: the owner of org.dfotad1 at that moment, asked on @conn. */
	GDBusConnection *conn;
	char *owner_at_ready;
} Notify;

static void
note_free(gpointer data)
{
	Note *n = data;

	g_free(n->text);
	g_free(n);
}

/* Reads every queued datagram. */
static void
notify_drain(Notify *ns)
{
	for (;;) {
		char buf[4096];
		union {
			struct cmsghdr align;
			char space[CMSG_SPACE(sizeof(struct ucred))];
		} control;
		struct iovec iov = { buf, sizeof buf - 1 };
		struct msghdr msg = { 0 };
		struct cmsghdr *cmsg;
		pid_t pid = 0;
		g_auto(GStrv) lines = NULL;
		ssize_t n;

		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control.space;
		msg.msg_controllen = sizeof control.space;
		n = recvmsg(ns->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		buf[n] = '\0';
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;

				memcpy(&cred, CMSG_DATA(cmsg), sizeof cred);
				pid = cred.pid;
			}
		}
		lines = g_strsplit(buf, "\n", -1);
		for (guint i = 0; lines[i] != NULL; i++) {
			Note *note;

			if (*lines[i] == '\0')
				continue;
			note = g_new0(Note, 1);
			note->time_us = g_get_monotonic_time();
			note->pid = pid;
			note->text = g_strdup(lines[i]);
			if (strcmp(note->text, "READY=1") == 0 && ns->conn != NULL &&
			    ns->owner_at_ready == NULL)
				ns->owner_at_ready = fix_name_owner(ns->conn, FIX_BUS_NAME);
			g_ptr_array_add(ns->notes, note);
		}
	}
}

static gboolean
on_notify(gint fd, GIOCondition cond, gpointer data)
{
	notify_drain(data);
	return G_SOURCE_CONTINUE;
}

static Notify *
notify_new(const char *path)
{
	Notify *ns = g_new0(Notify, 1);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int one = 1;

	g_assert_cmpuint(strlen(path), <, sizeof addr.sun_path);
	strcpy(addr.sun_path, path);
	ns->path = g_strdup(path);
	ns->notes = g_ptr_array_new_with_free_func(note_free);
	ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	g_assert_cmpint(ns->fd, >=, 0);
	/* The sender's PID with every datagram, as systemd reads it. */
	g_assert_cmpint(setsockopt(ns->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), ==, 0);
	g_assert_cmpint(bind(ns->fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
	ns->watch = g_unix_fd_add(ns->fd, G_IO_IN, on_notify, ns);
	return ns;
}

static void
notify_free(Notify *ns)
{
	g_source_remove(ns->watch);
	close(ns->fd);
	unlink(ns->path);
	g_ptr_array_unref(ns->notes);
	g_free(ns->owner_at_ready);
	g_free(ns->path);
	g_free(ns);
}

/* Notes from @pid whose text starts with @prefix, in arrival order (borrowed). */
static GPtrArray *
notes_of(Notify *ns, pid_t pid, const char *prefix)
{
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; i < ns->notes->len; i++) {
		Note *n = ns->notes->pdata[i];

		if (n->pid == pid && g_str_has_prefix(n->text, prefix))
			g_ptr_array_add(out, n);
	}
	return out;
}

typedef struct {
	Notify *ns;
	pid_t pid;
	const char *prefix;
	guint n;
} NoteWait;

static gboolean
cond_notes(gpointer data)
{
	NoteWait *w = data;
	g_autoptr(GPtrArray) found = notes_of(w->ns, w->pid, w->prefix);

	return found->len >= w->n;
}

static gboolean
wait_notes(Notify *ns, pid_t pid, const char *prefix, guint n, guint timeout_ms)
{
	NoteWait w = { ns, pid, prefix, n };

	return fix_wait(cond_notes, &w, timeout_ms, prefix);
}

static pid_t
subprocess_pid(GSubprocess *proc)
{
	return (pid_t)g_ascii_strtoll(g_subprocess_get_identifier(proc), NULL, 10);
}

static pid_t
owner_pid(GDBusConnection *conn, const char *owner)
{
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	        "GetConnectionUnixProcessID", g_variant_new("(s)", owner), G_VARIANT_TYPE("(u)"),
	        G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, NULL);
	guint32 pid = 0;

	g_assert_nonnull(ret);
	g_variant_get(ret, "(u)", &pid);
	return (pid_t)pid;
}

static GSubprocess *
start_daemon(Fix *f, const char *name, const char *notify_path, const char *watchdog)
{
	g_autofree char *link = fix_path(f, "tty");
	g_autofree char *state = fix_path(f, "state");
	g_autofree char *bus_env = g_strconcat("DBUS_SESSION_BUS_ADDRESS=", f->bus_address, NULL);
	g_autofree char *notify_env = g_strconcat("NOTIFY_SOCKET=", notify_path, NULL);
	g_autofree char *watchdog_env =
	        watchdog != NULL ? g_strconcat("WATCHDOG_USEC=", watchdog, NULL) : NULL;
	const char *argv[] = { fix_env("DFOTAD"), "--session", "--port",    link,
		               "--state-dir",     state,       "--verbose", NULL };
	const char *env[] = { bus_env, notify_env, "WATCHDOG_PID",
		              watchdog_env != NULL ? watchdog_env : "WATCHDOG_USEC", NULL };

	g_mkdir(state, 0700);
	return fix_spawn(f, name, argv, env, NULL);
}

static void
test_lifecycle(void)
{
	g_autoptr(Fix) f = fix_new();
	g_autofree char *path = fix_path(f, "notify");
	Notify *ns = notify_new(path);
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GPtrArray) ready = NULL;
	g_autoptr(GPtrArray) status = NULL;
	g_autoptr(GPtrArray) pings = NULL;
	g_autoptr(GPtrArray) stopping = NULL;
	GSubprocess *daemon;
	pid_t pid;
	guint first_ping;
	gint64 sum = 0, min_gap = G_MAXINT64, max_gap = 0, term_at, exit_after;
	int wait_status;

	fix_start_bus(f, "session", FIX_POLICY_OPEN);
	fix_start_sim(f, NULL, f->tmpdir, NULL);
	conn = fix_connect(f);
	ns->conn = conn;
	daemon = start_daemon(f, "dfotad", path, G_STRINGIFY(WATCHDOG_USEC));
	pid = subprocess_pid(daemon);

	g_assert_true(wait_notes(ns, pid, "READY=1", 1, FIX_START_MS));
	/* At the moment READY=1 arrived, the name was the daemon's already. */
	g_assert_nonnull(ns->owner_at_ready);
	g_assert_cmpint(owner_pid(conn, ns->owner_at_ready), ==, pid);

	g_assert_true(fix_wait_property(conn, "org.dfotad1.Modem", "State", "ready", FIX_START_MS));
	g_assert_true(wait_notes(ns, pid, "STATUS=Modem/0 ready", 1, FIX_START_MS));

	/* Watchdog pings at half of WATCHDOG_USEC, from the main loop. */
	pings = notes_of(ns, pid, "WATCHDOG=1");
	first_ping = pings->len;
	g_clear_pointer(&pings, g_ptr_array_unref);
	g_assert_true(wait_notes(ns, pid, "WATCHDOG=1", first_ping + 8, 10000));
	pings = notes_of(ns, pid, "WATCHDOG=1");
	for (guint i = first_ping + 1; i < pings->len; i++) {
		gint64 gap =
		        ((Note *)pings->pdata[i])->time_us - ((Note *)pings->pdata[i - 1])->time_us;

		sum += gap;
		min_gap = MIN(min_gap, gap);
		max_gap = MAX(max_gap, gap);
	}
	g_test_message("%u watchdog pings: gaps %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
	               " us, mean %" G_GINT64_FORMAT " us",
	               pings->len - first_ping, min_gap, max_gap,
	               sum / (gint64)(pings->len - first_ping - 1));
	/* Not a flood, and never as long as the watchdog timeout (systemd would kill it). */
	g_assert_cmpint(min_gap, >=, WATCHDOG_USEC / 4);
	g_assert_cmpint(max_gap, <, WATCHDOG_USEC);
	g_assert_cmpint(sum / (gint64)(pings->len - first_ping - 1), <=, WATCHDOG_USEC * 3 / 4);

	/* STOPPING=1 and a clean exit within a second of SIGTERM. */
	term_at = g_get_monotonic_time();
	g_subprocess_send_signal(daemon, SIGTERM);
	wait_status = fix_wait_exit(daemon, 5000);
	exit_after = g_get_monotonic_time() - term_at;
	notify_drain(ns);
	g_test_message("exited %" G_GINT64_FORMAT " us after SIGTERM, wait status 0x%x", exit_after,
	               wait_status);
	g_assert_cmpint(wait_status, !=, -1);
	g_assert_true(WIFEXITED(wait_status));
	g_assert_cmpint(WEXITSTATUS(wait_status), ==, 0);
	g_assert_cmpint(exit_after, <, G_USEC_PER_SEC);
	stopping = notes_of(ns, pid, "STOPPING=1");
	g_assert_cmpuint(stopping->len, ==, 1);
	g_assert_cmpint(((Note *)stopping->pdata[0])->time_us - term_at, <, G_USEC_PER_SEC);

	ready = notes_of(ns, pid, "READY=1");
	g_assert_cmpuint(ready->len, ==, 1);
	status = notes_of(ns, pid, "STATUS=");
	g_assert_cmpuint(status->len, >=, 1);
	for (guint i = 0; i < status->len; i++)
		g_assert_true(
		        g_str_has_prefix(((Note *)status->pdata[i])->text, "STATUS=Modem/0 "));
	ns->conn = NULL;
	notify_free(ns);
}

/* A daemon that cannot own the name never says READY=1 and ends with status 1. */
static void
test_no_ready_without_name(void)
{
	g_autoptr(Fix) f = fix_new();
	g_autofree char *path = fix_path(f, "notify");
	Notify *ns = notify_new(path);
	g_autoptr(GDBusConnection) conn = NULL;
	g_autoptr(GPtrArray) ready = NULL;
	g_autoptr(GVariant) ret = NULL;
	g_autoptr(GError) error = NULL;
	GSubprocess *daemon;
	guint32 reply = 0;
	int wait_status;
	pid_t pid;

	fix_start_bus(f, "session", FIX_POLICY_OPEN);
	conn = fix_connect(f);
	ret = g_dbus_connection_call_sync(
	        conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	        "RequestName", g_variant_new("(su)", FIX_BUS_NAME, 4 /* no queue */),
	        G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, &error);
	g_assert_no_error(error);
	g_variant_get(ret, "(u)", &reply);
	g_assert_cmpuint(reply, ==, 1); /* primary owner */

	daemon = start_daemon(f, "dfotad", path, NULL);
	pid = subprocess_pid(daemon); /* gone once the child is reaped */
	wait_status = fix_wait_exit(daemon, FIX_START_MS);
	notify_drain(ns);
	g_assert_cmpint(wait_status, !=, -1);
	g_assert_true(WIFEXITED(wait_status));
	g_assert_cmpint(WEXITSTATUS(wait_status), ==, 1);
	ready = notes_of(ns, pid, "READY=1");
	g_assert_cmpuint(ready->len, ==, 0);
	notify_free(ns);
}

typedef struct {
	char *phase;
	guint percent;
} StatusJob;

/* STATUS= during an Upgrade: the harness's processes all inherit NOTIFY_SOCKET (dbus-daemon
 * answers with its own READY=1); only the daemon's datagrams count. */
static void
test_status_during_job(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("dfotad-notify-XXXXXX", &error);
	g_autofree char *path = g_build_filename(dir, "notify", NULL);
	Notify *ns = notify_new(path);
	g_autoptr(Harness) h = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) result = NULL;
	g_autoptr(GPtrArray) status = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree char *url = NULL;
	g_autofree char *owner = NULL;
	g_autofree char *last_phase = NULL;
	GRegex *re = g_regex_new("^STATUS=Modem/0 ([a-z]+), ([a-z]+) ([0-9]+)%$", 0, 0, NULL);
	guint last_percent = 0, job_lines = 0;
	guint64 since;
	pid_t pid;

	g_assert_no_error(error);
	g_setenv("NOTIFY_SOCKET", path, TRUE);
	g_unsetenv("WATCHDOG_USEC");
	h = harness_new(NULL);
	g_unsetenv("NOTIFY_SOCKET");
	owner = fix_name_owner(harness_bus(h), HARNESS_BUS_NAME);
	g_assert_nonnull(owner);
	pid = owner_pid(harness_bus(h), owner);
	g_assert_true(wait_notes(ns, pid, "READY=1", 1, FIX_START_MS));

	harness_make_package(h, "fota.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "fota.pack");
	since = harness_mark(h);
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 90000);
	g_assert_true(harness_dict_bool(result, "success"));
	/* The daemon notifies before it emits Finished: everything is queued by now. */
	notify_drain(ns);

	status = notes_of(ns, pid, "STATUS=");
	for (guint i = 0; i < status->len; i++) {
		const char *text = ((Note *)status->pdata[i])->text;
		g_autoptr(GMatchInfo) m = NULL;

		g_test_message("%s", text);
		if (!g_regex_match(re, text, 0, &m)) {
			g_assert_true(g_str_has_prefix(text, "STATUS=Modem/0 "));
			continue;
		}
		{
			g_autofree char *state = g_match_info_fetch(m, 1);
			g_autofree char *phase = g_match_info_fetch(m, 2);
			g_autofree char *pct = g_match_info_fetch(m, 3);
			guint percent = (guint)g_ascii_strtoull(pct, NULL, 10);

			g_assert_cmpuint(percent, <=, 100);
			if (g_strcmp0(phase, last_phase) == 0)
				g_assert_cmpuint(percent, >=, last_percent);
			g_hash_table_add(seen, (gpointer)g_intern_string(phase));
			g_free(last_phase);
			last_phase = g_steal_pointer(&phase);
			last_percent = percent;
			job_lines++;
		}
	}
	g_assert_true(g_hash_table_contains(seen, "downloading"));
	g_assert_true(g_hash_table_contains(seen, "updating"));
	g_assert_true(g_hash_table_contains(seen, "rebooting"));
	g_assert_true(g_hash_table_contains(seen, "verifying"));
	/* Each module step of a phase is a status change, not only phase changes. */
	g_assert_cmpuint(job_lines, >=, 10);
	g_assert_cmpstr(((Note *)status->pdata[status->len - 1])->text, ==, "STATUS=Modem/0 ready");

	g_regex_unref(re);
	g_clear_pointer(&h, harness_free);
	notify_free(ns);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/notify/lifecycle", test_lifecycle);
	g_test_add_func("/notify/no-ready-without-name", test_no_ready_without_name);
	g_test_add_func("/notify/status-during-job", test_status_during_job);
	return g_test_run();
}
