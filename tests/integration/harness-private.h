// SPDX-License-Identifier: LGPL-2.1-or-later
/* harness-private.h: what harness.c (processes, files) and harness-bus.c (D-Bus side)
 * share. Not for the tests themselves. */
#pragma once

#include "harness.h"

/* Generous: under ASan on a loaded 2-core CI machine processes start slowly. */
#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 5000
#define CALL_TIMEOUT_MS 30000

struct _Harness {
	char *tmpdir;
	char *link_path;
	char *sim_log_path;
	char *control_path;
	char *http_root;
	char *bus_address;
	guint http_port;
	int control_fd;

	GSubprocess *dbus_proc;
	GSubprocess *httpd_proc;
	GSubprocess *sim_proc;
	GSubprocess *daemon_proc;

	GDBusConnection *bus;
	guint filter_id;
	guint signal_sub;
	guint name_watch;
	gboolean name_owned;
	GFileMonitor *monitor;

	GMutex lock; /* guards events and next_seq: the filter runs in GDBus's worker thread */
	GPtrArray *events;
	guint64 next_seq;
	guint64 n_signals;
	guint n_controls; /* control lines sent: the simulator acknowledges each on stdout */
};

typedef gboolean (*HarnessCond)(Harness *h, gpointer data);

/* Iterates the default main context until @cond holds or @timeout_ms passed; see harness.c. */
gboolean harness_wait(Harness *h, HarnessCond cond, gpointer data, guint timeout_ms,
                      const char *what);

/* The file's contents, or "" when it cannot be read (yet). */
char *read_file_or_empty(const char *path);

/* The GDBus filter that records every message of the main connection (harness-bus.c). */
GDBusMessage *harness_record_filter(GDBusConnection *conn, GDBusMessage *msg, gboolean incoming,
                                    gpointer data);
void harness_event_free(gpointer data);
void harness_on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                       const char *member, GVariant *params, gpointer data);
void harness_on_name_appeared(GDBusConnection *c, const char *name, const char *owner,
                              gpointer data);
void harness_on_name_vanished(GDBusConnection *c, const char *name, gpointer data);
