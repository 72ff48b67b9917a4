// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-hawkbit: connects dfotad to an Eclipse hawkBit server through its Direct Device
 * Integration API. Options, configuration, the bus, signals and sd_notify; the DDI
 * conversation itself is in bridge.c. */
#include "bridge-config.h"
#include "bridge.h"
#include "dfotad-config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <systemd/sd-daemon.h>

static gboolean
on_quit(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree char *config_path = NULL;
	g_autofree char *state_dir = NULL;
	gboolean session = FALSE, verbose = FALSE;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Configuration file (default " DFOTAD_SYSCONFDIR "/dfotad/hawkbit.conf)",
		  "FILE" },
		{ "session", 0, 0, G_OPTION_ARG_NONE, &session, "Talk to dfotad on the session bus",
		  NULL },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
		  "Where the action in progress is kept (default /var/lib/dfota-hawkbit)", "DIR" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- hawkBit DDI bridge for dfotad");
	g_autoptr(GError) error = NULL;
	g_autoptr(BridgeConfig) config = NULL;
	g_autoptr(GDBusConnection) bus = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	Bridge *bridge;

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("dfota-hawkbit: %s\n", error->message);
		return 2;
	}
	if (argc > 1) {
		g_printerr("dfota-hawkbit: unexpected argument \"%s\"\n", argv[1]);
		return 2;
	}
	if (verbose)
		g_log_set_debug_enabled(TRUE);
	if (config_path == NULL)
		config_path = g_build_filename(DFOTAD_SYSCONFDIR, "dfotad", "hawkbit.conf", NULL);
	config = bridge_config_load(config_path, &error);
	if (config == NULL) {
		g_printerr("dfota-hawkbit: %s\n", error->message);
		return 1;
	}
	if (state_dir == NULL)
		state_dir =
		        session ? g_build_filename(g_get_user_state_dir(), "dfota-hawkbit", NULL)
		                : g_strdup("/var/lib/dfota-hawkbit");
	if (g_mkdir_with_parents(state_dir, 0700) != 0) {
		g_printerr("dfota-hawkbit: cannot create %s: %s\n", state_dir, g_strerror(errno));
		return 1;
	}
	bus = g_bus_get_sync(session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, &error);
	if (bus == NULL) {
		g_printerr("dfota-hawkbit: cannot connect to the bus: %s\n", error->message);
		return 3; /* not a configuration error: worth a restart */
	}
	g_dbus_connection_set_exit_on_close(bus, FALSE);

	loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, on_quit, loop);
	g_unix_signal_add(SIGINT, on_quit, loop);
	bridge = bridge_new(config, bus, state_dir);
	bridge_start(bridge);
	g_message("polling %s/%s/controller/v1/%s for modem %u (download=%s)", config->server,
	          config->tenant, config->controller_id, config->modem,
	          config->download_module ? "module" : "host");
	sd_notify(0, "READY=1\nSTATUS=polling hawkBit");
	g_main_loop_run(loop);
	sd_notify(0, "STOPPING=1");
	bridge_free(bridge);
	return 0;
}
