// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-logind.c: the shutdown/sleep inhibitor lock while the module flashes.
 *
 * logind itself cannot run in the test environment (it needs systemd as PID 1, the system
 * bus and cgroups), so this test owns org.freedesktop.login1 on the private test bus with a
 * stand-in that implements Manager.Inhibit the way logind does: it records each call and
 * returns the write end of a pipe as the lock's fd. The test keeps the read end: EOF there
 * means the daemon closed its copy, i.e. released the lock. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

static const char login1_xml[] =
        "<node><interface name='org.freedesktop.login1.Manager'>"
        "<method name='Inhibit'><arg type='s' name='what' direction='in'/>"
        "<arg type='s' name='who' direction='in'/><arg type='s' name='why' direction='in'/>"
        "<arg type='s' name='mode' direction='in'/>"
        "<arg type='h' name='pipe_fd' direction='out'/></method>"
        "</interface></node>";

typedef struct {
	GDBusConnection *conn;
	guint object_id;
	guint name_id;
	gboolean name_owned;
	guint calls;
	char *what, *who, *why, *mode;
	char *phase_at_call; /* Fota.Phase read from the daemon when Inhibit arrived */
	int read_fd;         /* the lock's other end */
	guint eof_watch;
	gboolean eof;
	char *phase_at_eof;
} Login1;

static char *
read_phase(GDBusConnection *conn)
{
	g_autoptr(GVariant) ret = g_dbus_connection_call_sync(
	        conn, HARNESS_BUS_NAME, HARNESS_MODEM_PATH, HARNESS_IFACE_PROPS, "Get",
	        g_variant_new("(ss)", HARNESS_IFACE_FOTA, "Phase"), G_VARIANT_TYPE("(v)"),
	        G_DBUS_CALL_FLAGS_NONE, 10000, NULL, NULL);
	g_autoptr(GVariant) v = NULL;

	if (ret == NULL)
		return g_strdup("(unreadable)");
	g_variant_get(ret, "(v)", &v);
	return g_variant_dup_string(v, NULL);
}

static gboolean
on_lock_fd(gint fd, GIOCondition cond, gpointer data)
{
	Login1 *l = data;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n > 0 || (n < 0 && errno == EINTR))
		return G_SOURCE_CONTINUE;
	/* EOF: the daemon's copy of the write end is closed. Phase is idle before the
	 * daemon releases the lock, so anything else here is an early release. */
	l->eof = TRUE;
	l->phase_at_eof = read_phase(l->conn);
	l->eof_watch = 0;
	return G_SOURCE_REMOVE;
}

static void
on_method(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
          const char *method, GVariant *params, GDBusMethodInvocation *invocation, gpointer data)
{
	Login1 *l = data;
	g_autoptr(GUnixFDList) fds = NULL;
	int pipe_fds[2];

	l->calls++;
	g_clear_pointer(&l->what, g_free);
	g_clear_pointer(&l->who, g_free);
	g_clear_pointer(&l->why, g_free);
	g_clear_pointer(&l->mode, g_free);
	g_variant_get(params, "(ssss)", &l->what, &l->who, &l->why, &l->mode);
	g_test_message("Inhibit(\"%s\", \"%s\", \"%s\", \"%s\") from %s", l->what, l->who, l->why,
	               l->mode, sender);
	if (l->phase_at_call == NULL)
		l->phase_at_call = read_phase(conn);
	g_assert_cmpint(pipe2(pipe_fds, O_CLOEXEC), ==, 0);
	if (l->read_fd >= 0) {
		/* A second lock: keep watching only the newest; the count shows the defect. */
		g_clear_handle_id(&l->eof_watch, g_source_remove);
		close(l->read_fd);
	}
	l->read_fd = pipe_fds[0];
	l->eof = FALSE;
	l->eof_watch = g_unix_fd_add(l->read_fd, G_IO_IN | G_IO_HUP, on_lock_fd, l);
	fds = g_unix_fd_list_new_from_array(&pipe_fds[1], 1); /* takes the write end */
	g_dbus_method_invocation_return_value_with_unix_fd_list(invocation, g_variant_new("(h)", 0),
	                                                        fds);
}

static void
on_name_acquired(GDBusConnection *c, const char *name, gpointer data)
{
	((Login1 *)data)->name_owned = TRUE;
}

static gboolean
cond_name_owned(gpointer data)
{
	return ((Login1 *)data)->name_owned;
}

static gboolean
on_timeout(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static gboolean
wait_for(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gboolean timed_out = FALSE;
	guint id = g_timeout_add(timeout_ms, on_timeout, &timed_out);

	while (!cond(data) && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	return cond(data);
}

static Login1 *
login1_new(Harness *h)
{
	static const GDBusInterfaceVTable vtable = { on_method, NULL, NULL, { 0 } };
	g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml(login1_xml, NULL);
	g_autoptr(GError) error = NULL;
	Login1 *l = g_new0(Login1, 1);

	l->read_fd = -1;
	l->conn = harness_new_client(h);
	l->object_id = g_dbus_connection_register_object(
	        l->conn, "/org/freedesktop/login1", info->interfaces[0], &vtable, l, NULL, &error);
	g_assert_no_error(error);
	l->name_id = g_bus_own_name_on_connection(l->conn, "org.freedesktop.login1",
	                                          G_BUS_NAME_OWNER_FLAGS_NONE, on_name_acquired,
	                                          NULL, l, NULL);
	g_assert_true(wait_for(cond_name_owned, l, 10000));
	return l;
}

static void
login1_free(Login1 *l)
{
	g_clear_handle_id(&l->eof_watch, g_source_remove);
	if (l->read_fd >= 0)
		close(l->read_fd);
	g_bus_unown_name(l->name_id);
	g_dbus_connection_unregister_object(l->conn, l->object_id);
	g_dbus_connection_close_sync(l->conn, NULL, NULL);
	g_object_unref(l->conn);
	g_free(l->what);
	g_free(l->who);
	g_free(l->why);
	g_free(l->mode);
	g_free(l->phase_at_call);
	g_free(l->phase_at_eof);
	g_free(l);
}

static gboolean
cond_eof(gpointer data)
{
	return ((Login1 *)data)->eof;
}

static GVariant *
run_upgrade(Harness *h)
{
	g_autofree char *url = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	guint64 since = harness_mark(h);
	GVariant *result;

	harness_make_package(h, "fota.pack", "BC65", HARNESS_REV_FROM, HARNESS_REV_TO, NULL);
	url = harness_url(h, "fota.pack");
	reply = harness_call(h, NULL, HARNESS_IFACE_FOTA, "Upgrade", g_variant_new("(s)", url),
	                     NULL, &error);
	g_assert_no_error(error);
	result = harness_wait_finished(h, since, 90000);
	g_assert_true(harness_dict_bool(result, "success"));
	return result;
}

static void
test_inhibit_while_flashing(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	Login1 *l = login1_new(h);
	g_autoptr(GVariant) result = NULL;

	result = run_upgrade(h);
	g_test_message("Inhibit calls: %u, Phase when called: %s", l->calls, l->phase_at_call);

	g_assert_cmpuint(l->calls, ==, 1);
	g_assert_cmpstr(l->what, ==, "shutdown:sleep");
	g_assert_cmpstr(l->who, ==, "dfotad");
	g_assert_cmpstr(l->mode, ==, "block");
	g_assert_true(l->why != NULL && *l->why != '\0');
	/* Taken when the module starts writing flash, not while it only downloads. */
	g_assert_true(g_strcmp0(l->phase_at_call, "updating") == 0 ||
	              g_strcmp0(l->phase_at_call, "rebooting") == 0);

	/* Released once the job ended: the daemon's copy of the fd is closed. */
	if (!wait_for(cond_eof, l, 10000))
		g_test_fail_printf("the inhibitor fd was still open 10 s after Finished");
	else
		g_assert_cmpstr(l->phase_at_eof, ==, "idle");
	g_assert_cmpuint(l->calls, ==, 1);
	login1_free(l);
}

static guint
count_in_log(Harness *h, const char *needle)
{
	g_autofree char *path = g_build_filename(harness_tmpdir(h), "dfotad.log", NULL);
	g_autofree char *text = NULL;
	guint n = 0;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Without logind the upgrade goes on, and the daemon says so once. */
static void
test_no_logind(void)
{
	g_autoptr(Harness) h = harness_new(NULL);
	g_autoptr(GVariant) result = run_upgrade(h);

	g_assert_cmpuint(count_in_log(h, "no shutdown inhibitor lock"), ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/logind/inhibit-while-flashing", test_inhibit_while_flashing);
	g_test_add_func("/logind/absent", test_no_logind);
	return g_test_run();
}
