/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfotactl: the command-line client of dfotad. It talks to the daemon only over D-Bus, through
 * proxies generated from the same introspection XML, and links none of the daemon's code.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "dfota-dbus-generated.h"

#define DFOTA_BUS_NAME "org.dfotad1"
#define DFOTA_ROOT_PATH "/org/dfotad1"
#define DFOTA_FOTA_IFACE "org.dfotad1.Fota"
#define DFOTA_MODEM_IFACE "org.dfotad1.Modem"

typedef enum {
	DFOTACTL_EXIT_OK = 0,
	DFOTACTL_EXIT_FAILED = 1,
	DFOTACTL_EXIT_USAGE = 2,
	DFOTACTL_EXIT_UNREACHABLE = 3,
} DfotactlExit;

/* Everything one invocation needs: parsed options, then the connection to the daemon. */
typedef struct {
	gboolean session;
	gboolean json;
	gboolean no_wait;
	gboolean tty;           /* stdout is a terminal: draw live progress bars */
	gchar *modem_path;      /* /org/dfotad1/Modem/N */
	GHashTable *opts;       /* command options: name without "--" -> value ("" for flags) */
	GPtrArray *args;        /* positional arguments after the command name */
	const char *subcommand; /* "ls" of "files ls", or NULL */

	GDBusConnection *bus;
	GDBusObjectManager *manager;
	DfotaDBusModem *modem;
	DfotaDBusFota *fota;
	DfotaDBusFiles *files;

	GMainLoop *loop;
	int exit_status;
	gboolean daemon_gone; /* org.dfotad1 lost its owner since we connected */
} Dfotactl;

/* dfotactl.c */

/* Prints a failed call's error as "dfotactl: <error name>: <message>" and returns the exit
 * status it deserves: 3 when the daemon or the modem object vanished, 1 otherwise. */
int dfotactl_report_error(const GError *error);

/* Prints @node as one line of JSON on stdout and flushes it. */
void dfotactl_print_json(JsonNode *node);

/* A JSON object builder with "event": @event already added; end it with json_builder_end_object. */
JsonBuilder *dfotactl_json_event(const char *event);

/* Looks up a key of an a{sv} dictionary: the string, or @fallback when absent or not a string. */
const char *dfotactl_dict_str(GVariant *dict, const char *key, const char *fallback);

/* The fresh interface proxy of the selected modem (the daemon may have restarted since). */
GDBusProxy *dfotactl_lookup_iface(Dfotactl *ctl, const char *iface);

/* dfotactl-job.c: the commands that start a FOTA job and follow it. */
int dfotactl_cmd_upgrade(Dfotactl *ctl);
int dfotactl_cmd_fetch_mcu(Dfotactl *ctl);
int dfotactl_cmd_cancel(Dfotactl *ctl);

/* Prints a LastResult / Finished dictionary for humans (stdout; the error also on stderr). */
void dfotactl_print_result(GVariant *result);

/* dfotactl-info.c: everything that does not start a job. */
int dfotactl_cmd_status(Dfotactl *ctl);
int dfotactl_cmd_monitor(Dfotactl *ctl);
int dfotactl_cmd_at(Dfotactl *ctl);
int dfotactl_cmd_refresh(Dfotactl *ctl);
int dfotactl_cmd_files(Dfotactl *ctl);
