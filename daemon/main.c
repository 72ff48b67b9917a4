// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfotad: options, configuration, the bus name, signals and systemd notification.
 * Everything else lives in the layers below (daemon/service, fota, modem, at, common). */
#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "dfota-config.h"
#include "dfota-fetcher.h"
#include "dfota-log.h"
#include "dfota-metrics.h"
#include "dfota-service.h"
#include "dfotad-config.h"

/* How long stopping waits for a journal record on its way to the disk (normally 1-3 ms). */
#define SHUTDOWN_FLUSH_MS 10000

typedef struct {
	GMainLoop *loop;
	DfotaConfig config;
	gboolean session;
	DfotaFetcher *fetcher;
	GPtrArray *modems; /* DfotaModem */
	GPtrArray *fotas;  /* DfotaFota */
	DfotaService *service;
	DfotaMetrics *metrics; /* NULL without metrics-file */
	gboolean name_owned;
	int exit_status;
} Daemon;

static void
on_status_changed(DfotaService *service, gpointer user_data)
{
	g_autofree char *status = dfota_service_describe(service);

	sd_notifyf(0, "STATUS=%s", status);
}

static void
on_bus_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
	Daemon *d = user_data;

	d->service = dfota_service_new(connection, d->session);
	g_signal_connect(d->service, "status-changed", G_CALLBACK(on_status_changed), d);
	for (guint i = 0; i < d->modems->len; i++)
		dfota_service_add_modem(d->service, d->modems->pdata[i], d->fotas->pdata[i]);
	for (guint i = 0; i < d->modems->len; i++)
		dfota_modem_start(d->modems->pdata[i]);
}

static void
on_name_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
	Daemon *d = user_data;

	d->name_owned = TRUE;
	g_message("dfotad %s owns %s on the %s bus", DFOTAD_VERSION, name,
	          d->session ? "session" : "system");
	sd_notify(0, "READY=1");
}

static void
on_name_lost(GDBusConnection *connection, const char *name, gpointer user_data)
{
	Daemon *d = user_data;

	if (!connection)
		g_printerr("dfotad: cannot connect to the %s bus\n",
		           d->session ? "session" : "system");
	else
		g_printerr("dfotad: cannot own %s: %s\n", name,
		           d->name_owned ? "the name was taken away"
		                         : "another dfotad runs, or the bus policy forbids it");
	d->exit_status = 1;
	g_main_loop_quit(d->loop);
}

static gboolean
on_terminate(gpointer user_data)
{
	Daemon *d = user_data;

	g_message("stopping on signal");
	sd_notify(0, "STOPPING=1");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_watchdog(gpointer user_data)
{
	sd_notify(0, "WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree char *config_file = NULL, *port = NULL, *state_dir = NULL;
	gint baud = 0;
	gboolean verbose = FALSE, version = FALSE;
	Daemon d = { 0 };
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file",
		  "FILE" },
		{ "port", 'p', 0, G_OPTION_ARG_FILENAME, &port, "The modem's tty (Modem/0)",
		  "PATH" },
		{ "baud", 'b', 0, G_OPTION_ARG_INT, &baud, "Line rate of --port (115200)", "N" },
		{ "session", 0, 0, G_OPTION_ARG_NONE, &d.session, "Use the session bus", NULL },
		{ "state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir, "Job records", "DIR" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log AT traffic and details",
		  NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- Quectel BC65/BC92 DFOTA daemon");
	g_autoptr(GError) error = NULL;
	DfotaConfigArgs args = { 0 };
	guint owner_id;
	guint64 watchdog_usec = 0;

	setlocale(LC_ALL, "");
	g_log_set_writer_func(dfota_log_writer_redacting, NULL, NULL);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("dfotad: %s (see --help)\n", error->message);
		return 1;
	}
	if (version) {
		g_print("dfotad %s\n", DFOTAD_VERSION);
		return 0;
	}
	if (argc > 1 || baud < 0) {
		g_printerr("dfotad: unexpected argument %s (see --help)\n",
		           argc > 1 ? argv[1] : "");
		return 1;
	}
	if (verbose)
		g_log_set_debug_enabled(TRUE);
	args.config_file = config_file;
	args.port = port;
	args.baud = (guint)baud;
	args.state_dir = state_dir;
	args.session = d.session;
	if (!dfota_config_load(&d.config, &args, &error)) {
		g_printerr("dfotad: %s\n", error->message);
		return 1;
	}

	d.loop = g_main_loop_new(NULL, FALSE);
	d.fetcher = dfota_fetcher_new();
	d.modems = g_ptr_array_new_with_free_func(g_object_unref);
	d.fotas = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < d.config.modems->len; i++) {
		DfotaModemSetup *setup = d.config.modems->pdata[i];
		DfotaModem *modem = dfota_modem_new(&setup->modem);

		g_ptr_array_add(d.modems, modem);
		g_ptr_array_add(d.fotas, dfota_fota_new(modem, d.fetcher, &setup->fota));
	}
	if (d.config.metrics_file) {
		d.metrics = dfota_metrics_new(d.config.metrics_file);
		for (guint i = 0; i < d.modems->len; i++)
			dfota_metrics_add_modem(d.metrics, i, d.modems->pdata[i],
			                        d.fotas->pdata[i]);
	}
	g_unix_signal_add(SIGTERM, on_terminate, &d);
	g_unix_signal_add(SIGINT, on_terminate, &d);
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0)
		g_timeout_add(MAX(watchdog_usec / 2000, 1), on_watchdog, &d);
	owner_id = g_bus_own_name(d.session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, "org.dfotad1",
	                          G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, on_bus_acquired,
	                          on_name_acquired, on_name_lost, &d, NULL);
	g_main_loop_run(d.loop);

	g_bus_unown_name(owner_id);
	for (guint i = 0; i < d.fotas->len; i++)
		dfota_fota_shutdown(d.fotas->pdata[i], SHUTDOWN_FLUSH_MS);
	/* The answers the shutdown gave (NotReady to calls still waiting) leave before we do:
	 * their completions run, then the bus connection is flushed. */
	for (guint i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
		;
	if (d.service)
		g_dbus_connection_flush_sync(dfota_service_get_connection(d.service), NULL, NULL);
	for (guint i = 0; i < d.modems->len; i++)
		dfota_modem_stop(d.modems->pdata[i]);
	g_clear_object(&d.service);
	if (d.metrics)
		dfota_metrics_write(d.metrics, NULL);
	g_clear_object(&d.metrics);
	g_ptr_array_unref(d.fotas);
	g_ptr_array_unref(d.modems);
	g_clear_object(&d.fetcher);
	g_main_loop_unref(d.loop);
	dfota_config_clear(&d.config);
	return d.exit_status;
}
