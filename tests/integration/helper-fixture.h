// SPDX-License-Identifier: LGPL-2.1-or-later
/* helper-fixture.h: a smaller fixture than harness.h for the tests of the daemon's system
 * side (test-access, test-notify, test-config): they need what the harness does not offer —
 * a system-type bus with the installed policy, processes running as other users, an
 * environment of their own for the daemon (NOTIFY_SOCKET), the daemon started before the
 * simulator. Header-only because meson builds each integration test from one source file;
 * every function is static and may go unused in one test or another.
 *
 * Processes are tracked by PID and stopped by PID; waits iterate the default main context
 * until an event (child exit, D-Bus message, datagram, a slow re-check tick for files) makes
 * their condition true, each with a deadline.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIX_UNUSED G_GNUC_UNUSED static
#define FIX_START_MS 20000
#define FIX_STOP_MS 5000
#define FIX_CALL_MS 30000
#define FIX_BUS_NAME "org.dfotad1"
#define FIX_MODEM_PATH "/org/dfotad1/Modem/0"

/* Who a child runs as; uid 0 with set FALSE: the test's own credentials. */
typedef struct {
	gboolean set;
	uid_t uid;
	gid_t gid;
	gid_t groups[4];
	int n_groups;
} FixCreds;

typedef struct {
	char *tmpdir;
	char *bus_address;
	GPtrArray *procs; /* GSubprocess, in start order */
	GPtrArray *logs;  /* names of the output files, dumped when the test failed */
} Fix;

FIX_UNUSED const char *
fix_env(const char *name)
{
	const char *value = g_getenv(name);

	if (value == NULL || *value == '\0')
		g_error("%s is not set: run the integration tests with `meson test`", name);
	return value;
}

FIX_UNUSED Fix *
fix_new(void)
{
	g_autoptr(GError) error = NULL;
	Fix *f = g_new0(Fix, 1);

	f->tmpdir = g_dir_make_tmp("dfotad-sys-XXXXXX", &error);
	g_assert_no_error(error);
	/* Other users (the daemon's, the callers') must reach the bus socket and binaries. */
	g_assert_cmpint(g_chmod(f->tmpdir, 0755), ==, 0);
	f->procs = g_ptr_array_new_with_free_func(g_object_unref);
	f->logs = g_ptr_array_new_with_free_func(g_free);
	g_test_message("temporary directory %s", f->tmpdir);
	return f;
}

FIX_UNUSED char *
fix_path(Fix *f, const char *name)
{
	return g_build_filename(f->tmpdir, name, NULL);
}

FIX_UNUSED char *
fix_read(const char *path)
{
	char *contents = NULL;

	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return g_strdup("");
	return contents;
}

static gboolean
fix_on_timeout(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static gboolean
fix_on_tick(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

typedef gboolean (*FixCond)(gpointer data);

/* Iterates the default main context until @cond holds or @timeout_ms passed. */
FIX_UNUSED gboolean
fix_wait(FixCond cond, gpointer data, guint timeout_ms, const char *what)
{
	gboolean timed_out = FALSE;
	guint timeout_id = g_timeout_add(timeout_ms, fix_on_timeout, &timed_out);
	/* Files written by children do not wake the context: re-check them now and then. */
	guint tick_id = g_timeout_add(50, fix_on_tick, NULL);
	gboolean ok;

	while (!(ok = cond(data)) && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(timeout_id);
	g_source_remove(tick_id);
	if (!ok)
		g_test_message("gave up waiting for %s after %u ms", what, timeout_ms);
	return ok;
}

static void
fix_child_setup(gpointer data)
{
	const FixCreds *c = data;

	/* Between fork and exec: only async-signal-safe calls. A failed switch must not run
	 * the child with the test's (root) credentials. */
	if (c != NULL && c->set) {
		if (setgroups((size_t)c->n_groups, c->groups) < 0 ||
		    setresgid(c->gid, c->gid, c->gid) < 0 || setresuid(c->uid, c->uid, c->uid) < 0)
			_exit(126);
	}
	/* After the credential change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
fix_on_exited(GObject *source, GAsyncResult *res, gpointer data)
{
	/* Being dispatched wakes the waiter, which re-checks its condition. */
	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
}

FIX_UNUSED gboolean
fix_alive(GSubprocess *proc)
{
	return g_subprocess_get_identifier(proc) != NULL;
}

/* Starts @argv with stdout and stderr in <tmpdir>/<name>.out. @env: "KEY=VALUE" to set,
 * "KEY" to unset (NULL-terminated, may be NULL). @creds may be NULL. */
FIX_UNUSED GSubprocess *
fix_spawn(Fix *f, const char *name, const char *const *argv, const char *const *env,
          const FixCreds *creds)
{
	g_autoptr(GSubprocessLauncher) launcher =
	        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
	g_autofree char *out_name = g_strconcat(name, ".out", NULL);
	g_autofree char *out = fix_path(f, out_name);
	g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
	g_autoptr(GError) error = NULL;
	GSubprocess *proc;

	for (guint i = 0; env != NULL && env[i] != NULL; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq == NULL) {
			g_subprocess_launcher_unsetenv(launcher, env[i]);
		} else {
			g_autofree char *key = g_strndup(env[i], eq - env[i]);

			g_subprocess_launcher_setenv(launcher, key, eq + 1, TRUE);
		}
	}
	g_subprocess_launcher_set_stdout_file_path(launcher, out);
	g_subprocess_launcher_set_child_setup(launcher, fix_child_setup, (gpointer)creds, NULL);
	proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_test_message("started pid %s as uid %u: %s", g_subprocess_get_identifier(proc),
	               creds != NULL && creds->set ? (guint)creds->uid : (guint)getuid(), cmdline);
	g_subprocess_wait_async(proc, NULL, fix_on_exited, NULL);
	g_ptr_array_add(f->procs, proc);
	g_ptr_array_add(f->logs, g_steal_pointer(&out_name));
	return proc;
}

static gboolean
fix_cond_exited(gpointer data)
{
	return !fix_alive(data);
}

/* Waits for @proc to exit; its wait status, or -1 when it did not exit in time. */
FIX_UNUSED int
fix_wait_exit(GSubprocess *proc, guint timeout_ms)
{
	if (!fix_wait(fix_cond_exited, proc, timeout_ms, "a child to exit"))
		return -1;
	return g_subprocess_get_status(proc);
}

/* SIGTERM, then SIGKILL after a deadline; the wait status. */
FIX_UNUSED int
fix_stop(GSubprocess *proc)
{
	int status;

	if (!fix_alive(proc))
		return g_subprocess_get_status(proc);
	g_subprocess_send_signal(proc, SIGTERM);
	status = fix_wait_exit(proc, FIX_STOP_MS);
	if (status == -1) {
		g_subprocess_force_exit(proc);
		g_subprocess_wait(proc, NULL, NULL);
		status = -1;
	}
	return status;
}

typedef struct {
	const char *path;
	const char *needle;
} FixNeedle;

static gboolean
fix_cond_file_has(gpointer data)
{
	FixNeedle *n = data;
	g_autofree char *contents = fix_read(n->path);

	return strstr(contents, n->needle) != NULL;
}

FIX_UNUSED gboolean
fix_wait_file_has(const char *path, const char *needle, guint timeout_ms)
{
	FixNeedle n = { path, needle };

	return fix_wait(fix_cond_file_has, &n, timeout_ms, needle);
}

/* The file @data has a complete line starting with "unix:". */
FIX_UNUSED gboolean
fix_cond_address(gpointer data)
{
	g_autofree char *text = NULL;
	const char *line;

	if (!g_file_get_contents(data, &text, NULL, NULL))
		return FALSE;
	line = g_str_has_prefix(text, "unix:") ? text : strstr(text, "\nunix:");
	return line != NULL && strchr(line + 1, '\n') != NULL;
}

/* A bus of @type ("session" or "system") listening in the temporary directory. @policy: the
 * <policy> and <include> elements. Sets f->bus_address. */
FIX_UNUSED void
fix_start_bus(Fix *f, const char *type, const char *policy)
{
	g_autofree char *conf = fix_path(f, "bus.conf");
	g_autofree char *out = fix_path(f, "dbus.out");
	g_autofree char *socket = fix_path(f, "bus_socket");
	g_autofree char *xml = NULL;
	g_autofree char *contents = NULL;
	g_autoptr(GError) error = NULL;
	const char *argv[] = { fix_env("DBUS_DAEMON"), "--nofork", "--print-address=1",
		               "--config-file",        conf,       NULL };
	const char *start;
	char *nl;

	/* No service activation, nothing from the host's configuration. */
	xml = g_strdup_printf("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus "
	                      "Configuration 1.0//EN\" \"http://www.freedesktop.org/standards/"
	                      "dbus/1.0/busconfig.dtd\">\n<busconfig>\n<type>%s</type>\n"
	                      "<listen>unix:path=%s</listen>\n<auth>EXTERNAL</auth>\n%s\n"
	                      "</busconfig>\n",
	                      type, socket, policy);
	g_file_set_contents(conf, xml, -1, &error);
	g_assert_no_error(error);
	fix_spawn(f, "dbus", argv, NULL, NULL);
	/* Its warnings (a policy naming a user this host lacks) share the file: the address is
	 * the line that starts with "unix:". */
	if (!fix_wait(fix_cond_address, out, FIX_START_MS, "the bus address"))
		g_error("dbus-daemon did not start: %s", fix_read(out));
	contents = fix_read(out);
	start = g_str_has_prefix(contents, "unix:") ? contents : strstr(contents, "\nunix:") + 1;
	nl = strchr(start, '\n');
	f->bus_address = g_strndup(start, nl - start);
}

/* Everything allowed to everyone: a permissive session bus. */
#define FIX_POLICY_OPEN                                                                 \
	"<policy context=\"default\"><allow user=\"*\"/><allow send_destination=\"*\" " \
	"eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/></policy>"

FIX_UNUSED GDBusConnection *
fix_connect(Fix *f)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *conn = g_dbus_connection_new_for_address_sync(
	        f->bus_address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);

	g_assert_no_error(error);
	return conn;
}

/* The unique name owning @name, or NULL. */
FIX_UNUSED char *
fix_name_owner(GDBusConnection *conn, const char *name)
{
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	        "GetNameOwner", g_variant_new("(s)", name), G_VARIANT_TYPE("(s)"),
	        G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, NULL);
	char *owner = NULL;

	if (ret != NULL)
		g_variant_get(ret, "(s)", &owner);
	return owner;
}

typedef struct {
	GDBusConnection *conn;
	const char *name;
} FixName;

static gboolean
fix_cond_owned(gpointer data)
{
	FixName *n = data;
	g_autofree char *owner = fix_name_owner(n->conn, n->name);

	return owner != NULL;
}

FIX_UNUSED gboolean
fix_wait_name(GDBusConnection *conn, const char *name, guint timeout_ms)
{
	FixName n = { conn, name };

	return fix_wait(fix_cond_owned, &n, timeout_ms, name);
}

/* Properties.Get on the modem object; NULL (and @error) when the call fails. */
FIX_UNUSED GVariant *
fix_get_property(GDBusConnection *conn, const char *iface, const char *name, GError **error)
{
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        conn, FIX_BUS_NAME, FIX_MODEM_PATH, "org.freedesktop.DBus.Properties", "Get",
	        g_variant_new("(ss)", iface, name), G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE,
	        FIX_CALL_MS, NULL, error);
	GVariant *value = NULL;

	if (ret != NULL)
		g_variant_get(ret, "(v)", &value);
	return value;
}

typedef struct {
	GDBusConnection *conn;
	const char *iface;
	const char *name;
	const char *expected;
} FixProp;

static gboolean
fix_cond_prop(gpointer data)
{
	FixProp *p = data;
	g_autoptr(GVariant) v = fix_get_property(p->conn, p->iface, p->name, NULL);

	return v != NULL && g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) &&
	       g_strcmp0(g_variant_get_string(v, NULL), p->expected) == 0;
}

static void
fix_on_any_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                  const char *member, GVariant *params, gpointer data)
{
	/* Being dispatched wakes the waiter, which re-reads the property. */
}

/* Waits until the string property equals @expected, re-reading it on every signal of the
 * daemon (PropertiesChanged) and on the slow tick. */
FIX_UNUSED gboolean
fix_wait_property(GDBusConnection *conn, const char *iface, const char *name, const char *expected,
                  guint timeout_ms)
{
	FixProp p = { conn, iface, name, expected };
	guint sub = g_dbus_connection_signal_subscribe(conn, FIX_BUS_NAME, NULL, NULL, NULL, NULL,
	                                               G_DBUS_SIGNAL_FLAGS_NONE, fix_on_any_signal,
	                                               NULL, NULL);
	gboolean ok = fix_wait(fix_cond_prop, &p, timeout_ms, expected);

	g_dbus_connection_signal_unsubscribe(conn, sub);
	return ok;
}

/* Starts dfota-sim with its link, log and control FIFO in @dir and waits for its READY line.
 * @sim: the binary (a copy for other users), NULL: $DFOTA_SIM. */
FIX_UNUSED GSubprocess *
fix_start_sim(Fix *f, const char *sim, const char *dir, const FixCreds *creds)
{
	g_autofree char *link = g_build_filename(dir, "tty", NULL);
	g_autofree char *log = g_build_filename(dir, "sim.log", NULL);
	g_autofree char *control = g_build_filename(dir, "sim.control", NULL);
	g_autofree char *out = fix_path(f, "sim.out");
	const char *argv[] = { sim != NULL ? sim : fix_env("DFOTA_SIM"),
		               "--link",
		               link,
		               "--log",
		               log,
		               "--control",
		               control,
		               "--revision",
		               "BC65JAR01A01",
		               "--time-scale",
		               "0.02",
		               NULL };
	GSubprocess *proc = fix_spawn(f, "sim", argv, NULL, creds);

	if (!fix_wait_file_has(out, "READY ", FIX_START_MS))
		g_error("dfota-sim did not start: %s", fix_read(out));
	return proc;
}

/* One line to the simulator's control FIFO in @dir; waits for its "OK" acknowledgement. */
FIX_UNUSED void
fix_sim_control(Fix *f, const char *dir, const char *line)
{
	g_autofree char *control = g_build_filename(dir, "sim.control", NULL);
	g_autofree char *out = fix_path(f, "sim.out");
	g_autofree char *text = g_strconcat(line, "\n", NULL);
	g_autofree char *ack = g_strconcat("OK ", line, "\n", NULL);
	int fd = open(control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	gssize n;

	g_assert_cmpint(fd, >=, 0);
	do
		n = write(fd, text, strlen(text));
	while (n < 0 && errno == EINTR);
	g_assert_cmpint(n, ==, (gssize)strlen(text));
	close(fd);
	if (!fix_wait_file_has(out, ack, FIX_START_MS))
		g_error("the simulator did not acknowledge \"%s\": %s", line, fix_read(out));
}

/* Stops every process (last started first), dumps their output when the test failed and
 * removes the temporary directory unless kept. */
FIX_UNUSED void
fix_free(Fix *f)
{
	for (guint i = f->procs->len; i > 0; i--)
		fix_stop(f->procs->pdata[i - 1]);
	if (g_test_failed()) {
		for (guint i = 0; i < f->logs->len; i++) {
			g_autofree char *path = fix_path(f, f->logs->pdata[i]);
			g_autofree char *contents = fix_read(path);
			gsize len = strlen(contents);

			g_printerr("==== %s (last 8000 bytes) ====\n%s\n",
			           (char *)f->logs->pdata[i],
			           len > 8000 ? contents + len - 8000 : contents);
		}
	}
	if (g_getenv("DFOTA_TEST_KEEP") != NULL || g_test_failed()) {
		g_printerr("kept %s\n", f->tmpdir);
	} else {
		g_autofree char *rm = g_find_program_in_path("rm");
		const char *argv[] = { rm, "-rf", "--", f->tmpdir, NULL };

		g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
		             NULL, NULL);
	}
	g_ptr_array_unref(f->procs);
	g_ptr_array_unref(f->logs);
	g_free(f->bus_address);
	g_free(f->tmpdir);
	g_free(f);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fix, fix_free)
