// SPDX-License-Identifier: LGPL-2.1-or-later
/* harness.h: fixture for the daemon integration tests.
 *
 * Every test gets its own temporary directory, private dbus-daemon, tests/httpd.py on
 * 127.0.0.1, a dfota-sim on a pseudo-terminal and the built dfotad, all real processes
 * tracked by PID. The paths of the binaries come from meson through the environment
 * (DFOTAD, DFOTA_SIM, HTTPD, PYTHON, DBUS_DAEMON). Every wait has a deadline and returns when
 * an event (a D-Bus message, a file change, a child exit) makes its condition true.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define HARNESS_BUS_NAME "org.dfotad1"
#define HARNESS_MODEM_PATH "/org/dfotad1/Modem/0"
#define HARNESS_IFACE_MODEM "org.dfotad1.Modem"
#define HARNESS_IFACE_FOTA "org.dfotad1.Fota"
#define HARNESS_IFACE_FILES "org.dfotad1.Files"
#define HARNESS_IFACE_PROPS "org.freedesktop.DBus.Properties"
#define HARNESS_ERROR_PREFIX "org.dfotad1.Error."

/* The simulator's revision at boot unless a test passes its own --revision. */
#define HARNESS_REV_FROM "BC65JAR01A01"
#define HARNESS_REV_TO "BC65JAR01A02"

typedef struct {
	/* Extra simulator arguments (NULL-terminated), after the harness's own defaults, so a
	 * later --revision or --time-scale wins. */
	const char *const *sim_args;
	/* Extra "key=value" lines for the config file's [daemon] group (NULL-terminated). */
	const char *const *daemon_keys;
	/* Do not wait for Modem.State "ready" after start (tests of not-ready modems). */
	gboolean no_wait_ready;
} HarnessOptions;

typedef enum {
	HARNESS_EVENT_SIGNAL,
	HARNESS_EVENT_REPLY, /* method return or error on the main connection */
} HarnessEventType;

/* One message received on the main connection, recorded in arrival order by a GDBus filter
 * (the connection's worker thread), so the order of replies and signals is the wire order. */
typedef struct {
	guint64 seq;
	gint64 time_us;
	HarnessEventType type;
	char *path;
	char *iface;
	char *member; /* for replies: the error name, or NULL */
	guint32 reply_serial;
	GVariant *body; /* never NULL: an empty tuple when the message had none */
} HarnessEvent;

typedef struct _Harness Harness;

/* Starts everything and waits for the daemon's name and, unless opts->no_wait_ready, for
 * Modem.State "ready". Fails the test (g_assert) when something does not come up in time. */
Harness *harness_new(const HarnessOptions *opts);

/* Stops the daemon, simulator, httpd and bus by PID (SIGTERM, then SIGKILL after a deadline),
 * checks that the daemon stopped cleanly, prints its log when the test failed, and removes
 * the temporary directory (kept when DFOTA_TEST_KEEP is set). */
void harness_free(Harness *h);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Harness, harness_free)

GDBusConnection *harness_bus(Harness *h);
const char *harness_tmpdir(Harness *h);
const char *harness_link_path(Harness *h);

/* A new, separate connection to the private bus (another client). */
GDBusConnection *harness_new_client(Harness *h);

/* Writes "dfota-sim --make-package" output into the HTTP root as @name. @extra: further
 * arguments (NULL-terminated, may be NULL), e.g. "--corrupt". */
void harness_make_package(Harness *h, const char *name, const char *model, const char *from,
                          const char *to, const char *const *extra);

/* "http://127.0.0.1:<port>/<path>" on the test's httpd. */
char *harness_url(Harness *h, const char *path);

/* Sends one line to the simulator's control FIFO. */
void harness_control(Harness *h, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Calls @method on the modem object over @conn (NULL: the main connection). @out_serial gets
 * the call's serial, to find its reply among the recorded events. */
GVariant *harness_call(Harness *h, GDBusConnection *conn, const char *iface, const char *method,
                       GVariant *params, guint32 *out_serial, GError **error);

/* Modem.Command through @conn (NULL: main connection); returns the response. */
char *harness_command(Harness *h, GDBusConnection *conn, const char *command, guint timeout_ms,
                      GError **error);

/* Properties.Get on the modem object; asserts the call succeeds. */
GVariant *harness_get_property(Harness *h, const char *iface, const char *name);

/* Waits until the property equals @expected (floating refs are sunk), re-reading it whenever
 * a signal arrives. */
gboolean harness_wait_property(Harness *h, const char *iface, const char *name, GVariant *expected,
                               guint timeout_ms);

/* Waits until @pred holds for the property's value, re-reading it whenever a signal arrives. */
gboolean harness_wait_property_cond(Harness *h, const char *iface, const char *name,
                                    gboolean (*pred)(GVariant *value), guint timeout_ms);

/* The sequence number the next recorded event will get: a marker for "since now". */
guint64 harness_mark(Harness *h);

/* Snapshot of the events recorded since @since, in order. Elements are owned by the harness
 * and valid until harness_free(). */
GPtrArray *harness_events(Harness *h, guint64 since);

/* Number of signals @iface.@member on the modem object since @since. */
guint harness_count_signals(Harness *h, guint64 since, const char *iface, const char *member);

/* Waits until at least @n such signals were recorded since @since. */
gboolean harness_wait_signals(Harness *h, guint64 since, const char *iface, const char *member,
                              guint n, guint timeout_ms);

/* Waits for the job's Finished (since @since), then does a round trip through the daemon and
 * asserts that Finished came exactly once. Returns the result dictionary. */
GVariant *harness_wait_finished(Harness *h, guint64 since, guint timeout_ms);

/* A round trip through the daemon (a property read): every signal the daemon emitted before
 * answering it has been recorded when this returns. */
void harness_round_trip(Harness *h);

/* Lines the simulator received from the host (its log's "> " lines, prefix stripped). */
GPtrArray *harness_tty_lines(Harness *h);

/* Number of lines received so far: a marker for harness_wait_tty/harness_tty_find. */
guint harness_tty_mark(Harness *h);

/* Index (>= @from) of the first received line that starts with @prefix, or -1. */
int harness_tty_find(Harness *h, guint from, const char *prefix);

/* Waits until a received line (index >= @from) starts with @prefix; its index or -1. */
int harness_wait_tty(Harness *h, guint from, const char *prefix, guint timeout_ms);

/* Runs a client program (e.g. dfotactl) with DBUS_SESSION_BUS_ADDRESS set to @bus_address
 * (NULL: the test's bus), collects its output, and returns its exit status (-1 when it did
 * not exit normally). Fails the test when it does not finish within @timeout_ms. */
int harness_run(Harness *h, const char *const *argv, const char *bus_address, char **out,
                char **err, guint timeout_ms);

/* Asserts @error is the D-Bus error org.dfotad1.Error.@name. */
#define harness_assert_error(error, name) \
	harness_assert_error_impl((error), (name), __FILE__, __LINE__)
void harness_assert_error_impl(const GError *error, const char *name, const char *file, int line);

/* TRUE when @value (a LastResult/Finished "error") names org.dfotad1.Error.@name, written
 * either in full or as the short name. */
gboolean harness_error_name_is(const char *value, const char *name);

/* g_test_message() of "@what: <@value printed>". */
void harness_message_variant(const char *what, GVariant *value);

/* Lookups in an a{sv} that assert the key is present with the right type. */
const char *harness_dict_str(GVariant *dict, const char *key);
gboolean harness_dict_bool(GVariant *dict, const char *key);
gint32 harness_dict_int(GVariant *dict, const char *key);
guint64 harness_dict_uint64(GVariant *dict, const char *key);

G_END_DECLS
