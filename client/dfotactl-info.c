/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The commands that start no job: status, monitor, at, refresh and files.
 */
#include "dfotactl.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A property the daemon has not set yet reads as NULL from the proxy's cache. */
#define STR(x) ((x) ? (x) : "")

static void
json_add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value ? value : "");
}

static void
json_add_variant(JsonBuilder *b, const char *name, GVariant *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		json_builder_add_value(b, json_gvariant_serialize(value));
	else
		json_builder_add_null_value(b);
}

static char *
format_time(GVariant *dict, const char *key)
{
	guint64 usec;
	if (!dict || !g_variant_lookup(dict, key, "t", &usec) || usec == 0)
		return g_strdup("?");
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(usec / G_USEC_PER_SEC);
	return t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S") : g_strdup("?");
}

static char *
describe_device(GVariant *device)
{
	guint16 vid = 0, pid = 0;
	const char *transport = dfotactl_dict_str(device, "transport", NULL);
	GString *s;

	if (!transport)
		return g_strdup("pseudo-terminal or unknown");
	s = g_string_new(transport);
	if (g_variant_lookup(device, "usb-vid", "q", &vid) &&
	    g_variant_lookup(device, "usb-pid", "q", &pid))
		g_string_append_printf(s, " %04x:%04x", vid, pid);
	for (const char *const *k =
	             (const char *const[]){ "usb-manufacturer", "usb-product", NULL };
	     *k; k++) {
		const char *v = dfotactl_dict_str(device, *k, "");
		if (*v)
			g_string_append_printf(s, " %s", v);
	}
	if (*dfotactl_dict_str(device, "usb-serial", ""))
		g_string_append_printf(s, " (serial %s)",
		                       dfotactl_dict_str(device, "usb-serial", ""));
	return g_string_free(s, FALSE);
}

static char *
describe_network(GVariant *net)
{
	gboolean registered = FALSE;
	gint32 v;
	GString *s;

	if (!net || !g_variant_lookup(net, "registered", "b", &registered))
		return g_strdup("unknown");
	s = g_string_new(registered ? "registered" : "not registered");
	g_string_append_printf(s, ", %s", dfotactl_dict_str(net, "access-technology", "unknown"));
	if (*dfotactl_dict_str(net, "operator", ""))
		g_string_append_printf(s, ", operator %s", dfotactl_dict_str(net, "operator", ""));
	if (*dfotactl_dict_str(net, "ip-address", ""))
		g_string_append_printf(s, ", IP %s", dfotactl_dict_str(net, "ip-address", ""));
	for (const char *const *k = (const char *const[]){ "rsrp", "rsrq", "rxlev", "ber", NULL };
	     *k; k++)
		if (g_variant_lookup(net, *k, "i", &v))
			g_string_append_printf(s, ", %s %d", *k, v);
	return g_string_free(s, FALSE);
}

static void
print_status_text(Dfotactl *ctl)
{
	DfotaDBusModem *m = ctl->modem;
	DfotaDBusFota *f = ctl->fota;
	GVariant *job = dfota_dbus_fota_get_job(f);
	GVariant *last = dfota_dbus_fota_get_last_result(f);
	g_autofree char *device = describe_device(dfota_dbus_modem_get_device(m));
	g_autofree char *network = describe_network(dfota_dbus_modem_get_network(m));
	guint64 id = 0;

	printf("Modem:        %s\n", ctl->modem_path);
	printf("Port:         %s\n", STR(dfota_dbus_modem_get_port(m)));
	printf("Device:       %s\n", device);
	printf("State:        %s\n", STR(dfota_dbus_modem_get_state(m)));
	printf("Manufacturer: %s\n", STR(dfota_dbus_modem_get_manufacturer(m)));
	printf("Model:        %s\n", STR(dfota_dbus_modem_get_model(m)));
	printf("Revision:     %s\n", STR(dfota_dbus_modem_get_revision(m)));
	printf("IMEI:         %s\n", STR(dfota_dbus_modem_get_imei(m)));
	printf("Network:      %s\n", network);
	if (job && g_variant_lookup(job, "id", "t", &id)) {
		g_autofree char *started = format_time(job, "started");
		printf("Job:          %" G_GUINT64_FORMAT " %s %s (started %s)\n", id,
		       dfotactl_dict_str(job, "kind", ""), dfotactl_dict_str(job, "source", ""),
		       started);
		printf("Phase:        %s %u%%\n", STR(dfota_dbus_fota_get_phase(f)),
		       dfota_dbus_fota_get_percent(f));
	} else {
		printf("Job:          none\n");
	}
	if (last && g_variant_lookup(last, "id", "t", &id)) {
		gboolean success = FALSE;
		gint32 code = -1;
		g_autofree char *finished = format_time(last, "finished");
		g_variant_lookup(last, "success", "b", &success);
		gboolean via_host = FALSE;

		g_variant_lookup(last, "code", "i", &code);
		g_variant_lookup(last, "via-host", "b", &via_host);
		printf("LastResult:   job %" G_GUINT64_FORMAT " %s%s %s, finished %s\n", id,
		       dfotactl_dict_str(last, "kind", ""), via_host ? " (via host)" : "",
		       success ? "succeeded" : "failed", finished);
		if (*dfotactl_dict_str(last, "from-revision", "") ||
		    *dfotactl_dict_str(last, "to-revision", ""))
			printf("              revision %s -> %s\n",
			       dfotactl_dict_str(last, "from-revision", "?"),
			       dfotactl_dict_str(last, "to-revision", "?"));
		if (!success)
			printf("              %s (code %d): %s\n",
			       dfotactl_dict_str(last, "error", ""), code,
			       dfotactl_dict_str(last, "message", ""));
	} else {
		printf("LastResult:   none\n");
	}
}

int
dfotactl_cmd_status(Dfotactl *ctl)
{
	DfotaDBusModem *m = ctl->modem;
	DfotaDBusFota *f = ctl->fota;

	if (!ctl->json) {
		print_status_text(ctl);
		return DFOTACTL_EXIT_OK;
	}
	g_autoptr(JsonBuilder) b = json_builder_new();
	json_builder_begin_object(b);
	json_add_str(b, "modem", ctl->modem_path);
	json_add_str(b, "port", dfota_dbus_modem_get_port(m));
	json_add_variant(b, "device", dfota_dbus_modem_get_device(m));
	json_add_str(b, "state", dfota_dbus_modem_get_state(m));
	json_add_str(b, "manufacturer", dfota_dbus_modem_get_manufacturer(m));
	json_add_str(b, "model", dfota_dbus_modem_get_model(m));
	json_add_str(b, "revision", dfota_dbus_modem_get_revision(m));
	json_add_str(b, "imei", dfota_dbus_modem_get_imei(m));
	json_add_variant(b, "network", dfota_dbus_modem_get_network(m));
	json_add_variant(b, "job", dfota_dbus_fota_get_job(f));
	json_add_str(b, "phase", dfota_dbus_fota_get_phase(f));
	json_builder_set_member_name(b, "percent");
	json_builder_add_int_value(b, dfota_dbus_fota_get_percent(f));
	json_add_variant(b, "last-result", dfota_dbus_fota_get_last_result(f));
	json_builder_end_object(b);
	g_autoptr(JsonNode) node = json_builder_get_root(b);
	dfotactl_print_json(node);
	return DFOTACTL_EXIT_OK;
}

/* ---- monitor ---- */

static void monitor_line(Dfotactl *ctl, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
monitor_line(Dfotactl *ctl, const char *fmt, ...)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *stamp = g_date_time_format(now, "%H:%M:%S");
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	printf("%s %s\n", stamp, text);
	fflush(stdout);
}

static void
monitor_json(JsonBuilder *b)
{
	json_builder_end_object(b);
	g_autoptr(JsonNode) node = json_builder_get_root(b);
	dfotactl_print_json(node);
}

/* An event with one string: {"event": @event, @key: @value} or "<time> @event @value". */
static void
monitor_event(Dfotactl *ctl, const char *event, const char *key, const char *value)
{
	if (ctl->json) {
		g_autoptr(JsonBuilder) b = dfotactl_json_event(event);
		json_add_str(b, key, value);
		monitor_json(b);
	} else {
		monitor_line(ctl, "%s %s", event, value);
	}
}

static void
monitor_finished(Dfotactl *ctl, GVariant *result)
{
	gboolean success = FALSE;
	gint32 code = -1;

	g_variant_lookup(result, "success", "b", &success);
	g_variant_lookup(result, "code", "i", &code);
	if (ctl->json) {
		g_autoptr(JsonBuilder) b = dfotactl_json_event("finished");
		GVariantIter iter;
		const char *key;
		GVariant *value;
		g_variant_iter_init(&iter, result);
		while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
			json_add_variant(b, key, value);
		monitor_json(b);
	} else if (success) {
		monitor_line(ctl, "finished success %s %s -> %s",
		             dfotactl_dict_str(result, "kind", ""),
		             dfotactl_dict_str(result, "from-revision", "?"),
		             dfotactl_dict_str(result, "to-revision", "?"));
	} else {
		monitor_line(ctl, "finished failed %s %s (code %d): %s",
		             dfotactl_dict_str(result, "kind", ""),
		             dfotactl_dict_str(result, "error", ""), code,
		             dfotactl_dict_str(result, "message", ""));
	}
}

static gboolean
is_our_modem(Dfotactl *ctl, GDBusObjectProxy *object)
{
	const char *path = g_dbus_object_get_object_path(G_DBUS_OBJECT(object));
	return g_strcmp0(path, ctl->modem_path) == 0;
}

static void
on_monitor_signal(GDBusObjectManagerClient *manager, GDBusObjectProxy *object, GDBusProxy *iface,
                  const char *sender, const char *signal_name, GVariant *params, gpointer user_data)
{
	Dfotactl *ctl = user_data;

	if (!is_our_modem(ctl, object))
		return;
	if (strcmp(signal_name, "Progress") == 0 &&
	    g_variant_is_of_type(params, G_VARIANT_TYPE("(su)"))) {
		const char *phase;
		guint32 percent;
		g_variant_get(params, "(&su)", &phase, &percent);
		if (ctl->json) {
			g_autoptr(JsonBuilder) b = dfotactl_json_event("progress");
			json_add_str(b, "phase", phase);
			json_builder_set_member_name(b, "percent");
			json_builder_add_int_value(b, percent);
			monitor_json(b);
		} else {
			monitor_line(ctl, "progress %s %u%%", phase, percent);
		}
	} else if (strcmp(signal_name, "Finished") == 0 &&
	           g_variant_is_of_type(params, G_VARIANT_TYPE("(a{sv})"))) {
		g_autoptr(GVariant) result = g_variant_get_child_value(params, 0);
		monitor_finished(ctl, result);
	} else if (strcmp(signal_name, "Urc") == 0 &&
	           g_variant_is_of_type(params, G_VARIANT_TYPE("(s)"))) {
		const char *line;
		g_variant_get(params, "(&s)", &line);
		monitor_event(ctl, "urc", "line", line);
	}
}

static void
on_monitor_props(GDBusObjectManagerClient *manager, GDBusObjectProxy *object, GDBusProxy *iface,
                 GVariant *changed, GStrv invalidated, gpointer user_data)
{
	Dfotactl *ctl = user_data;
	const char *state;

	if (!is_our_modem(ctl, object) ||
	    g_strcmp0(g_dbus_proxy_get_interface_name(iface), DFOTA_MODEM_IFACE) ||
	    !g_variant_lookup(changed, "State", "&s", &state))
		return;
	monitor_event(ctl, "state", "state", state);
}

static void
on_monitor_owner(GObject *manager, GParamSpec *pspec, gpointer user_data)
{
	Dfotactl *ctl = user_data;
	g_autofree char *owner =
	        g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(manager));
	const char *event = owner ? "daemon-back" : "daemon-gone";

	if ((owner == NULL) == ctl->daemon_gone)
		return;
	ctl->daemon_gone = !owner;
	if (ctl->json) {
		g_autoptr(JsonBuilder) b = dfotactl_json_event(event);
		monitor_json(b);
	} else {
		monitor_line(ctl, owner ? "dfotad is back on the bus" : "dfotad left the bus");
	}
}

static gboolean
on_monitor_stop(gpointer user_data)
{
	Dfotactl *ctl = user_data;
	ctl->exit_status = DFOTACTL_EXIT_OK;
	g_main_loop_quit(ctl->loop);
	return G_SOURCE_CONTINUE;
}

int
dfotactl_cmd_monitor(Dfotactl *ctl)
{
	gulong ids[3];
	guint int_id, term_id;

	ids[0] = g_signal_connect(ctl->manager, "interface-proxy-signal",
	                          G_CALLBACK(on_monitor_signal), ctl);
	ids[1] = g_signal_connect(ctl->manager, "interface-proxy-properties-changed",
	                          G_CALLBACK(on_monitor_props), ctl);
	ids[2] = g_signal_connect(ctl->manager, "notify::name-owner", G_CALLBACK(on_monitor_owner),
	                          ctl);
	int_id = g_unix_signal_add(SIGINT, on_monitor_stop, ctl);
	term_id = g_unix_signal_add(SIGTERM, on_monitor_stop, ctl);
	if (!ctl->json)
		monitor_line(ctl, "monitoring %s (state %s); Ctrl-C to stop", ctl->modem_path,
		             STR(dfota_dbus_modem_get_state(ctl->modem)));

	g_main_loop_run(ctl->loop);

	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
		g_signal_handler_disconnect(ctl->manager, ids[i]);
	g_source_remove(int_id);
	g_source_remove(term_id);
	return ctl->exit_status;
}

/* ---- at, refresh ---- */

int
dfotactl_cmd_at(Dfotactl *ctl)
{
	const char *timeout = g_hash_table_lookup(ctl->opts, "timeout");
	guint64 timeout_ms = 0;
	g_autoptr(GError) error = NULL;
	g_autofree char *response = NULL;

	if (timeout)
		g_ascii_string_to_unsigned(timeout, 10, 0, G_MAXUINT32, &timeout_ms, NULL);
	/* The daemon's own command timeout governs; the bus must not give up first. */
	g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(ctl->modem), G_MAXINT);
	if (!dfota_dbus_modem_call_command_sync(ctl->modem, ctl->args->pdata[0], timeout_ms,
	                                        &response, NULL, &error))
		return dfotactl_report_error(error);
	if (ctl->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_auto(GStrv) lines = g_strsplit(response, "\n", -1);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "response");
		json_builder_begin_array(b);
		for (char **l = lines; *response && *l; l++)
			json_builder_add_string_value(b, *l);
		json_builder_end_array(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) node = json_builder_get_root(b);
		dfotactl_print_json(node);
	} else if (*response) {
		printf("%s\n", response);
	}
	return DFOTACTL_EXIT_OK;
}

int
dfotactl_cmd_refresh(Dfotactl *ctl)
{
	g_autoptr(GError) error = NULL;

	g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(ctl->modem), G_MAXINT);
	if (!dfota_dbus_modem_call_refresh_sync(ctl->modem, NULL, &error))
		return dfotactl_report_error(error);
	return DFOTACTL_EXIT_OK;
}

/* ---- files ---- */

static int
files_ls(Dfotactl *ctl)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) list = NULL;
	GVariantIter iter;
	const char *name;
	guint64 size;

	if (!dfota_dbus_files_call_list_sync(ctl->files, &list, NULL, &error))
		return dfotactl_report_error(error);
	if (ctl->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "files");
		json_builder_begin_array(b);
		g_variant_iter_init(&iter, list);
		while (g_variant_iter_next(&iter, "(&st)", &name, &size)) {
			json_builder_begin_object(b);
			json_add_str(b, "name", name);
			json_builder_set_member_name(b, "size");
			json_builder_add_int_value(b, (gint64)size);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) node = json_builder_get_root(b);
		dfotactl_print_json(node);
		return DFOTACTL_EXIT_OK;
	}
	g_variant_iter_init(&iter, list);
	while (g_variant_iter_next(&iter, "(&st)", &name, &size))
		printf("%10" G_GUINT64_FORMAT "  %s\n", size, name);
	return DFOTACTL_EXIT_OK;
}

/* Upload and Download take a descriptor: the daemon never opens a path a caller names. */
static int
files_transfer(Dfotactl *ctl, const char *method, const char *name, int fd)
{
	g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	int index = g_unix_fd_list_append(fds, fd, &error);

	if (index < 0) {
		fprintf(stderr, "dfotactl: cannot pass the file: %s\n", error->message);
		return DFOTACTL_EXIT_FAILED;
	}
	reply = g_dbus_proxy_call_with_unix_fd_list_sync(
	        G_DBUS_PROXY(ctl->files), method, g_variant_new("(sh)", name, index),
	        G_DBUS_CALL_FLAGS_NO_AUTO_START, G_MAXINT, fds, NULL, NULL, &error);
	if (!reply)
		return dfotactl_report_error(error);
	return DFOTACTL_EXIT_OK;
}

static int
files_put(Dfotactl *ctl)
{
	const char *path = ctl->args->pdata[0];
	g_autofree char *name = NULL;
	int fd, status;

	name = ctl->args->len > 1 ? g_strdup(ctl->args->pdata[1]) : g_path_get_basename(path);

	if (strcmp(path, "-") == 0)
		fd = dup(STDIN_FILENO);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "dfotactl: cannot open %s: %s\n", path, g_strerror(errno));
		return DFOTACTL_EXIT_FAILED;
	}
	status = files_transfer(ctl, "Upload", name, fd);
	close(fd);
	if (status == DFOTACTL_EXIT_OK && !ctl->json)
		printf("Uploaded %s as %s\n", path, name);
	return status;
}

static int
files_get(Dfotactl *ctl)
{
	const char *name = ctl->args->pdata[0];
	const char *path = ctl->args->pdata[1];
	gboolean to_stdout = strcmp(path, "-") == 0;
	gboolean created = FALSE;
	int fd, status;

	if (to_stdout) {
		fflush(stdout);
		fd = dup(STDOUT_FILENO);
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
		created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0) {
		fprintf(stderr, "dfotactl: cannot create %s: %s\n", path, g_strerror(errno));
		return DFOTACTL_EXIT_FAILED;
	}
	status = files_transfer(ctl, "Download", name, fd);
	close(fd);
	/* Leave no half-written file behind that looks like a good copy. */
	if (status != DFOTACTL_EXIT_OK && created)
		unlink(path);
	return status;
}

static int
files_rm(Dfotactl *ctl)
{
	g_autoptr(GError) error = NULL;

	if (!dfota_dbus_files_call_delete_sync(ctl->files, ctl->args->pdata[0], NULL, &error))
		return dfotactl_report_error(error);
	return DFOTACTL_EXIT_OK;
}

int
dfotactl_cmd_files(Dfotactl *ctl)
{
	if (g_strcmp0(ctl->subcommand, "ls") == 0)
		return files_ls(ctl);
	if (g_strcmp0(ctl->subcommand, "rm") == 0)
		return files_rm(ctl);
	if (g_strcmp0(ctl->subcommand, "put") == 0)
		return files_put(ctl);
	return files_get(ctl);
}
