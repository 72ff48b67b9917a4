/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfotactl: option parsing, the command table, the connection to dfotad, and the helpers the
 * commands share. Options may come anywhere on the line ("dfotactl status --json" works as well
 * as "dfotactl --json status"), because people type them in whatever order they think of them.
 */
#include "dfotactl.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dfotad-config.h"

typedef struct {
	const char *name;
	const char *sub; /* second word ("files ls"), or NULL */
	int (*run)(Dfotactl *ctl);
	guint min_args, max_args;    /* positional arguments after the name(s) */
	const char *opts;            /* command options it accepts, space separated */
	int (*check)(Dfotactl *ctl); /* further usage checks before connecting, or NULL */
	const char *synopsis;
} DfotactlCommand;

static int check_upgrade(Dfotactl *ctl);
static int check_at(Dfotactl *ctl);
static int check_files_put(Dfotactl *ctl);

static const DfotactlCommand commands[] = {
	{ "status", NULL, dfotactl_cmd_status, 0, 0, "", NULL,
	  "status                      identity, state, network, current job, last result" },
	{ "upgrade", NULL, dfotactl_cmd_upgrade, 0, 1,
	  "local via-host file sha256 from-revision fallback-via-host no-wait", check_upgrade,
	  "upgrade URL                 the module downloads the package itself and upgrades\n"
	  "  upgrade URL [--from-revision REV] [--fallback-via-host [--sha256 HEX]]\n"
	  "                              only from REV; the gateway takes over the download\n"
	  "                              when the module's own fails\n"
	  "  upgrade --local             upgrade from fota.pack already in the module's UFS\n"
	  "  upgrade --via-host URL [--sha256 HEX] [--from-revision REV]\n"
	  "                              the gateway downloads the package and uploads it\n"
	  "  upgrade --file PATH [--sha256 HEX] [--from-revision REV]\n"
	  "                              upload a local package file and upgrade from it" },
	{ "fetch-mcu", NULL, dfotactl_cmd_fetch_mcu, 1, 2, "no-wait", NULL,
	  "fetch-mcu URL [NAME]        the module downloads a file for the MCU into UFS" },
	{ "cancel", NULL, dfotactl_cmd_cancel, 0, 0, "", NULL,
	  "cancel                      cancel a job in a host-side phase" },
	{ "files", "ls", dfotactl_cmd_files, 0, 0, "", NULL,
	  "files ls                    list the module's UFS files" },
	{ "files", "rm", dfotactl_cmd_files, 1, 1, "", NULL,
	  "files rm NAME               delete a UFS file" },
	{ "files", "put", dfotactl_cmd_files, 1, 2, "", check_files_put,
	  "files put PATH [NAME]       upload PATH (- for stdin) into UFS as NAME" },
	{ "files", "get", dfotactl_cmd_files, 2, 2, "", NULL,
	  "files get NAME PATH         download a UFS file into PATH (- for stdout)" },
	{ "at", NULL, dfotactl_cmd_at, 1, 1, "timeout", check_at,
	  "at COMMAND [--timeout MS]   send one AT command through dfotad, print the response" },
	{ "refresh", NULL, dfotactl_cmd_refresh, 0, 0, "", NULL,
	  "refresh                     re-read the module's identity and network status" },
	{ "monitor", NULL, dfotactl_cmd_monitor, 0, 0, "", NULL,
	  "monitor                     print progress, results, URCs and state changes as they\n"
	  "                              come, until interrupted" },
};

/* Options and whether they take a value. Global ones set fields of Dfotactl directly. */
static const struct {
	const char *name;
	gboolean has_value;
	gboolean global;
} options[] = {
	{ "session", FALSE, TRUE },  { "system", FALSE, TRUE },
	{ "modem", TRUE, TRUE },     { "json", FALSE, TRUE },
	{ "help", FALSE, TRUE },     { "version", FALSE, TRUE },
	{ "no-wait", FALSE, FALSE }, { "local", FALSE, FALSE },
	{ "via-host", TRUE, FALSE }, { "file", TRUE, FALSE },
	{ "sha256", TRUE, FALSE },   { "from-revision", TRUE, FALSE },
	{ "timeout", TRUE, FALSE },  { "fallback-via-host", FALSE, FALSE },
};

static void
print_usage(FILE *out)
{
	fprintf(out, "Usage: dfotactl [--session] [--modem N] [--json] COMMAND ...\n\n"
	             "Commands:\n");
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(out, "  %s\n", commands[i].synopsis);
	fprintf(out, "\nOptions (anywhere on the line):\n"
	             "  --session      talk to dfotad on the session bus (default: system bus)\n"
	             "  --modem N      the modem /org/dfotad1/Modem/N (default 0)\n"
	             "  --json         machine-readable output (one JSON object per line)\n"
	             "  --no-wait      upgrade, fetch-mcu: return once the job has started\n\n"
	             "Exit status: 0 success, 1 the job or call failed, 2 usage error,\n"
	             "3 dfotad not reachable.\n");
}

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int
usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "dfotactl: %s\n\n", msg);
	print_usage(stderr);
	return DFOTACTL_EXIT_USAGE;
}

static gboolean
parse_modem(Dfotactl *ctl, const char *value)
{
	guint64 n;
	if (g_str_has_prefix(value, DFOTA_ROOT_PATH "/Modem/") && g_variant_is_object_path(value)) {
		g_free(ctl->modem_path);
		ctl->modem_path = g_strdup(value);
		return TRUE;
	}
	if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT32, &n, NULL))
		return FALSE;
	g_free(ctl->modem_path);
	ctl->modem_path = g_strdup_printf(DFOTA_ROOT_PATH "/Modem/%" G_GUINT64_FORMAT, n);
	return TRUE;
}

/* Splits argv into global options, command options and positional words. Returns -1 to go on,
 * or an exit status. */
static int
parse_args(Dfotactl *ctl, int argc, char **argv)
{
	gboolean only_positional = FALSE;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		g_autofree char *name = NULL;
		const char *value = NULL;
		gsize k;

		if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
			g_ptr_array_add(ctl->args, g_strdup(arg));
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_positional = TRUE;
			continue;
		}
		if (strcmp(arg, "-h") == 0)
			arg = "--help";
		if (!g_str_has_prefix(arg, "--"))
			return usage_error("unknown option '%s'", arg);
		name = g_strdup(arg + 2);
		char *eq = strchr(name, '=');
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		for (k = 0; k < G_N_ELEMENTS(options); k++)
			if (strcmp(options[k].name, name) == 0)
				break;
		if (k == G_N_ELEMENTS(options))
			return usage_error("unknown option '--%s'", name);
		if (options[k].has_value && !value) {
			if (i + 1 >= argc)
				return usage_error("option '--%s' needs a value", name);
			value = argv[++i];
		} else if (!options[k].has_value && value) {
			return usage_error("option '--%s' takes no value", name);
		}

		if (strcmp(name, "session") == 0) {
			ctl->session = TRUE;
		} else if (strcmp(name, "system") == 0) {
			ctl->session = FALSE;
		} else if (strcmp(name, "json") == 0) {
			ctl->json = TRUE;
		} else if (strcmp(name, "modem") == 0) {
			if (!parse_modem(ctl, value))
				return usage_error("--modem wants a modem number, not '%s'", value);
		} else if (strcmp(name, "help") == 0) {
			print_usage(stdout);
			return DFOTACTL_EXIT_OK;
		} else if (strcmp(name, "version") == 0) {
			printf("dfotactl %s\n", DFOTAD_VERSION);
			return DFOTACTL_EXIT_OK;
		} else {
			if (g_hash_table_contains(ctl->opts, name))
				return usage_error("option '--%s' given twice", name);
			g_hash_table_insert(ctl->opts, g_steal_pointer(&name),
			                    g_strdup(value ? value : ""));
		}
	}
	return -1;
}

static const DfotactlCommand *
find_command(Dfotactl *ctl, int *status)
{
	if (ctl->args->len == 0) {
		*status = usage_error("no command given");
		return NULL;
	}
	const char *name = ctl->args->pdata[0];
	const char *sub = ctl->args->len > 1 ? ctl->args->pdata[1] : NULL;
	gboolean known = FALSE;

	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		known = TRUE;
		if (!commands[i].sub || g_strcmp0(commands[i].sub, sub) == 0)
			return &commands[i];
	}
	if (!known)
		*status = usage_error("unknown command '%s'", name);
	else if (!sub)
		*status = usage_error("'%s' needs a subcommand", name);
	else
		*status = usage_error("unknown subcommand '%s %s'", name, sub);
	return NULL;
}

/* Checks the words and options against the command's table entry. */
static int
check_command(Dfotactl *ctl, const DfotactlCommand *cmd)
{
	guint words = cmd->sub ? 2 : 1;
	guint nargs = ctl->args->len - words;
	g_auto(GStrv) allowed = g_strsplit(cmd->opts, " ", -1);
	GHashTableIter iter;
	gpointer key;

	/* The synopsis up to its description: "at COMMAND [--timeout MS]". */
	g_autofree char *form = g_strndup(cmd->synopsis, strcspn(cmd->synopsis, "\n"));
	if (strstr(form, "  "))
		*strstr(form, "  ") = '\0';

	if (nargs < cmd->min_args)
		return usage_error("missing argument: %s", form);
	if (nargs > cmd->max_args)
		return usage_error("too many arguments: %s", form);
	g_hash_table_iter_init(&iter, ctl->opts);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		if (!g_strv_contains((const char *const *)allowed, key))
			return usage_error("option '--%s' does not apply to '%s'", (char *)key,
			                   (char *)ctl->args->pdata[0]);
	}
	/* The command sees only its own arguments. */
	g_ptr_array_remove_range(ctl->args, 0, words);
	ctl->no_wait = g_hash_table_contains(ctl->opts, "no-wait");
	ctl->subcommand = cmd->sub;
	return cmd->check ? cmd->check(ctl) : -1;
}

static int
check_upgrade(Dfotactl *ctl)
{
	guint kinds = (ctl->args->len > 0) + g_hash_table_contains(ctl->opts, "local") +
	              g_hash_table_contains(ctl->opts, "via-host") +
	              g_hash_table_contains(ctl->opts, "file");
	gboolean host_side = g_hash_table_contains(ctl->opts, "via-host") ||
	                     g_hash_table_contains(ctl->opts, "file");

	if (kinds == 0)
		return usage_error("upgrade needs a URL, --local, --via-host URL or --file PATH");
	if (kinds > 1)
		return usage_error("upgrade takes only one of URL, --local, --via-host, --file");
	if (host_side && g_hash_table_contains(ctl->opts, "fallback-via-host"))
		return usage_error("--fallback-via-host applies to upgrade URL only");
	if (g_hash_table_contains(ctl->opts, "local") &&
	    (g_hash_table_contains(ctl->opts, "sha256") ||
	     g_hash_table_contains(ctl->opts, "from-revision") ||
	     g_hash_table_contains(ctl->opts, "fallback-via-host")))
		return usage_error("--local takes no --sha256, --from-revision or "
		                   "--fallback-via-host");
	if (!host_side && g_hash_table_contains(ctl->opts, "sha256") &&
	    !g_hash_table_contains(ctl->opts, "fallback-via-host"))
		return usage_error("upgrade URL takes --sha256 only with --fallback-via-host (the "
		                   "module verifies its own download)");
	return -1;
}

static int
check_files_put(Dfotactl *ctl)
{
	if (ctl->args->len < 2 && strcmp(ctl->args->pdata[0], "-") == 0)
		return usage_error("files put - needs a NAME for the UFS file");
	return -1;
}

static int
check_at(Dfotactl *ctl)
{
	const char *timeout = g_hash_table_lookup(ctl->opts, "timeout");
	if (timeout && !g_ascii_string_to_unsigned(timeout, 10, 0, G_MAXUINT32, NULL, NULL))
		return usage_error("--timeout wants milliseconds, not '%s'", timeout);
	return -1;
}

int
dfotactl_report_error(const GError *error)
{
	g_autoptr(GError) copy = g_error_copy(error);
	g_autofree char *name = g_dbus_error_get_remote_error(copy);
	static const char *const gone[] = {
		"org.freedesktop.DBus.Error.ServiceUnknown",
		"org.freedesktop.DBus.Error.NameHasNoOwner",
		"org.freedesktop.DBus.Error.UnknownObject",
		"org.freedesktop.DBus.Error.Disconnected",
		NULL,
	};

	g_dbus_error_strip_remote_error(copy);
	if (name)
		fprintf(stderr, "dfotactl: %s: %s\n", name, copy->message);
	else
		fprintf(stderr, "dfotactl: %s\n", copy->message);
	if (name && g_strv_contains(gone, name))
		return DFOTACTL_EXIT_UNREACHABLE;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED))
		return DFOTACTL_EXIT_UNREACHABLE;
	return DFOTACTL_EXIT_FAILED;
}

void
dfotactl_print_json(JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, node);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
	fflush(stdout);
}

JsonBuilder *
dfotactl_json_event(const char *event)
{
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "event");
	json_builder_add_string_value(b, event);
	return b;
}

const char *
dfotactl_dict_str(GVariant *dict, const char *key, const char *fallback)
{
	const char *value = NULL;
	if (dict && g_variant_lookup(dict, key, "&s", &value))
		return value;
	return fallback;
}

GDBusProxy *
dfotactl_lookup_iface(Dfotactl *ctl, const char *iface)
{
	return G_DBUS_PROXY(
	        g_dbus_object_manager_get_interface(ctl->manager, ctl->modem_path, iface));
}

/* Exit status 3 for everything that means "there is no dfotad (or no such modem) to talk to":
 * checked before any method call, so that a call never autostarts or waits on nobody. */
static int
connect_daemon(Dfotactl *ctl)
{
	g_autoptr(GError) error = NULL;
	const char *bus_name = ctl->session ? "session" : "system";
	g_autofree char *owner = NULL;
	g_autoptr(GDBusObject) object = NULL;

	ctl->bus =
	        g_bus_get_sync(ctl->session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, &error);
	if (!ctl->bus) {
		fprintf(stderr, "dfotactl: cannot connect to the %s bus: %s\n", bus_name,
		        error->message);
		return DFOTACTL_EXIT_UNREACHABLE;
	}
	ctl->manager = dfota_dbus_object_manager_client_new_sync(
	        ctl->bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, DFOTA_BUS_NAME,
	        DFOTA_ROOT_PATH, NULL, &error);
	if (!ctl->manager) {
		fprintf(stderr, "dfotactl: cannot reach dfotad: %s\n", error->message);
		return DFOTACTL_EXIT_UNREACHABLE;
	}
	owner = g_dbus_object_manager_client_get_name_owner(
	        G_DBUS_OBJECT_MANAGER_CLIENT(ctl->manager));
	if (!owner) {
		fprintf(stderr,
		        "dfotactl: dfotad is not running on the %s bus "
		        "(nobody owns %s)%s\n",
		        bus_name, DFOTA_BUS_NAME,
		        ctl->session ? "" : "; use --session for a daemon started with --session");
		return DFOTACTL_EXIT_UNREACHABLE;
	}
	object = g_dbus_object_manager_get_object(ctl->manager, ctl->modem_path);
	if (!object) {
		fprintf(stderr, "dfotactl: dfotad has no modem %s\n", ctl->modem_path);
		return DFOTACTL_EXIT_UNREACHABLE;
	}
	ctl->modem = dfota_dbus_object_get_modem(DFOTA_DBUS_OBJECT(object));
	ctl->fota = dfota_dbus_object_get_fota(DFOTA_DBUS_OBJECT(object));
	ctl->files = dfota_dbus_object_get_files(DFOTA_DBUS_OBJECT(object));
	if (!ctl->modem || !ctl->fota || !ctl->files) {
		fprintf(stderr,
		        "dfotactl: %s lacks the org.dfotad1.Modem, Fota or Files "
		        "interface; is this dfotad?\n",
		        ctl->modem_path);
		return DFOTACTL_EXIT_UNREACHABLE;
	}
	return -1;
}

static void
dfotactl_clear(Dfotactl *ctl)
{
	g_clear_object(&ctl->modem);
	g_clear_object(&ctl->fota);
	g_clear_object(&ctl->files);
	g_clear_object(&ctl->manager);
	g_clear_object(&ctl->bus);
	g_clear_pointer(&ctl->loop, g_main_loop_unref);
	g_clear_pointer(&ctl->opts, g_hash_table_unref);
	g_clear_pointer(&ctl->args, g_ptr_array_unref);
	g_clear_pointer(&ctl->modem_path, g_free);
}

int
main(int argc, char **argv)
{
	Dfotactl ctl = { 0 };
	const DfotactlCommand *cmd = NULL;
	int status;

	setlocale(LC_ALL, "");
	ctl.opts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	ctl.args = g_ptr_array_new_with_free_func(g_free);
	ctl.modem_path = g_strdup(DFOTA_ROOT_PATH "/Modem/0");
	ctl.tty = isatty(STDOUT_FILENO);

	status = parse_args(&ctl, argc, argv);
	if (status < 0)
		cmd = find_command(&ctl, &status);
	if (status < 0)
		status = check_command(&ctl, cmd);
	if (status < 0)
		status = connect_daemon(&ctl);
	if (status < 0) {
		ctl.loop = g_main_loop_new(NULL, FALSE);
		status = cmd->run(&ctl);
	}
	dfotactl_clear(&ctl);
	return status;
}
