// SPDX-License-Identifier: LGPL-2.1-or-later
/* floor-modem: the least a D-Bus service can do for Modem.Command, the floor of benchmark 1.
 *
 * It owns a bus name, exports /org/dfotad1/Modem/0 with org.dfotad1.Modem.Command(su) -> s
 * and a read-only State "ready", and answers Command by writing the text and CR to a pty and
 * replying at the final result line (OK with the info lines, ERROR or +CME ERROR as a D-Bus
 * error); calls that arrive meanwhile wait in a plain FIFO. No checks, no bound, no timeout, no journal, no logging: what remains of a Command's
 * cost over Peer.Ping plus the pty is the D-Bus library's.
 *
 *   floor-modem --name NAME --pty PATH [--library gdbus|sd-bus]
 *
 * gdbus: GDBusConnection with the object registered from the main thread, as dfotad's
 *        skeletons are: GDBus reads and writes the socket on its worker thread and dispatches
 *        the call to the main context (two thread hops per call).
 * sd-bus: libsystemd's sd-bus on the main loop's own thread (no hop).
 * Exit status 0 on SIGTERM/SIGINT, 1 when it cannot start, 2 on a usage error.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define FLOOR_PATH "/org/dfotad1/Modem/0"
#define FLOOR_IFACE "org.dfotad1.Modem"

typedef struct {
	GMainLoop *loop;
	GDBusConnection *conn; /* gdbus */
	int pty;
	GString *in;   /* bytes not yet framed into lines */
	GString *info; /* the info lines of the answer in progress */
	GQueue calls;  /* Call: the head is on the line */
	sd_bus *bus;   /* sd-bus */
	int status;
} Floor;

typedef struct {
	char *line;                  /* the command and CR */
	GDBusMethodInvocation *call; /* gdbus */
	sd_bus_message *msg;         /* sd-bus */
} Call;

/* Takes the complete lines received so far: the info lines of the command in flight go to
 * f->info, and at its final result (OK, ERROR, +CME ERROR) returns TRUE with @error set to
 * the final line when it is not OK. */
static gboolean
take_final(Floor *f, char **error)
{
	char *nl;

	while ((nl = memchr(f->in->str, '\n', f->in->len))) {
		g_autofree char *line = g_strstrip(g_strndup(f->in->str, (gsize)(nl - f->in->str)));

		g_string_erase(f->in, 0, nl - f->in->str + 1);
		if (*line == '\0')
			continue;
		if (strcmp(line, "OK") == 0 || strcmp(line, "ERROR") == 0 ||
		    g_str_has_prefix(line, "+CME ERROR:")) {
			*error = strcmp(line, "OK") == 0 ? NULL : g_steal_pointer(&line);
			return TRUE;
		}
		if (f->info->len)
			g_string_append_c(f->info, '\n');
		g_string_append(f->info, line);
	}
	return FALSE;
}

static void
send_head(Floor *f)
{
	Call *call = g_queue_peek_head(&f->calls);
	size_t len = strlen(call->line);

	if (write(f->pty, call->line, len) != (ssize_t)len) {
		g_printerr("floor-modem: write: %s\n", g_strerror(errno));
		f->status = 1;
		g_main_loop_quit(f->loop);
	}
}

static void
reply(Floor *f, Call *call, const char *final)
{
	if (call->call && final)
		g_dbus_method_invocation_return_dbus_error(
		        call->call, "org.dfotad1.Error.CommandFailed", final);
	else if (call->call)
		g_dbus_method_invocation_return_value(call->call,
		                                      g_variant_new("(s)", f->info->str));
	if (!call->msg)
		return;
	if (final)
		sd_bus_reply_method_errorf(call->msg, "org.dfotad1.Error.CommandFailed", "%s",
		                           final);
	else
		sd_bus_reply_method_return(call->msg, "s", f->info->str);
	sd_bus_message_unref(call->msg);
	/* sd-bus writes at once unless the socket is full; then it must not wait for input */
	sd_bus_flush(f->bus);
}

static gboolean
on_pty(gint fd, GIOCondition cond, gpointer user_data)
{
	Floor *f = user_data;
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf);
	char *final = NULL;
	Call *call;

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return G_SOURCE_CONTINUE;
		g_printerr("floor-modem: the pty closed\n");
		f->status = 1;
		g_main_loop_quit(f->loop);
		return G_SOURCE_REMOVE;
	}
	g_string_append_len(f->in, buf, n);
	while (take_final(f, &final)) {
		if (!(call = g_queue_pop_head(&f->calls))) {
			/* not ours (the ATE0 of the start, say) */
			g_string_truncate(f->info, 0);
			g_clear_pointer(&final, g_free);
			continue;
		}
		/* the next command first, as dfotad's channel does */
		if (!g_queue_is_empty(&f->calls))
			send_head(f);
		reply(f, call, final);
		g_string_truncate(f->info, 0);
		g_clear_pointer(&final, g_free);
		g_free(call->line);
		g_free(call);
	}
	return G_SOURCE_CONTINUE;
}

/* Queues a call; writes it at once when the line is free. */
static void
enqueue(Floor *f, const char *command, GDBusMethodInvocation *invocation, sd_bus_message *msg)
{
	Call *call = g_new0(Call, 1);

	call->line = g_strconcat(command, "\r", NULL);
	call->call = invocation;
	call->msg = msg ? sd_bus_message_ref(msg) : NULL;
	g_queue_push_tail(&f->calls, call);
	if (f->calls.length == 1)
		send_head(f);
}

/* ---- GDBus ---- */

static void
gdbus_method_call(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                  const char *method, GVariant *params, GDBusMethodInvocation *invocation,
                  gpointer user_data)
{
	Floor *f = user_data;
	const char *command;
	guint32 timeout;

	g_variant_get(params, "(&su)", &command, &timeout);
	enqueue(f, command, invocation, NULL);
}

static GVariant *
gdbus_get_property(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                   const char *name, GError **error, gpointer user_data)
{
	return g_variant_new_string("ready");
}

static const char introspection[] = "<node><interface name='" FLOOR_IFACE "'>"
                                    "<method name='Command'><arg type='s' direction='in'/>"
                                    "<arg type='u' direction='in'/>"
                                    "<arg type='s' direction='out'/></method>"
                                    "<property name='State' type='s' access='read'/>"
                                    "</interface></node>";

static void
on_name_lost(GDBusConnection *conn, const char *name, gpointer user_data)
{
	Floor *f = user_data;

	g_printerr("floor-modem: cannot own %s\n", name);
	f->status = 1;
	g_main_loop_quit(f->loop);
}

static gboolean
start_gdbus(Floor *f, const char *name, GError **error)
{
	static const GDBusInterfaceVTable vtable = {
		gdbus_method_call, gdbus_get_property, NULL, { 0 }
	};
	g_autoptr(GDBusNodeInfo) info = NULL;

	if (!(f->conn = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, error)) ||
	    !(info = g_dbus_node_info_new_for_xml(introspection, error)) ||
	    !g_dbus_connection_register_object(f->conn, FLOOR_PATH, info->interfaces[0], &vtable, f,
	                                       NULL, error))
		return FALSE;
	g_bus_own_name_on_connection(f->conn, name, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, NULL,
	                             on_name_lost, f, NULL);
	return TRUE;
}

/* ---- sd-bus ---- */

static int
sdbus_command(sd_bus_message *m, void *user_data, sd_bus_error *error)
{
	Floor *f = user_data;
	const char *command;
	uint32_t timeout;
	int r = sd_bus_message_read(m, "su", &command, &timeout);

	if (r < 0)
		return r;
	enqueue(f, command, NULL, m);
	return 1;
}

static int
sdbus_state(sd_bus *bus, const char *path, const char *iface, const char *property,
            sd_bus_message *reply, void *user_data, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", "ready");
}

static const sd_bus_vtable sdbus_vtable[] = {
	SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Command", "su", "s", sdbus_command, 0),
	SD_BUS_PROPERTY("State", "s", sdbus_state, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_VTABLE_END
};

static gboolean
on_sdbus(gint fd, GIOCondition cond, gpointer user_data)
{
	Floor *f = user_data;
	int r;

	while ((r = sd_bus_process(f->bus, NULL)) > 0)
		;
	if (r < 0) {
		g_printerr("floor-modem: sd-bus: %s\n", g_strerror(-r));
		f->status = 1;
		g_main_loop_quit(f->loop);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
start_sdbus(Floor *f, const char *name, GError **error)
{
	int r;

	if ((r = sd_bus_open_user(&f->bus)) < 0 ||
	    (r = sd_bus_add_object_vtable(f->bus, NULL, FLOOR_PATH, FLOOR_IFACE, sdbus_vtable, f)) <
	            0 ||
	    (r = sd_bus_request_name(f->bus, name, 0)) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "sd-bus: %s",
		            g_strerror(-r));
		return FALSE;
	}
	/* sd-bus writes a reply at once when its queue is empty; only input needs the loop */
	g_unix_fd_add(sd_bus_get_fd(f->bus), G_IO_IN, on_sdbus, f);
	on_sdbus(-1, G_IO_IN, f);
	return TRUE;
}

/* ---- main ---- */

/* Opens the pty raw, turns echo off as dfotad keeps its module, then non-blocking. */
static int
open_pty(const char *path, GError **error)
{
	int fd = bench_pty_open(path, error);

	if (fd < 0)
		return -1;
	if (!bench_pty_roundtrip(fd, "ATE0", 5, error) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		if (error && !*error)
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
			            g_strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static gboolean
on_term(gpointer user_data)
{
	g_main_loop_quit(((Floor *)user_data)->loop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree char *name = NULL, *pty = NULL, *library = NULL;
	GOptionEntry entries[] = {
		{ "name", 0, 0, G_OPTION_ARG_STRING, &name, "bus name to own", "NAME" },
		{ "pty", 0, 0, G_OPTION_ARG_FILENAME, &pty, "the simulator's pty", "PATH" },
		{ "library", 0, 0, G_OPTION_ARG_STRING, &library, "gdbus (default) or sd-bus",
		  "LIB" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- the floor of a Command");
	g_autoptr(GError) error = NULL;
	Floor f = { .pty = -1 };
	gboolean ok;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || !name || !pty ||
	    (library && !g_str_equal(library, "gdbus") && !g_str_equal(library, "sd-bus"))) {
		g_printerr("floor-modem: %s\n", error ? error->message
		                                      : "--name and --pty are required; --library "
		                                        "is gdbus or sd-bus");
		return 2;
	}
	if ((f.pty = open_pty(pty, &error)) < 0) {
		g_printerr("floor-modem: %s\n", error->message);
		return 1;
	}
	f.loop = g_main_loop_new(NULL, FALSE);
	f.in = g_string_new(NULL);
	f.info = g_string_new(NULL);
	g_unix_fd_add(f.pty, G_IO_IN, on_pty, &f);
	g_unix_signal_add(SIGTERM, on_term, &f);
	g_unix_signal_add(SIGINT, on_term, &f);
	ok = library && g_str_equal(library, "sd-bus") ? start_sdbus(&f, name, &error)
	                                               : start_gdbus(&f, name, &error);
	if (ok)
		g_main_loop_run(f.loop);
	else
		g_printerr("floor-modem: %s\n", error->message);
	for (Call *call; (call = g_queue_pop_head(&f.calls));) {
		if (call->call)
			g_dbus_method_invocation_return_dbus_error(
			        call->call, "org.dfotad1.Error.Busy", "floor-modem is stopping");
		if (call->msg)
			sd_bus_message_unref(call->msg);
		g_free(call->line);
		g_free(call);
	}
	if (f.bus)
		sd_bus_flush_close_unref(f.bus);
	g_clear_object(&f.conn);
	close(f.pty);
	g_string_free(f.in, TRUE);
	g_string_free(f.info, TRUE);
	g_main_loop_unref(f.loop);
	return ok ? f.status : 1;
}
