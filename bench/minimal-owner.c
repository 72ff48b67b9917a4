// SPDX-License-Identifier: LGPL-2.1-or-later
/* minimal-owner: the bare baseline of benchmarks 3 (URC), 6 (idle) and 7 (startup).
 *
 * A GLib program that owns a bus name on the session bus, sends READY=1 to NOTIFY_SOCKET once
 * it owns it, and otherwise does nothing. It is linked against the libraries dfotad links
 * (libcurl, libsystemd, libserialport) so that their load cost counts on both sides, but it
 * initialises none of them except sd_notify. With --fifo PATH it also emits one signal
 * org.dfotad1.BenchEmitter.Urc(s) per line written to PATH: the bare signal-latency baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <libserialport.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <curl/curl.h>

#define EMITTER_PATH "/org/dfotad1/BenchEmitter"
#define EMITTER_IFACE "org.dfotad1.BenchEmitter"

typedef struct {
	GMainLoop *loop;
	GDBusConnection *conn;
	int fifo_fd;
	int fifo_wfd;
	GString *line;
	int status;
} Owner;

static void
on_name_acquired(GDBusConnection *conn, const char *name, gpointer user_data)
{
	Owner *o = user_data;

	o->conn = conn;
	sd_notify(0, "READY=1");
}

static void
on_name_lost(GDBusConnection *conn, const char *name, gpointer user_data)
{
	Owner *o = user_data;

	g_printerr("minimal-owner: cannot own %s\n", name);
	o->status = 1;
	g_main_loop_quit(o->loop);
}

static gboolean
on_fifo(gint fd, GIOCondition cond, gpointer user_data)
{
	Owner *o = user_data;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof buf);
	char *nl;

	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR);
	g_string_append_len(o->line, buf, n);
	while ((nl = memchr(o->line->str, '\n', o->line->len))) {
		g_autofree char *text = g_strndup(o->line->str, (gsize)(nl - o->line->str));

		g_string_erase(o->line, 0, nl - o->line->str + 1);
		if (o->conn)
			g_dbus_connection_emit_signal(o->conn, NULL, EMITTER_PATH, EMITTER_IFACE,
			                              "Urc", g_variant_new("(s)", text), NULL);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
on_term(gpointer user_data)
{
	Owner *o = user_data;

	g_main_loop_quit(o->loop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree char *name = NULL, *fifo = NULL;
	GOptionEntry entries[] = {
		{ "name", 0, 0, G_OPTION_ARG_STRING, &name, "bus name to own", "NAME" },
		{ "fifo", 0, 0, G_OPTION_ARG_FILENAME, &fifo, "emit one signal per line", "PATH" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- minimal bus name owner");
	g_autoptr(GError) error = NULL;
	Owner o = { .fifo_fd = -1, .fifo_wfd = -1 };
	guint owner_id;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("minimal-owner: %s\n", error->message);
		return 2;
	}
	/* Referenced, never called: the libraries are loaded (and relocated) as in dfotad, which
	 * initialises libcurl only for its first host download. argc is never negative. */
	if (argc < 0) {
		struct sp_port **ports = NULL;

		curl_global_init(CURL_GLOBAL_DEFAULT);
		sp_list_ports(&ports);
	}
	o.loop = g_main_loop_new(NULL, FALSE);
	o.line = g_string_new(NULL);
	if (fifo) {
		if (mkfifo(fifo, 0600) < 0 && errno != EEXIST) {
			g_printerr("minimal-owner: mkfifo %s: %s\n", fifo, g_strerror(errno));
			return 1;
		}
		o.fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		/* our own writer: no EOF (and no spinning) between writers */
		o.fifo_wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (o.fifo_fd < 0 || o.fifo_wfd < 0) {
			g_printerr("minimal-owner: open %s: %s\n", fifo, g_strerror(errno));
			return 1;
		}
		g_unix_fd_add(o.fifo_fd, G_IO_IN, on_fifo, &o);
	}
	g_unix_signal_add(SIGTERM, on_term, &o);
	g_unix_signal_add(SIGINT, on_term, &o);
	owner_id = g_bus_own_name(G_BUS_TYPE_SESSION, name ? name : "org.dfotad1.BenchMinimal",
	                          G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, NULL, on_name_acquired,
	                          on_name_lost, &o, NULL);
	g_main_loop_run(o.loop);
	g_bus_unown_name(owner_id);
	if (o.fifo_fd >= 0)
		close(o.fifo_fd);
	if (o.fifo_wfd >= 0)
		close(o.fifo_wfd);
	g_string_free(o.line, TRUE);
	g_main_loop_unref(o.loop);
	return o.status;
}
