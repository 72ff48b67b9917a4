/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting a FOTA job and following it to its single Finished signal.
 *
 * The signals are subscribed to before the method is called, so that a job that fails at once
 * (its Finished right behind the reply) is never missed. Signals come through the object
 * manager client rather than one interface proxy: when dfotad restarts mid-job, the manager
 * re-creates the proxies and the restarted daemon's remaining progress still reaches us.
 */
#include "dfotactl.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gio/gunixfdlist.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 30
/* How long to wait for a daemon that left the bus mid-job (a restart) before giving up. */
#define DAEMON_RETURN_TIMEOUT_S 60
/* How long a restarted daemon may stay idle before it resumes our journalled job. */
#define RESUME_GRACE_S 30

typedef struct {
	Dfotactl *ctl;
	gboolean replied;
	GVariant *early_result; /* a Finished seen before the reply; the contract rules it out */
	guint64 job_id;         /* 0: not known */
	char *phase;
	guint percent;
	gint64 phase_started; /* monotonic µs */
	gboolean bar_open;    /* a progress bar is on the current tty line */
	gboolean printed_any;
	gboolean started_pending; /* "Job N started" waits for the Job property to say N */
	guint tick_id;
	guint gone_id;
} Follow;

static void
follow_close_line(Follow *f)
{
	if (f->bar_open) {
		printf("\n");
		fflush(stdout);
		f->bar_open = FALSE;
	}
}

static void
follow_render(Follow *f)
{
	Dfotactl *ctl = f->ctl;

	if (ctl->json) {
		g_autoptr(JsonBuilder) b = dfotactl_json_event("progress");
		json_builder_set_member_name(b, "phase");
		json_builder_add_string_value(b, f->phase);
		json_builder_set_member_name(b, "percent");
		json_builder_add_int_value(b, f->percent);
		json_builder_end_object(b);
		g_autoptr(JsonNode) node = json_builder_get_root(b);
		dfotactl_print_json(node);
	} else if (ctl->tty) {
		char bar[BAR_WIDTH + 1];
		guint filled = MIN(f->percent, 100) * BAR_WIDTH / 100;
		gint64 secs = (g_get_monotonic_time() - f->phase_started) / G_USEC_PER_SEC;

		memset(bar, '#', filled);
		memset(bar + filled, '.', BAR_WIDTH - filled);
		bar[BAR_WIDTH] = '\0';
		printf("\r%-11s  [%s] %3u%%  %02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT, f->phase,
		       bar, f->percent, secs / 60, secs % 60);
		fflush(stdout);
		f->bar_open = TRUE;
	} else {
		printf("%s %u%%\n", f->phase, f->percent);
		fflush(stdout);
	}
}

/* Keeps the elapsed time of a live bar moving while the module is silent. */
static gboolean
follow_tick(gpointer user_data)
{
	Follow *f = user_data;
	if (f->bar_open)
		follow_render(f);
	return G_SOURCE_CONTINUE;
}

static void
follow_progress(Follow *f, const char *phase, guint percent)
{
	gboolean new_phase = g_strcmp0(phase, f->phase) != 0;

	if (!new_phase && percent == f->percent && f->printed_any)
		return;
	if (new_phase) {
		follow_close_line(f);
		g_free(f->phase);
		f->phase = g_strdup(phase);
		f->phase_started = g_get_monotonic_time();
	}
	f->percent = percent;
	f->printed_any = TRUE;
	follow_render(f);
}

void
dfotactl_print_result(GVariant *result)
{
	gboolean success = FALSE;
	gint32 code = -1;
	guint64 size = 0;
	const char *from = dfotactl_dict_str(result, "from-revision", "");
	const char *to = dfotactl_dict_str(result, "to-revision", "");
	const char *file = dfotactl_dict_str(result, "file", NULL);

	gboolean via_host = FALSE;

	g_variant_lookup(result, "success", "b", &success);
	g_variant_lookup(result, "code", "i", &code);
	g_variant_lookup(result, "via-host", "b", &via_host);
	printf("Result:   %s%s\n", success ? "success" : "failed",
	       via_host ? " (the gateway downloaded the package after the module's download failed)"
	                : "");
	if (*from || *to)
		printf("Revision: %s -> %s\n", *from ? from : "?", *to ? to : "?");
	if (file && g_variant_lookup(result, "size", "t", &size))
		printf("File:     %s (%" G_GUINT64_FORMAT " bytes)\n", file, size);
	if (!success) {
		printf("Error:    %s\n", dfotactl_dict_str(result, "error", "(none given)"));
		printf("Code:     %d\n", code);
		printf("Message:  %s\n", dfotactl_dict_str(result, "message", ""));
	}
	fflush(stdout);
}

static JsonNode *
result_to_json(const char *event, GVariant *result)
{
	g_autoptr(JsonBuilder) b = dfotactl_json_event(event);
	GVariantIter iter;
	const char *key;
	GVariant *value;

	g_variant_iter_init(&iter, result);
	while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
		json_builder_set_member_name(b, key);
		json_builder_add_value(b, json_gvariant_serialize(value));
	}
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

static void
follow_finish(Follow *f, GVariant *result)
{
	Dfotactl *ctl = f->ctl;
	gboolean success = FALSE;

	follow_close_line(f);
	g_variant_lookup(result, "success", "b", &success);
	if (ctl->json) {
		g_autoptr(JsonNode) node = result_to_json("finished", result);
		dfotactl_print_json(node);
	} else {
		dfotactl_print_result(result);
	}
	if (!success)
		fprintf(stderr, "dfotactl: %s: %s\n",
		        dfotactl_dict_str(result, "error", "org.dfotad1.Error.Unknown"),
		        dfotactl_dict_str(result, "message", "the job failed"));
	ctl->exit_status = success ? DFOTACTL_EXIT_OK : DFOTACTL_EXIT_FAILED;
	g_main_loop_quit(ctl->loop);
}

static void print_started(Follow *f);

/* A result of another job (one that ended before ours started) must not end ours. */
static gboolean
follow_is_ours(Follow *f, GVariant *result)
{
	guint64 id;
	if (f->job_id == 0 || !g_variant_lookup(result, "id", "t", &id))
		return TRUE;
	return id == f->job_id;
}

static void
on_proxy_signal(GDBusObjectManagerClient *manager, GDBusObjectProxy *object, GDBusProxy *iface,
                const char *sender, const char *signal_name, GVariant *params, gpointer user_data)
{
	Follow *f = user_data;

	if (g_strcmp0(g_dbus_object_get_object_path(G_DBUS_OBJECT(object)), f->ctl->modem_path) ||
	    g_strcmp0(g_dbus_proxy_get_interface_name(iface), DFOTA_FOTA_IFACE))
		return;
	if (f->started_pending)
		print_started(f);
	if (strcmp(signal_name, "Progress") == 0 &&
	    g_variant_is_of_type(params, G_VARIANT_TYPE("(su)"))) {
		const char *phase;
		guint32 percent;
		g_variant_get(params, "(&su)", &phase, &percent);
		if (!f->ctl->daemon_gone)
			g_clear_handle_id(&f->gone_id, g_source_remove);
		/* "idle" announces the end; the Finished signal that follows says how it ended. */
		if (strcmp(phase, "idle") != 0)
			follow_progress(f, phase, percent);
	} else if (strcmp(signal_name, "Finished") == 0 &&
	           g_variant_is_of_type(params, G_VARIANT_TYPE("(a{sv})"))) {
		g_autoptr(GVariant) result = g_variant_get_child_value(params, 0);
		if (!f->replied) {
			g_clear_pointer(&f->early_result, g_variant_unref);
			f->early_result = g_steal_pointer(&result);
		} else if (follow_is_ours(f, result)) {
			follow_finish(f, result);
		}
	}
}

static void
on_proxy_props(GDBusObjectManagerClient *manager, GDBusObjectProxy *object, GDBusProxy *iface,
               GVariant *changed, GStrv invalidated, gpointer user_data)
{
	Follow *f = user_data;
	g_autoptr(GVariant) job = NULL;

	if (!f->started_pending ||
	    g_strcmp0(g_dbus_object_get_object_path(G_DBUS_OBJECT(object)), f->ctl->modem_path) ||
	    g_strcmp0(g_dbus_proxy_get_interface_name(iface), DFOTA_FOTA_IFACE))
		return;
	job = g_variant_lookup_value(changed, "Job", G_VARIANT_TYPE_VARDICT);
	if (job && g_variant_lookup(job, "id", "t", &f->job_id))
		print_started(f);
}

static guint64
current_job_id(Dfotactl *ctl)
{
	g_autoptr(GDBusProxy) fota = dfotactl_lookup_iface(ctl, DFOTA_FOTA_IFACE);
	GVariant *job = fota ? dfota_dbus_fota_get_job(DFOTA_DBUS_FOTA(fota)) : NULL;
	guint64 id = 0;
	if (job)
		g_variant_lookup(job, "id", "t", &id);
	return id;
}

/* The wait for dfotad (the gone_id timer) ran out: says why and stops following, failed. */
static gboolean
follow_give_up(Follow *f, const char *why)
{
	fprintf(stderr, "dfotactl: %s\n", why);
	f->gone_id = 0;
	f->ctl->exit_status = DFOTACTL_EXIT_FAILED;
	g_main_loop_quit(f->ctl->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
on_daemon_gone_too_long(gpointer user_data)
{
	Follow *f = user_data;
	g_autofree char *why = g_strdup_printf(
	        "dfotad did not come back within %d s; the job's outcome is unknown (dfotactl "
	        "status shows it once dfotad runs again)",
	        DAEMON_RETURN_TIMEOUT_S);

	follow_close_line(f);
	return follow_give_up(f, why);
}

static gboolean
on_job_not_resumed(gpointer user_data)
{
	g_autofree char *why = g_strdup_printf(
	        "dfotad came back but neither resumed the job nor reported its result within %d "
	        "s; dfotactl status shows what it knows",
	        RESUME_GRACE_S);

	return follow_give_up(user_data, why);
}

static void
on_name_owner(GObject *manager, GParamSpec *pspec, gpointer user_data)
{
	Follow *f = user_data;
	Dfotactl *ctl = f->ctl;
	g_autofree char *owner =
	        g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(manager));

	if ((owner == NULL) == ctl->daemon_gone)
		return;
	ctl->daemon_gone = !owner;
	follow_close_line(f);
	if (!owner) {
		fprintf(stderr,
		        "dfotactl: dfotad left the bus; waiting up to %d s for it to come "
		        "back (the job is journalled and continues)\n",
		        DAEMON_RETURN_TIMEOUT_S);
		f->gone_id =
		        g_timeout_add_seconds(DAEMON_RETURN_TIMEOUT_S, on_daemon_gone_too_long, f);
		return;
	}
	fprintf(stderr, "dfotactl: dfotad is back\n");
	g_clear_handle_id(&f->gone_id, g_source_remove);
	if (!f->replied)
		return;

	/* The restarted daemon either carries the job on (its progress and Finished will come),
	 * or the job ended while nobody was on the bus to say so. */
	g_autoptr(GDBusProxy) fota = dfotactl_lookup_iface(ctl, DFOTA_FOTA_IFACE);
	if (!fota || g_strcmp0(dfota_dbus_fota_get_phase(DFOTA_DBUS_FOTA(fota)), "idle") != 0)
		return;
	GVariant *last = dfota_dbus_fota_get_last_result(DFOTA_DBUS_FOTA(fota));
	guint64 id = 0;
	if (last && g_variant_lookup(last, "id", "t", &id) && f->job_id && id == f->job_id) {
		follow_finish(f, last);
		return;
	}
	/* It may still be re-initialising the modem before it resumes the journalled job. */
	f->gone_id = g_timeout_add_seconds(RESUME_GRACE_S, on_job_not_resumed, f);
}

static void
print_started(Follow *f)
{
	f->started_pending = FALSE;
	Dfotactl *ctl = f->ctl;
	g_autoptr(GDBusProxy) fota = dfotactl_lookup_iface(ctl, DFOTA_FOTA_IFACE);
	GVariant *job = fota ? dfota_dbus_fota_get_job(DFOTA_DBUS_FOTA(fota)) : NULL;

	if (ctl->json) {
		g_autoptr(JsonBuilder) b = dfotactl_json_event("started");
		json_builder_set_member_name(b, "job");
		if (job)
			json_builder_add_value(b, json_gvariant_serialize(job));
		else
			json_builder_add_null_value(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) node = json_builder_get_root(b);
		dfotactl_print_json(node);
	} else if (f->job_id) {
		printf("Job %" G_GUINT64_FORMAT " started: %s %s\n", f->job_id,
		       dfotactl_dict_str(job, "kind", ""), dfotactl_dict_str(job, "source", ""));
		fflush(stdout);
	} else {
		printf("Job started\n");
		fflush(stdout);
	}
}

static void
on_reply(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Follow *f = user_data;
	Dfotactl *ctl = f->ctl;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	        g_dbus_proxy_call_with_unix_fd_list_finish(G_DBUS_PROXY(source), NULL, res, &error);

	if (!reply) {
		/* No job was started, so no Finished will come. */
		follow_close_line(f);
		ctl->exit_status = dfotactl_report_error(error);
		g_main_loop_quit(ctl->loop);
		return;
	}
	f->replied = TRUE;
	f->job_id = current_job_id(ctl);
	/* The daemon's PropertiesChanged for Job may trail its reply. */
	if (f->job_id || ctl->no_wait)
		print_started(f);
	else
		f->started_pending = TRUE;
	if (ctl->no_wait) {
		ctl->exit_status = DFOTACTL_EXIT_OK;
		g_main_loop_quit(ctl->loop);
		return;
	}
	if (f->early_result) {
		g_autoptr(GVariant) result = g_steal_pointer(&f->early_result);
		follow_finish(f, result);
	}
}

static gboolean
on_interrupt(gpointer user_data)
{
	Follow *f = user_data;
	follow_close_line(f);
	fprintf(stderr, "dfotactl: stopped following; the job continues in dfotad "
	                "(dfotactl status or dfotactl monitor show it)\n");
	f->ctl->exit_status = 128 + SIGINT;
	g_main_loop_quit(f->ctl->loop);
	return G_SOURCE_CONTINUE; /* removed by run_job */
}

/* Calls @method on the Fota interface and, unless --no-wait, follows the job it starts. */
static int
run_job(Dfotactl *ctl, const char *method, GVariant *params, GUnixFDList *fd_list)
{
	Follow f = { .ctl = ctl, .phase_started = g_get_monotonic_time() };
	gulong sig_id, props_id, owner_id;
	guint int_id, term_id;

	sig_id = g_signal_connect(ctl->manager, "interface-proxy-signal",
	                          G_CALLBACK(on_proxy_signal), &f);
	props_id = g_signal_connect(ctl->manager, "interface-proxy-properties-changed",
	                            G_CALLBACK(on_proxy_props), &f);
	owner_id =
	        g_signal_connect(ctl->manager, "notify::name-owner", G_CALLBACK(on_name_owner), &f);
	int_id = g_unix_signal_add(SIGINT, on_interrupt, &f);
	term_id = g_unix_signal_add(SIGTERM, on_interrupt, &f);
	if (ctl->tty && !ctl->json)
		f.tick_id = g_timeout_add_seconds(1, follow_tick, &f);

	/* The daemon bounds how long a job may take to start; the bus must not cut it short. */
	g_dbus_proxy_call_with_unix_fd_list(G_DBUS_PROXY(ctl->fota), method, params,
	                                    G_DBUS_CALL_FLAGS_NO_AUTO_START, G_MAXINT, fd_list,
	                                    NULL, on_reply, &f);
	g_main_loop_run(ctl->loop);

	g_signal_handler_disconnect(ctl->manager, sig_id);
	g_signal_handler_disconnect(ctl->manager, props_id);
	g_signal_handler_disconnect(ctl->manager, owner_id);
	g_source_remove(int_id);
	g_source_remove(term_id);
	g_clear_handle_id(&f.tick_id, g_source_remove);
	g_clear_handle_id(&f.gone_id, g_source_remove);
	g_clear_pointer(&f.early_result, g_variant_unref);
	g_free(f.phase);
	/* A reply still in flight (interrupted) holds &f: let it arrive with nowhere to go. */
	return ctl->exit_status;
}

static GVariant *
host_side_options(Dfotactl *ctl)
{
	GVariantBuilder b;
	const char *sha256 = g_hash_table_lookup(ctl->opts, "sha256");
	const char *from = g_hash_table_lookup(ctl->opts, "from-revision");

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	if (sha256)
		g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_string(sha256));
	if (from)
		g_variant_builder_add(&b, "{sv}", "from-revision", g_variant_new_string(from));
	return g_variant_builder_end(&b);
}

int
dfotactl_cmd_upgrade(Dfotactl *ctl)
{
	const char *via_host = g_hash_table_lookup(ctl->opts, "via-host");
	const char *path = g_hash_table_lookup(ctl->opts, "file");

	if (g_hash_table_contains(ctl->opts, "local"))
		return run_job(ctl, "UpgradeLocal", NULL, NULL);
	if (via_host)
		return run_job(ctl, "UpgradeViaHost",
		               g_variant_new("(s@a{sv})", via_host, host_side_options(ctl)), NULL);
	if (path) {
		g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
		g_autoptr(GError) error = NULL;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		int index;

		if (fd < 0) {
			fprintf(stderr, "dfotactl: cannot open %s: %s\n", path, g_strerror(errno));
			return DFOTACTL_EXIT_FAILED;
		}
		index = g_unix_fd_list_append(fds, fd, &error);
		close(fd);
		if (index < 0) {
			fprintf(stderr, "dfotactl: cannot pass %s: %s\n", path, error->message);
			return DFOTACTL_EXIT_FAILED;
		}
		return run_job(ctl, "UpgradeFromFile",
		               g_variant_new("(h@a{sv})", index, host_side_options(ctl)), fds);
	}
	if (g_hash_table_contains(ctl->opts, "from-revision") ||
	    g_hash_table_contains(ctl->opts, "fallback-via-host")) {
		GVariantBuilder b;
		const char *sha256 = g_hash_table_lookup(ctl->opts, "sha256");
		const char *from = g_hash_table_lookup(ctl->opts, "from-revision");

		g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
		if (from)
			g_variant_builder_add(&b, "{sv}", "from-revision",
			                      g_variant_new_string(from));
		if (g_hash_table_contains(ctl->opts, "fallback-via-host"))
			g_variant_builder_add(&b, "{sv}", "fallback-via-host",
			                      g_variant_new_boolean(TRUE));
		if (sha256)
			g_variant_builder_add(&b, "{sv}", "sha256", g_variant_new_string(sha256));
		return run_job(ctl, "UpgradeWithOptions",
		               g_variant_new("(s@a{sv})", (char *)ctl->args->pdata[0],
		                             g_variant_builder_end(&b)),
		               NULL);
	}
	return run_job(ctl, "Upgrade", g_variant_new("(s)", (char *)ctl->args->pdata[0]), NULL);
}

int
dfotactl_cmd_fetch_mcu(Dfotactl *ctl)
{
	const char *name = ctl->args->len > 1 ? ctl->args->pdata[1] : "";
	return run_job(ctl, "FetchMcuFile",
	               g_variant_new("(ss)", (char *)ctl->args->pdata[0], name), NULL);
}

int
dfotactl_cmd_cancel(Dfotactl *ctl)
{
	g_autoptr(GError) error = NULL;

	if (!dfota_dbus_fota_call_cancel_sync(ctl->fota, NULL, &error))
		return dfotactl_report_error(error);
	if (!ctl->json)
		printf("Cancel requested; the job finishes with org.dfotad1.Error.Cancelled\n");
	return DFOTACTL_EXIT_OK;
}
