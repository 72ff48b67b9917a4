// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-metrics.c: the Prometheus text file (see dfota-metrics.h). */
#include "dfota-metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERROR_PREFIX "org.dfotad1.Error."

typedef struct {
	struct _DfotaMetrics *owner;
	guint index;
	DfotaModem *modem;
	DfotaFota *fota;
	gulong modem_notify_id;
	gulong at_command_id;
	gulong fota_notify_id;
	gulong finished_id;
	GHashTable *jobs; /* "kind\nresult" → guint64* finished jobs */
	gint64 last_finished_us;
} Entry;

struct _DfotaMetrics {
	GObject parent_instance;

	char *path;
	GPtrArray *entries; /* Entry* */
	guint write_id;
	char *last_error; /* the last write error warned about; NULL after a good write */
};

G_DEFINE_TYPE(DfotaMetrics, dfota_metrics, G_TYPE_OBJECT)

static void
entry_free(Entry *e)
{
	g_clear_signal_handler(&e->modem_notify_id, e->modem);
	g_clear_signal_handler(&e->at_command_id, e->modem);
	g_clear_signal_handler(&e->fota_notify_id, e->fota);
	g_clear_signal_handler(&e->finished_id, e->fota);
	g_clear_object(&e->modem);
	g_clear_object(&e->fota);
	g_hash_table_unref(e->jobs);
	g_free(e);
}

static gboolean
on_write_timeout(gpointer user_data)
{
	DfotaMetrics *self = user_data;

	self->write_id = 0;
	dfota_metrics_write(self, NULL);
	return G_SOURCE_REMOVE;
}

static void
schedule_write(DfotaMetrics *self)
{
	if (!self->write_id)
		self->write_id = g_timeout_add(DFOTA_METRICS_DELAY_MS, on_write_timeout, self);
}

static void
on_changed(GObject *object, gpointer user_data)
{
	schedule_write(DFOTA_METRICS(user_data));
}

static void
on_notify(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	schedule_write(DFOTA_METRICS(user_data));
}

static void
on_finished(DfotaFota *fota, GVariant *result, gpointer user_data)
{
	Entry *e = user_data;
	const char *kind = "unknown", *error_name = "";
	gboolean success = FALSE;
	g_autofree char *key = NULL;
	guint64 *count;

	g_variant_lookup(result, "kind", "&s", &kind);
	g_variant_lookup(result, "success", "b", &success);
	g_variant_lookup(result, "error", "&s", &error_name);
	if (g_str_has_prefix(error_name, ERROR_PREFIX))
		error_name += strlen(ERROR_PREFIX);
	key = g_strconcat(kind, "\n", success ? "success" : (*error_name ? error_name : "Failed"),
	                  NULL);
	count = g_hash_table_lookup(e->jobs, key);
	if (!count) {
		count = g_new0(guint64, 1);
		g_hash_table_insert(e->jobs, g_steal_pointer(&key), count);
	}
	(*count)++;
	e->last_finished_us = g_get_real_time();
	schedule_write(e->owner);
}

DfotaMetrics *
dfota_metrics_new(const char *path)
{
	DfotaMetrics *self = g_object_new(DFOTA_TYPE_METRICS, NULL);

	self->path = g_strdup(path);
	return self;
}

void
dfota_metrics_add_modem(DfotaMetrics *self, guint index, DfotaModem *modem, DfotaFota *fota)
{
	Entry *e = g_new0(Entry, 1);

	e->owner = self;
	e->index = index;
	e->modem = g_object_ref(modem);
	e->fota = g_object_ref(fota);
	e->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	e->modem_notify_id = g_signal_connect(modem, "notify", G_CALLBACK(on_notify), self);
	e->at_command_id = g_signal_connect(modem, "at-command", G_CALLBACK(on_changed), self);
	e->fota_notify_id = g_signal_connect(fota, "notify", G_CALLBACK(on_notify), self);
	e->finished_id = g_signal_connect(fota, "finished", G_CALLBACK(on_finished), e);
	g_ptr_array_add(self->entries, e);
	schedule_write(self);
}

void
dfota_metrics_append_label_value(GString *out, const char *value)
{
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '"')
			g_string_append(out, "\\\"");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
}

static void
header(GString *out, const char *name, const char *type, const char *help)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
modem_sample(GString *out, const char *name, const Entry *e, guint64 value)
{
	g_string_append_printf(out, "%s{modem=\"%u\"} %" G_GUINT64_FORMAT "\n", name, e->index,
	                       value);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
render_jobs(GString *out, const Entry *e)
{
	g_autofree gpointer *keys = g_hash_table_get_keys_as_array(e->jobs, NULL);
	guint n = g_hash_table_size(e->jobs);

	qsort(keys, n, sizeof(gpointer), compare_strings);
	for (guint i = 0; i < n; i++) {
		const char *key = keys[i], *nl = strchr(key, '\n');
		g_autofree char *kind = g_strndup(key, nl - key);
		const guint64 *count = g_hash_table_lookup(e->jobs, key);

		g_string_append_printf(out, "dfotad_jobs_total{modem=\"%u\",kind=\"", e->index);
		dfota_metrics_append_label_value(out, kind);
		g_string_append(out, "\",result=\"");
		dfota_metrics_append_label_value(out, nl + 1);
		g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", *count);
	}
}

char *
dfota_metrics_render(DfotaMetrics *self)
{
	GString *out = g_string_new(NULL);

	header(out, "dfotad_modem_info", "gauge", "Identity of the modem, always 1.");
	for (guint i = 0; i < self->entries->len; i++) {
		const Entry *e = self->entries->pdata[i];
		const char *port = dfota_modem_get_port(e->modem);

		if (!port || !*port)
			port = dfota_modem_get_config(e->modem)->port;
		g_string_append_printf(out, "dfotad_modem_info{modem=\"%u\",model=\"", e->index);
		dfota_metrics_append_label_value(out, dfota_modem_get_model(e->modem));
		g_string_append(out, "\",revision=\"");
		dfota_metrics_append_label_value(out, dfota_modem_get_revision(e->modem));
		g_string_append(out, "\",port=\"");
		dfota_metrics_append_label_value(out, port);
		g_string_append(out, "\"} 1\n");
	}
	header(out, "dfotad_modem_ready", "gauge", "1 while the modem's State is ready or busy.");
	for (guint i = 0; i < self->entries->len; i++) {
		const Entry *e = self->entries->pdata[i];
		DfotaModemState state = dfota_modem_get_state(e->modem);

		modem_sample(out, "dfotad_modem_ready", e,
		             state == DFOTA_MODEM_STATE_READY || state == DFOTA_MODEM_STATE_BUSY);
	}
	header(out, "dfotad_job_running", "gauge", "1 while a firmware job runs on the modem.");
	for (guint i = 0; i < self->entries->len; i++) {
		const Entry *e = self->entries->pdata[i];

		modem_sample(out, "dfotad_job_running", e, dfota_fota_is_busy(e->fota));
	}
	header(out, "dfotad_job_percent", "gauge",
	       "Percent of the running job's current phase, 0 between jobs.");
	for (guint i = 0; i < self->entries->len; i++) {
		const Entry *e = self->entries->pdata[i];

		modem_sample(out, "dfotad_job_percent", e, dfota_fota_get_percent(e->fota));
	}
	header(out, "dfotad_jobs_total", "counter",
	       "Jobs finished since the daemon started, by kind and result.");
	for (guint i = 0; i < self->entries->len; i++)
		render_jobs(out, self->entries->pdata[i]);
	header(out, "dfotad_last_job_finished_timestamp_seconds", "gauge",
	       "When the last job finished (Unix time), for jobs since the daemon started.");
	for (guint i = 0; i < self->entries->len; i++) {
		const Entry *e = self->entries->pdata[i];

		if (e->last_finished_us)
			modem_sample(out, "dfotad_last_job_finished_timestamp_seconds", e,
			             (guint64)(e->last_finished_us / G_USEC_PER_SEC));
	}
	header(out, "dfotad_at_commands_total", "counter", "AT commands written to the tty.");
	for (guint i = 0; i < self->entries->len; i++) {
		const Entry *e = self->entries->pdata[i];

		modem_sample(out, "dfotad_at_commands_total", e,
		             dfota_modem_get_at_commands_total(e->modem));
	}
	return g_string_free(out, FALSE);
}

/* Temporary file next to the target (same filesystem, so rename is atomic), with a name the
 * textfile collector ignores (it reads only *.prom). */
static gboolean
write_atomically(const char *path, const char *text, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	gsize len = strlen(text), done = 0;
	int fd, saved;

	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		saved = errno;
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot create a temporary file in %s: %s", dir, g_strerror(saved));
		return FALSE;
	}
	/* Readable by the collector whatever our umask. */
	if (fchmod(fd, 0644) < 0)
		g_debug("metrics: fchmod %s: %s", tmp, g_strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			close(fd);
			g_unlink(tmp);
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
			            "cannot write %s: %s", tmp, g_strerror(saved));
			return FALSE;
		}
		done += (gsize)n;
	}
	if (close(fd) < 0 || g_rename(tmp, path) < 0) {
		saved = errno;
		g_unlink(tmp);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved),
		            "cannot replace %s: %s", path, g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}

gboolean
dfota_metrics_write(DfotaMetrics *self, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autofree char *text = NULL;

	g_clear_handle_id(&self->write_id, g_source_remove);
	text = dfota_metrics_render(self);
	if (!write_atomically(self->path, text, &local)) {
		/* Once per distinct error: a missing directory is not news every second. */
		if (g_strcmp0(self->last_error, local->message) != 0) {
			g_warning("metrics-file %s not written (the daemon goes on without it): %s",
			          self->path, local->message);
			g_free(self->last_error);
			self->last_error = g_strdup(local->message);
		} else {
			g_debug("metrics: write failed again: %s", local->message);
		}
		g_propagate_error(error, g_steal_pointer(&local));
		return FALSE;
	}
	if (self->last_error) {
		g_message("metrics-file %s written again", self->path);
		g_clear_pointer(&self->last_error, g_free);
	}
	return TRUE;
}

static void
dfota_metrics_dispose(GObject *object)
{
	DfotaMetrics *self = DFOTA_METRICS(object);

	g_clear_handle_id(&self->write_id, g_source_remove);
	if (self->entries)
		g_ptr_array_set_size(self->entries, 0);
	G_OBJECT_CLASS(dfota_metrics_parent_class)->dispose(object);
}

static void
dfota_metrics_finalize(GObject *object)
{
	DfotaMetrics *self = DFOTA_METRICS(object);

	g_ptr_array_unref(self->entries);
	g_free(self->path);
	g_free(self->last_error);
	G_OBJECT_CLASS(dfota_metrics_parent_class)->finalize(object);
}

static void
dfota_metrics_init(DfotaMetrics *self)
{
	self->entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
}

static void
dfota_metrics_class_init(DfotaMetricsClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = dfota_metrics_dispose;
	object_class->finalize = dfota_metrics_finalize;
}
