// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-access.c: who may call the daemon's methods. The daemon runs as an unprivileged user
 * created for the test, on a private system-type bus whose policy is the shipped
 * dbus/org.dfotad1.conf (included unchanged; the test's own configuration lets the daemon's
 * user own the name), and once more behind a permissive policy, where only the daemon's own
 * check stands between a caller and the tty; then on a session bus.
 * Callers run as further users created for the test: one in group "dfota" (the name is the
 * daemon's, so an existing group is used as it is), one outside it. Creating users needs root:
 * CI runs as root, so there these tests run; elsewhere they skip and say why.
 *
 * A caller is this executable run again as "--caller ADDRESS COMMAND" under the caller's
 * credentials; it prints one line per call, then counts the daemon's signals until a job's
 * Finished (root starts one that fails fast): on the system bus only root and group dfota
 * receive Urc (the policy's receive rules), everyone gets Progress, Finished and
 * PropertiesChanged. A bus delivers one sender's signals in order, so the Urc lines of the
 * job (HTTPSTART at least) reach a caller before its Finished, or never. */
#include "helper-fixture.h"

#include <gio/gunixfdlist.h>
#include <pwd.h>

#define AUTH_GROUP "dfota"
#define USER_PREFIX "dfotest-"
#define DAEMON_DENIED "org.dfotad1.Error.AccessDenied"
#define BUS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
/* Nothing listens there: the module's download fails at once (HTTPSTART, HTTPEND). */
#define FAILING_URL "http://127.0.0.1:1/fota.pack"

/* Every method of Modem, Fota and Files, with arguments that a permitted caller gets past the
 * authorization with and that start nothing: Command, Refresh and List succeed, the others
 * fail their argument or state checks with a daemon error. */
typedef struct {
	const char *iface;
	const char *method;
	const char *signature; /* of the arguments; 'h' gets /dev/null */
	gboolean succeeds;     /* for a permitted caller */
} Method;

static const Method methods[] = {
	{ "org.dfotad1.Modem", "Command", "(su)", TRUE },
	{ "org.dfotad1.Modem", "Refresh", "()", TRUE },
	{ "org.dfotad1.Fota", "Upgrade", "(s)", FALSE },
	{ "org.dfotad1.Fota", "UpgradeLocal", "()", FALSE },
	{ "org.dfotad1.Fota", "UpgradeViaHost", "(sa{sv})", FALSE },
	{ "org.dfotad1.Fota", "UpgradeFromFile", "(ha{sv})", FALSE },
	{ "org.dfotad1.Fota", "FetchMcuFile", "(ss)", FALSE },
	{ "org.dfotad1.Fota", "Cancel", "()", FALSE },
	{ "org.dfotad1.Files", "List", "()", TRUE },
	{ "org.dfotad1.Files", "Delete", "(s)", FALSE },
	{ "org.dfotad1.Files", "Upload", "(sh)", FALSE },
	{ "org.dfotad1.Files", "Download", "(sh)", FALSE },
};

static GVariant *
method_args(const Method *m, const char *command)
{
	GVariantBuilder opts;

	if (strcmp(m->method, "Command") == 0)
		return g_variant_new("(su)", command, 5000);
	if (strcmp(m->method, "Upgrade") == 0)
		return g_variant_new("(s)", "ftp://127.0.0.1/fota.pack");
	if (strcmp(m->method, "UpgradeViaHost") == 0) {
		g_variant_builder_init(&opts, G_VARIANT_TYPE("a{sv}"));
		return g_variant_new("(s@a{sv})", "ftp://127.0.0.1/fota.pack",
		                     g_variant_builder_end(&opts));
	}
	if (strcmp(m->method, "UpgradeFromFile") == 0) {
		g_variant_builder_init(&opts, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&opts, "{sv}", "no-such-option", g_variant_new_boolean(TRUE));
		return g_variant_new("(h@a{sv})", 0, g_variant_builder_end(&opts));
	}
	if (strcmp(m->method, "FetchMcuFile") == 0)
		return g_variant_new("(ss)", "ftp://127.0.0.1/mcu.bin", "");
	if (strcmp(m->method, "Delete") == 0)
		return g_variant_new("(s)", "no/such/file");
	if (strcmp(m->method, "Upload") == 0 || strcmp(m->method, "Download") == 0)
		return g_variant_new("(sh)", "no/such/file", 0);
	return NULL;
}

/* Calls every method, reads properties and objects; one line each into @out:
 * "<Method> OK" or "<Method> ERR <error name>", "Get/GetAll/GetManagedObjects ...". */
static void
run_calls(GDBusConnection *conn, const char *command, GString *out)
{
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		const Method *m = &methods[i];
		g_autoptr(GUnixFDList) fds = NULL;
		g_autoptr(GVariant) ret = NULL;
		g_autoptr(GError) error = NULL;

		if (strchr(m->signature, 'h') != NULL) {
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

			fds = g_unix_fd_list_new_from_array(&fd, 1);
		}
		ret = g_dbus_connection_call_with_unix_fd_list_sync(
		        conn, FIX_BUS_NAME, FIX_MODEM_PATH, m->iface, m->method,
		        method_args(m, command), NULL, G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, fds,
		        NULL, NULL, &error);
		if (ret != NULL) {
			g_string_append_printf(out, "%s OK\n", m->method);
		} else {
			g_autofree char *name = g_dbus_error_get_remote_error(error);

			g_string_append_printf(out, "%s ERR %s\n", m->method,
			                       name != NULL ? name : error->message);
		}
	}
	for (guint i = 0; i < 3; i++) {
		static const char *const what[] = { "Get", "GetAll", "GetManagedObjects" };
		g_autoptr(GVariant) ret = NULL;
		g_autoptr(GError) error = NULL;

		if (i == 0)
			ret = g_dbus_connection_call_sync(
			        conn, FIX_BUS_NAME, FIX_MODEM_PATH,
			        "org.freedesktop.DBus.Properties", "Get",
			        g_variant_new("(ss)", "org.dfotad1.Modem", "State"), NULL,
			        G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, &error);
		else if (i == 1)
			ret = g_dbus_connection_call_sync(
			        conn, FIX_BUS_NAME, FIX_MODEM_PATH,
			        "org.freedesktop.DBus.Properties", "GetAll",
			        g_variant_new("(s)", "org.dfotad1.Fota"), NULL,
			        G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, &error);
		else
			ret = g_dbus_connection_call_sync(
			        conn, FIX_BUS_NAME, "/org/dfotad1",
			        "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
			        NULL, G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, &error);
		if (ret != NULL) {
			g_autofree char *text = g_variant_print(ret, FALSE);

			g_string_append_printf(out, "%s OK %.60s\n", what[i], text);
		} else {
			g_autofree char *name = g_dbus_error_get_remote_error(error);

			g_string_append_printf(out, "%s ERR %s\n", what[i],
			                       name != NULL ? name : error->message);
		}
	}
}

/* ---- the caller process ---------------------------------------------------------------- */

typedef struct {
	guint urc, progress, finished, props;
	char *first_urc;
} Signals;

static void
on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
          const char *member, GVariant *params, gpointer data)
{
	Signals *s = data;

	if (strcmp(member, "Urc") == 0) {
		s->urc++;
		if (s->first_urc == NULL && g_variant_is_of_type(params, G_VARIANT_TYPE("(s)")))
			g_variant_get(params, "(s)", &s->first_urc);
	} else if (strcmp(member, "Progress") == 0) {
		s->progress++;
	} else if (strcmp(member, "Finished") == 0) {
		s->finished++;
	} else if (strcmp(member, "PropertiesChanged") == 0) {
		s->props++;
	}
}

static gboolean
cond_finished(gpointer data)
{
	return ((Signals *)data)->finished > 0;
}

static int
caller_main(const char *address, const char *command)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) conn = g_dbus_connection_new_for_address_sync(
	        address,
	        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
	                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	        NULL, NULL, &error);
	g_autoptr(GString) out = g_string_new(NULL);
	Signals sig = { 0 };
	guint sub;

	if (conn == NULL) {
		printf("CONNECT ERR %s\n", error->message);
		return 2;
	}
	printf("UID %u\n", (guint)getuid());
	/* Every signal of the daemon: one match rule, as a monitoring client would add. */
	sub = g_dbus_connection_signal_subscribe(conn, FIX_BUS_NAME, NULL, NULL, NULL, NULL,
	                                         G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &sig, NULL);
	/* The calls also order the AddMatch before "SUBSCRIBED": the bus handles one
	 * connection's messages in order. */
	run_calls(conn, command, out);
	printf("%sSUBSCRIBED\n", out->str);
	fflush(stdout);
	if (!fix_wait(cond_finished, &sig, FIX_START_MS, "the job's Finished signal"))
		printf("FINISHED none\n");
	printf("SIGNALS urc=%u progress=%u finished=%u props=%u\n", sig.urc, sig.progress,
	       sig.finished, sig.props);
	printf("URC %s\n", sig.first_urc ? sig.first_urc : "none");
	g_dbus_connection_signal_unsubscribe(conn, sub);
	g_free(sig.first_urc);
	return 0;
}

/* ---- users and groups ------------------------------------------------------------------ */

typedef struct {
	char *name;
	FixCreds creds;
} User;

typedef struct {
	User daemon, member, outsider;
	gboolean created_group;
	gid_t dfota_gid;
} Users;

static Users *users;

static gboolean
run_tool(const char *const *argv, gboolean must)
{
	g_autofree char *err = NULL;
	g_autoptr(GError) error = NULL;
	int status = 0;

	g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
	             NULL, NULL, NULL, &err, &status, &error);
	if (error == NULL && g_spawn_check_wait_status(status, NULL))
		return TRUE;
	if (must)
		g_error("%s failed: %s", argv[0], error != NULL ? error->message : err);
	return FALSE;
}

static void
delete_user(const char *name)
{
	const char *userdel[] = { "userdel", name, NULL };
	const char *groupdel[] = { "groupdel", name, NULL };

	run_tool(userdel, FALSE);
	/* --user-group's group goes with the user on Debian; make sure. */
	if (getgrnam(name) != NULL)
		run_tool(groupdel, FALSE);
}

/* Users of runs that were killed before they could clean up: their PID is gone. */
static void
delete_stale_users(void)
{
	g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);
	struct passwd *pw;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		const char *dash;
		g_autofree char *proc = NULL;

		if (!g_str_has_prefix(pw->pw_name, USER_PREFIX))
			continue;
		dash = strrchr(pw->pw_name, '-');
		proc = g_strdup_printf("/proc/%s", dash + 1);
		if (!g_file_test(proc, G_FILE_TEST_EXISTS))
			g_ptr_array_add(stale, g_strdup(pw->pw_name));
	}
	endpwent();
	for (guint i = 0; i < stale->len; i++) {
		g_test_message("removing stale test user %s", (char *)stale->pdata[i]);
		delete_user(stale->pdata[i]);
	}
}

static void
create_user(User *u, const char *role, const char *extra_group)
{
	struct passwd *pw;
	const char *argv[] = { "useradd",
		               "--system",
		               "--no-create-home",
		               "--user-group",
		               "--shell",
		               "/usr/sbin/nologin",
		               NULL,
		               NULL,
		               NULL,
		               NULL };

	u->name = g_strdup_printf(USER_PREFIX "%s-%d", role, (int)getpid());
	if (extra_group != NULL) {
		argv[6] = "--groups";
		argv[7] = extra_group;
		argv[8] = u->name;
	} else {
		argv[6] = u->name;
	}
	run_tool(argv, TRUE);
	pw = getpwnam(u->name);
	g_assert_nonnull(pw);
	u->creds.set = TRUE;
	u->creds.uid = pw->pw_uid;
	u->creds.gid = pw->pw_gid;
	u->creds.groups[u->creds.n_groups++] = pw->pw_gid;
	if (extra_group != NULL)
		u->creds.groups[u->creds.n_groups++] = users->dfota_gid;
	g_test_message("created user %s (uid %u)", u->name, (guint)pw->pw_uid);
}

/* Once per run; FALSE (the test skipped) when users cannot be created here. */
static gboolean
ensure_users(void)
{
	g_autofree char *useradd = NULL;
	struct group *gr;

	if (users != NULL)
		return TRUE;
	if (getuid() != 0 || geteuid() != 0) {
		g_test_skip("needs root to create the daemon's and the callers' users (useradd); "
		            "CI runs this as root");
		return FALSE;
	}
	useradd = g_find_program_in_path("useradd");
	/* Running as root without the tools would silently test nothing. */
	if (useradd == NULL)
		g_error("running as root but useradd is not in PATH (%s)", g_getenv("PATH"));
	delete_stale_users();
	users = g_new0(Users, 1);
	gr = getgrnam(AUTH_GROUP);
	if (gr == NULL) {
		const char *argv[] = { "groupadd", "--system", AUTH_GROUP, NULL };

		run_tool(argv, TRUE);
		users->created_group = TRUE;
		gr = getgrnam(AUTH_GROUP);
		g_assert_nonnull(gr);
	}
	users->dfota_gid = gr->gr_gid;
	create_user(&users->daemon, "d", NULL);
	create_user(&users->member, "m", AUTH_GROUP);
	create_user(&users->outsider, "o", NULL);
	return TRUE;
}

static void
remove_users(void)
{
	if (users == NULL)
		return;
	delete_user(users->daemon.name);
	delete_user(users->member.name);
	delete_user(users->outsider.name);
	if (users->created_group) {
		const char *argv[] = { "groupdel", AUTH_GROUP, NULL };

		run_tool(argv, FALSE);
	}
	g_free(users->daemon.name);
	g_free(users->member.name);
	g_free(users->outsider.name);
	g_clear_pointer(&users, g_free);
}

/* ---- the daemon as an unprivileged user ------------------------------------------------- */

typedef struct {
	Fix *f;
	char *bin_dir;
	char *run_dir; /* the daemon's user's: sim link, sim log, control FIFO, state */
	char *lsan_env;
	GDBusConnection *root;
	GSubprocess *daemon;
} Access;

static char *
copy_binary(Access *a, const char *src, const char *name)
{
	g_autoptr(GFile) from = g_file_new_for_path(src);
	g_autofree char *path = g_build_filename(a->bin_dir, name, NULL);
	g_autoptr(GFile) to = g_file_new_for_path(path);
	g_autoptr(GError) error = NULL;

	/* The build tree may sit in a directory other users cannot enter (/root in CI). */
	g_file_copy(from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return g_steal_pointer(&path);
}

/* LSAN_OPTIONS may name a suppressions file the other users cannot read: use a copy. */
static char *
lsan_env_for_others(Access *a)
{
	const char *opts = g_getenv("LSAN_OPTIONS");
	g_auto(GStrv) parts = NULL;
	g_autofree char *joined = NULL;

	if (opts == NULL)
		return NULL;
	parts = g_strsplit(opts, ":", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (g_str_has_prefix(parts[i], "suppressions=")) {
			g_autofree char *copy =
			        copy_binary(a, parts[i] + strlen("suppressions="), "lsan.supp");

			g_free(parts[i]);
			parts[i] = g_strconcat("suppressions=", copy, NULL);
		}
	}
	joined = g_strjoinv(":", parts);
	return g_strconcat("LSAN_OPTIONS=", joined, NULL);
}

/* The shipped policy included as it is, and what the test needs beyond it: the daemon runs
 * as a user created for this run instead of "dfotad", so that user may own the name. */
static char *
policy_include(void)
{
	g_autofree char *src_root = g_path_get_dirname(fix_env("HTTPD")); /* <src>/tests */
	g_autofree char *src = g_build_filename(src_root, "..", "dbus", "org.dfotad1.conf", NULL);
	g_autofree char *canonical = g_canonicalize_filename(src, NULL);

	g_assert_true(g_file_test(canonical, G_FILE_TEST_IS_REGULAR));
	return g_strdup_printf("<include>%s</include>\n"
	                       "<policy user=\"%s\"><allow own=\"org.dfotad1\"/></policy>\n",
	                       canonical, users->daemon.name);
}

/* What Debian's system.conf sets before it includes system.d: calls are denied unless a
 * policy allows them, the bus itself may be asked. */
#define SYSTEM_DEFAULTS                                                                \
	"<policy context=\"default\"><allow user=\"*\"/><deny own=\"*\"/>"             \
	"<deny send_type=\"method_call\"/><allow send_type=\"signal\"/>"               \
	"<allow send_requested_reply=\"true\" send_type=\"method_return\"/>"           \
	"<allow send_requested_reply=\"true\" send_type=\"error\"/>"                   \
	"<allow receive_type=\"method_call\"/><allow receive_type=\"method_return\"/>" \
	"<allow receive_type=\"error\"/><allow receive_type=\"signal\"/>"              \
	"<allow send_destination=\"org.freedesktop.DBus\" "                            \
	"send_interface=\"org.freedesktop.DBus\"/>"                                    \
	"<allow send_destination=\"org.freedesktop.DBus\" "                            \
	"send_interface=\"org.freedesktop.DBus.Introspectable\"/></policy>\n"

typedef enum { BUS_SYSTEM_POLICY, BUS_SYSTEM_PERMISSIVE, BUS_SESSION } BusKind;

static Access *
access_new(BusKind kind)
{
	Access *a;
	g_autofree char *state = NULL;
	g_autofree char *link = NULL;
	g_autofree char *bus_env = NULL;
	g_autofree char *home_env = NULL;
	g_autofree char *dfotad = NULL;
	g_autofree char *sim = NULL;
	const FixCreds *dc;

	if (!ensure_users())
		return NULL;
	dc = &users->daemon.creds;
	a = g_new0(Access, 1);
	a->f = fix_new();
	a->bin_dir = fix_path(a->f, "bin");
	g_assert_cmpint(g_mkdir(a->bin_dir, 0755), ==, 0);
	dfotad = copy_binary(a, fix_env("DFOTAD"), "dfotad");
	sim = copy_binary(a, fix_env("DFOTA_SIM"), "dfota-sim");
	g_free(copy_binary(a, "/proc/self/exe", "caller"));
	a->lsan_env = lsan_env_for_others(a);
	a->run_dir = fix_path(a->f, "run");
	state = g_build_filename(a->run_dir, "state", NULL);
	g_assert_cmpint(g_mkdir(a->run_dir, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(state, 0700), ==, 0);
	g_assert_cmpint(chown(a->run_dir, dc->uid, dc->gid), ==, 0);
	g_assert_cmpint(chown(state, dc->uid, dc->gid), ==, 0);

	if (kind == BUS_SESSION) {
		fix_start_bus(a->f, "session", FIX_POLICY_OPEN);
	} else {
		g_autofree char *include = policy_include();
		g_autofree char *policy =
		        g_strdup_printf("%s%s%s", SYSTEM_DEFAULTS, include,
		                        kind == BUS_SYSTEM_PERMISSIVE
		                                ? "<policy context=\"default\"><allow "
		                                  "send_destination=\"org.dfotad1\"/></policy>"
		                                : "");

		fix_start_bus(a->f, "system", policy);
	}
	/* The simulator runs as the daemon's user too: the pty slave is then that user's. */
	fix_start_sim(a->f, sim, a->run_dir, dc);

	link = g_build_filename(a->run_dir, "tty", NULL);
	bus_env = g_strconcat(kind == BUS_SESSION ? "DBUS_SESSION_BUS_ADDRESS="
	                                          : "DBUS_SYSTEM_BUS_ADDRESS=",
	                      a->f->bus_address, NULL);
	home_env = g_strconcat("HOME=", a->run_dir, NULL);
	{
		const char *argv[] = { dfotad,
			               "--port",
			               link,
			               "--state-dir",
			               state,
			               "--verbose",
			               kind == BUS_SESSION ? "--session" : NULL,
			               NULL };
		const char *env[] = { bus_env,
			              home_env,
			              "XDG_RUNTIME_DIR",
			              "NOTIFY_SOCKET",
			              kind == BUS_SESSION ? "DBUS_SYSTEM_BUS_ADDRESS"
			                                  : "DBUS_SESSION_BUS_ADDRESS",
			              a->lsan_env,
			              NULL };

		a->daemon = fix_spawn(a->f, "dfotad", argv, env, dc);
	}
	a->root = fix_connect(a->f);
	if (!fix_wait_name(a->root, FIX_BUS_NAME, FIX_START_MS))
		g_error("dfotad (as %s) did not own %s", users->daemon.name, FIX_BUS_NAME);
	if (!fix_wait_property(a->root, "org.dfotad1.Modem", "State", "ready", FIX_START_MS))
		g_error("Modem.State never became \"ready\"");
	return a;
}

static void
access_free(Access *a)
{
	if (a == NULL)
		return;
	g_dbus_connection_close_sync(a->root, NULL, NULL);
	g_object_unref(a->root);
	/* The contract: a clean stop on SIGTERM, also as an unprivileged user. */
	g_assert_cmpint(fix_stop(a->daemon), ==, 0);
	fix_free(a->f);
	g_free(a->bin_dir);
	g_free(a->run_dir);
	g_free(a->lsan_env);
	g_free(a);
}

/* Report lines "key rest" as "key" → "rest". */
static GHashTable *
parse_report(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	GHashTable *report = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	for (guint i = 0; lines[i] != NULL; i++) {
		char *sp = strchr(lines[i], ' ');

		if (sp != NULL)
			g_hash_table_replace(report, g_strndup(lines[i], sp - lines[i]),
			                     g_strdup(sp + 1));
	}
	return report;
}

/* Runs this executable as @u's caller and returns its report lines as "key" → "rest". */
static GHashTable *
run_caller(Access *a, const User *u, const char *command)
{
	g_autofree char *self = g_build_filename(a->bin_dir, "caller", NULL);
	g_autofree char *name = g_strdup_printf("caller-%s", u->name);
	g_autofree char *out_name = g_strconcat(name, ".out", NULL);
	g_autofree char *out = fix_path(a->f, out_name);
	g_autofree char *home_env = g_strconcat("HOME=", a->f->tmpdir, NULL);
	g_autofree char *text = NULL;
	const char *argv[] = { self, "--caller", a->f->bus_address, command, NULL };
	const char *env[] = { home_env, "XDG_RUNTIME_DIR", a->lsan_env, NULL };
	GSubprocess *proc = fix_spawn(a->f, name, argv, env, &u->creds);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	int status;

	if (!fix_wait_file_has(out, "SUBSCRIBED\n", FIX_START_MS))
		g_error("the caller as %s did not get through its calls: %s", u->name,
		        fix_read(out));
	/* A job: the module's URCs, Progress, property changes and one Finished. */
	reply = g_dbus_connection_call_sync(a->root, FIX_BUS_NAME, FIX_MODEM_PATH,
	                                    "org.dfotad1.Fota", "Upgrade",
	                                    g_variant_new("(s)", FAILING_URL), NULL,
	                                    G_DBUS_CALL_FLAGS_NONE, FIX_CALL_MS, NULL, &error);
	g_assert_no_error(error);
	status = fix_wait_exit(proc, FIX_START_MS);
	text = fix_read(out);
	g_test_message("caller as %s (uid %u):\n%s", u->name, (guint)u->creds.uid, text);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return parse_report(text);
}

static const char *
report_get(GHashTable *report, const char *key)
{
	const char *value = g_hash_table_lookup(report, key);

	if (value == NULL)
		g_error("no \"%s\" in the caller's report", key);
	return value;
}

/* Every method refused with @denied; properties, objects and signals still there. */
static void
assert_denied(GHashTable *report, const char *denied)
{
	g_autofree char *expected = g_strconcat("ERR ", denied, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		const char *got = report_get(report, methods[i].method);

		if (strcmp(got, expected) != 0)
			g_error("%s.%s: expected %s, got %s", methods[i].iface, methods[i].method,
			        denied, got);
	}
	g_assert_true(g_str_has_prefix(report_get(report, "Get"), "OK"));
	g_assert_true(g_str_has_prefix(report_get(report, "GetAll"), "OK"));
	g_assert_true(g_str_has_prefix(report_get(report, "GetManagedObjects"), "OK"));
}

/* What the caller received of the job: Progress, Finished (once) and PropertiesChanged
 * always; Urc when @gets_urc, else none at all. */
static void
assert_signals(GHashTable *report, const char *who, gboolean gets_urc)
{
	const char *counts = report_get(report, "SIGNALS");
	guint urc = 0, progress = 0, finished = 0, props = 0;

	g_assert_cmpint(sscanf(counts, "urc=%u progress=%u finished=%u props=%u", &urc, &progress,
	                       &finished, &props),
	                ==, 4);
	g_test_message("%s received %s; first Urc: %s", who, counts, report_get(report, "URC"));
	g_assert_cmpuint(finished, ==, 1);
	g_assert_cmpuint(progress, >=, 1);
	g_assert_cmpuint(props, >=, 1);
	if (gets_urc && urc == 0)
		g_error("%s received no Urc (the job's module lines come before Finished)", who);
	if (!gets_urc && urc > 0)
		g_error("%s received %u Urc signals, the first \"%s\": Urc is for root and group "
		        "dfota only",
		        who, urc, report_get(report, "URC"));
}

/* Every method gets past the authorization: the daemon answers it on its merits. */
static void
assert_allowed(GHashTable *report)
{
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		const char *got = report_get(report, methods[i].method);

		if (methods[i].succeeds ? strcmp(got, "OK") != 0
		                        : (!g_str_has_prefix(got, "ERR org.dfotad1.Error.") ||
		                           strcmp(got, "ERR " DAEMON_DENIED) == 0))
			g_error("%s.%s: a permitted caller got %s", methods[i].iface,
			        methods[i].method, got);
	}
	g_assert_true(g_str_has_prefix(report_get(report, "Get"), "OK"));
	g_assert_true(g_str_has_prefix(report_get(report, "GetAll"), "OK"));
	g_assert_true(g_str_has_prefix(report_get(report, "GetManagedObjects"), "OK"));
}

static GHashTable *
root_report(Access *a)
{
	g_autoptr(GString) out = g_string_new(NULL);

	run_calls(a->root, "ATI", out);
	g_test_message("root:\n%s", out->str);
	return parse_report(out->str);
}

/* The refused caller's command never reached the module. */
static void
assert_tty_untouched(Access *a, const char *command)
{
	g_autofree char *log = g_build_filename(a->run_dir, "sim.log", NULL);
	g_autofree char *text = fix_read(log);
	g_autofree char *line = g_strconcat("> ", command, "\n", NULL);

	g_assert_cmpuint(strlen(text), >, 0);
	g_assert_null(strstr(text, line));
}

#define OUTSIDER_COMMAND "AT+CCLK?"

/* One daemon on a @kind bus and its callers: the outsider refused with @outsider_denied, the
 * member of group dfota refused with @member_denied or, when that is NULL, let through; on a
 * session bus the daemon's own user let through; root let through. The refused callers'
 * command never reaches the module. */
static void
check_callers(BusKind kind, const char *outsider_denied, const char *member_denied)
{
	Access *a = access_new(kind);
	g_autoptr(GHashTable) outsider = NULL;
	g_autoptr(GHashTable) member = NULL;
	g_autoptr(GHashTable) own = NULL;
	g_autoptr(GHashTable) root = NULL;

	if (a == NULL)
		return;
	outsider = run_caller(a, &users->outsider, OUTSIDER_COMMAND);
	assert_denied(outsider, outsider_denied);
	/* The bus policy's receive rules keep Urc from the outsider; a session bus has none. */
	assert_signals(outsider, "the outsider", kind == BUS_SESSION);
	if (member_denied != NULL) {
		member = run_caller(a, &users->member, OUTSIDER_COMMAND);
		assert_denied(member, member_denied);
	} else {
		member = run_caller(a, &users->member, "ATI");
		assert_allowed(member);
	}
	assert_signals(member, "the member of group dfota", TRUE);
	if (kind == BUS_SESSION) {
		own = run_caller(a, &users->daemon, "ATI");
		assert_allowed(own);
	}
	root = root_report(a);
	assert_allowed(root);
	assert_tty_untouched(a, OUTSIDER_COMMAND);
	access_free(a);
}

/* The shipped policy: the bus already refuses the outsider's calls. */
static void
test_system_policy(void)
{
	check_callers(BUS_SYSTEM_POLICY, BUS_DENIED, NULL);
}

/* A bus that lets everyone call: the daemon's own check refuses the outsider. */
static void
test_system_daemon_check(void)
{
	check_callers(BUS_SYSTEM_PERMISSIVE, DAEMON_DENIED, NULL);
}

/* --session: the daemon's own user (and root) may call, another user may not, even one in
 * group dfota. */
static void
test_session(void)
{
	check_callers(BUS_SESSION, DAEMON_DENIED, DAEMON_DENIED);
}

int
main(int argc, char **argv)
{
	int status;

	if (argc == 4 && strcmp(argv[1], "--caller") == 0)
		return caller_main(argv[2], argv[3]);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/access/system/policy", test_system_policy);
	g_test_add_func("/access/system/daemon-check", test_system_daemon_check);
	g_test_add_func("/access/session", test_session);
	status = g_test_run();
	remove_users();
	return status;
}
