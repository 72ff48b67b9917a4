// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem.c: port lifecycle, module initialisation and state. The identity after boot is
 * in dfota-modem-identity.c, the network side (registration, PDP context, signal figures, the
 * preflight) in dfota-modem-network.c. */
#include "dfota-modem.h"

#include <string.h>

#include "dfota-modem-private.h"

#include "dfota-defaults.h"
#include "dfota-error.h"
#include "dfota-modem-urcs.h"
#include "dfota-ports.h"

#define OPEN_RETRY_MIN_MS 500
#define OPEN_RETRY_MAX_MS 30000
#define PROBE_TIMEOUT_MS 1000
#define PROBE_RETRY_MIN_MS 250
#define PROBE_RETRY_MAX_MS 4000

G_DEFINE_TYPE(DfotaModem, dfota_modem, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_STATE,
	PROP_MANUFACTURER,
	PROP_MODEL,
	PROP_REVISION,
	PROP_IMEI,
	PROP_NETWORK,
	PROP_DEVICE,
	PROP_PORT,
	N_PROPS
};
static GParamSpec *props[N_PROPS];

enum { SIGNAL_URC, SIGNAL_REBOOTED, SIGNAL_INITIALIZED, SIGNAL_LOST, SIGNAL_AT_COMMAND, N_SIGNALS };
static guint signals[N_SIGNALS];

static void modem_open_port(DfotaModem *self);
static void modem_begin_init(DfotaModem *self);

const char *
dfota_modem_state_to_string(DfotaModemState state)
{
	switch (state) {
	case DFOTA_MODEM_STATE_DISCONNECTED:
		return "disconnected";
	case DFOTA_MODEM_STATE_INITIALIZING:
		return "initializing";
	case DFOTA_MODEM_STATE_READY:
		return "ready";
	case DFOTA_MODEM_STATE_BUSY:
		return "busy";
	case DFOTA_MODEM_STATE_REBOOTING:
		return "rebooting";
	}
	return "disconnected";
}

void
dfota_modem_config_clear(DfotaModemConfig *cfg)
{
	g_clear_pointer(&cfg->name, g_free);
	g_clear_pointer(&cfg->port, g_free);
	g_clear_pointer(&cfg->usb_serial, g_free);
}

static void
set_string(DfotaModem *self, char **field, const char *value, guint prop)
{
	if (g_strcmp0(*field, value) == 0)
		return;
	g_free(*field);
	*field = g_strdup(value ? value : "");
	if (prop)
		g_object_notify_by_pspec(G_OBJECT(self), props[prop]);
}

static void
update_state(DfotaModem *self)
{
	DfotaModemState s = self->inner_state;

	if (s == DFOTA_MODEM_STATE_READY && self->job_active)
		s = DFOTA_MODEM_STATE_BUSY;
	if (s == self->public_state)
		return;
	g_info("modem %s: state %s -> %s", self->cfg.name,
	       dfota_modem_state_to_string(self->public_state), dfota_modem_state_to_string(s));
	self->public_state = s;
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STATE]);
}

static void
set_inner_state(DfotaModem *self, DfotaModemState state)
{
	self->inner_state = state;
	update_state(self);
}

/* ---- a sequence of commands, each answer applied to the modem ---------------------------- */

typedef enum {
	SEQ_IGNORE_ERRORS = 1 << 0, /* a failing step is logged and skipped */
} SeqFlags;

typedef struct {
	GPtrArray *commands; /* char* */
	guint next;
	guint timeout_ms;
	SeqFlags flags;
} Seq;

static void
seq_free(Seq *seq)
{
	g_ptr_array_unref(seq->commands);
	g_free(seq);
}

static void seq_next(GTask *task);

static void
seq_apply(DfotaModem *self, const char *command, char **lines)
{
	if (g_str_equal(command, "ATI"))
		dfota_modem_apply_identity_lines(self, lines);
	else if (g_str_equal(command, "AT+CGSN=1"))
		dfota_modem_apply_imei_lines(self, lines);
	else if (g_str_equal(command, "AT+CESQ") || g_str_equal(command, "AT+COPS?") ||
	         g_str_equal(command, "AT+CGPADDR"))
		dfota_modem_apply_network_lines(self, command, lines);
}

static void
seq_step_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	DfotaModem *self = g_task_get_source_object(task);
	Seq *seq = g_task_get_task_data(task);
	const char *command = seq->commands->pdata[seq->next - 1];
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, &error);

	if (g_task_return_error_if_cancelled(task))
		return;
	if (!lines) {
		if (!(seq->flags & SEQ_IGNORE_ERRORS) ||
		    g_error_matches(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST)) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
		g_message("modem %s: %s failed: %s", self->cfg.name, command, error->message);
	} else {
		seq_apply(self, command, lines);
	}
	seq_next(g_steal_pointer(&task));
}

static void
seq_next(GTask *task)
{
	DfotaModem *self = g_task_get_source_object(task);
	Seq *seq = g_task_get_task_data(task);

	if (seq->next >= seq->commands->len) {
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	if (!self->channel) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST,
		                        "The modem's port is closed");
		g_object_unref(task);
		return;
	}
	dfota_at_channel_send(self->channel, seq->commands->pdata[seq->next++], seq->timeout_ms,
	                      DFOTA_AT_FLAG_NONE, g_task_get_cancellable(task), seq_step_done,
	                      task);
}

/* Runs the NULL-terminated @commands in order. */
static void
seq_run(DfotaModem *self, const char *const *commands, SeqFlags flags, GCancellable *cancellable,
        GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	Seq *seq = g_new0(Seq, 1);

	seq->commands = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; commands[i]; i++)
		g_ptr_array_add(seq->commands, g_strdup(commands[i]));
	seq->timeout_ms = self->cfg.command_timeout_ms;
	seq->flags = flags;
	g_task_set_task_data(task, seq, (GDestroyNotify)seq_free);
	seq_next(task);
}

static gboolean
seq_finish(DfotaModem *self, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

/* ---- initialisation ---------------------------------------------------------------------- */

static void
init_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	DfotaModem *self = DFOTA_MODEM(source);
	g_autoptr(GError) error = NULL;

	if (!seq_finish(self, res, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		/* The module answered AT a moment ago, so try the whole sequence again. */
		g_warning("modem %s: initialisation failed: %s; retrying", self->cfg.name,
		          error->message);
		if (self->channel)
			modem_begin_init(self);
		return;
	}
	g_clear_object(&self->init_cancellable);
	g_message("modem %s: ready: %s %s %s, IMEI %s", self->cfg.name, self->manufacturer,
	          self->model, self->revision, self->imei);
	set_inner_state(self, DFOTA_MODEM_STATE_READY);
	g_signal_emit(self, signals[SIGNAL_INITIALIZED], 0);
}

static void init_probe(DfotaModem *self);

void
dfota_modem_identity_done(DfotaModem *self)
{
	static const char *const network_commands[] = { "AT+CESQ", "AT+COPS?", "AT+CGPADDR", NULL };

	seq_run(self, network_commands, SEQ_IGNORE_ERRORS, self->init_cancellable, init_done, NULL);
}

static void
init_setup_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	DfotaModem *self = DFOTA_MODEM(source);
	g_autoptr(GError) error = NULL;

	if (!seq_finish(self, res, &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && self->channel)
			modem_begin_init(self);
		return;
	}
	dfota_modem_identity_round(self);
}

static gboolean
init_probe_retry(gpointer user_data)
{
	DfotaModem *self = user_data;

	self->probe_retry_id = 0;
	init_probe(self);
	return G_SOURCE_REMOVE;
}

static void
init_probe_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	DfotaModem *self = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, &error);
	static const char *const setup_commands[] = { "ATE0", "AT+CMEE=1", NULL };

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
	    g_error_matches(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST)) {
		g_object_unref(self);
		return;
	}
	if (!lines) {
		g_debug("modem %s: no answer to AT yet (%s)", self->cfg.name, error->message);
		self->probe_retry_ms =
		        MIN(MAX(self->probe_retry_ms * 2, PROBE_RETRY_MIN_MS), PROBE_RETRY_MAX_MS);
		self->probe_retry_id = g_timeout_add(self->probe_retry_ms, init_probe_retry, self);
		g_object_unref(self);
		return;
	}
	self->probe_retry_ms = 0;
	seq_run(self, setup_commands, SEQ_IGNORE_ERRORS, self->init_cancellable, init_setup_done,
	        NULL);
	g_object_unref(self);
}

static void
init_probe(DfotaModem *self)
{
	if (!self->channel)
		return;
	dfota_at_channel_send(self->channel, "AT", PROBE_TIMEOUT_MS, DFOTA_AT_FLAG_NONE,
	                      self->init_cancellable, init_probe_done, g_object_ref(self));
}

static void
modem_begin_init(DfotaModem *self)
{
	if (self->init_cancellable)
		g_cancellable_cancel(self->init_cancellable);
	g_clear_object(&self->init_cancellable);
	g_clear_handle_id(&self->probe_retry_id, g_source_remove);
	g_clear_handle_id(&self->identity_retry_id, g_source_remove);
	self->init_cancellable = g_cancellable_new();
	self->probe_retry_ms = 0;
	self->boot_us = g_get_monotonic_time();
	self->identity_tries = 0;
	self->identity_current = FALSE;
	self->imei_current = FALSE;
	init_probe(self);
}

/* ---- port lifecycle ---------------------------------------------------------------------- */

static void
on_channel_urc(DfotaAtChannel *channel, const char *line, gpointer user_data)
{
	DfotaModem *self = user_data;

	g_signal_emit(self, signals[SIGNAL_URC], 0, line);
	if (dfota_at_is_boot_urc(line)) {
		g_message("modem %s: the module restarted (%s)", self->cfg.name, line);
		set_inner_state(self, DFOTA_MODEM_STATE_REBOOTING);
		g_signal_emit(self, signals[SIGNAL_REBOOTED], 0);
		modem_begin_init(self);
	}
}

static void
close_port(DfotaModem *self)
{
	if (self->init_cancellable)
		g_cancellable_cancel(self->init_cancellable);
	g_clear_object(&self->init_cancellable);
	g_clear_handle_id(&self->probe_retry_id, g_source_remove);
	g_clear_handle_id(&self->identity_retry_id, g_source_remove);
	if (self->channel) {
		dfota_modem_remove_boot_line_handlers(self);
		g_clear_signal_handler(&self->urc_handler, self->channel);
		g_clear_signal_handler(&self->lost_handler, self->channel);
		g_clear_signal_handler(&self->unresponsive_handler, self->channel);
		g_clear_signal_handler(&self->resynced_handler, self->channel);
		g_clear_signal_handler(&self->written_handler, self->channel);
		dfota_at_channel_shutdown(self->channel);
		g_clear_object(&self->channel);
	}
	if (self->serial) {
		dfota_serial_close(self->serial);
		g_clear_object(&self->serial);
	}
}

static gboolean
open_retry_cb(gpointer user_data)
{
	DfotaModem *self = user_data;

	self->open_retry_id = 0;
	modem_open_port(self);
	return G_SOURCE_REMOVE;
}

static void
schedule_reopen(DfotaModem *self)
{
	if (self->stopped || self->open_retry_id)
		return;
	self->open_retry_ms =
	        MIN(MAX(self->open_retry_ms * 2, OPEN_RETRY_MIN_MS), OPEN_RETRY_MAX_MS);
	self->open_retry_id = g_timeout_add(self->open_retry_ms, open_retry_cb, self);
}

static void
on_channel_lost(DfotaAtChannel *channel, GError *error, gpointer user_data)
{
	DfotaModem *self = user_data;

	g_warning("modem %s: lost the port %s: %s", self->cfg.name, self->port_path,
	          error ? error->message : "unknown reason");
	close_port(self);
	set_inner_state(self, DFOTA_MODEM_STATE_DISCONNECTED);
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
	self->open_retry_ms = 0;
	schedule_reopen(self);
}

/* The port is there but the module stopped answering: disconnected until the channel's own
 * probing (with back-off) gets an answer, then re-initialised. */
static void
on_channel_unresponsive(DfotaAtChannel *channel, gpointer user_data)
{
	DfotaModem *self = user_data;

	g_warning("modem %s: the module on %s does not answer; probing with back-off",
	          self->cfg.name, self->port_path);
	if (self->init_cancellable)
		g_cancellable_cancel(self->init_cancellable);
	g_clear_object(&self->init_cancellable);
	g_clear_handle_id(&self->probe_retry_id, g_source_remove);
	g_clear_handle_id(&self->identity_retry_id, g_source_remove);
	set_inner_state(self, DFOTA_MODEM_STATE_DISCONNECTED);
	g_signal_emit(self, signals[SIGNAL_LOST], 0);
}

static void
on_channel_command_written(DfotaAtChannel *channel, gpointer user_data)
{
	DfotaModem *self = user_data;

	self->at_commands_total++;
	g_signal_emit(self, signals[SIGNAL_AT_COMMAND], 0);
}

static void
on_channel_resynced(DfotaAtChannel *channel, gpointer user_data)
{
	DfotaModem *self = user_data;

	if (self->inner_state != DFOTA_MODEM_STATE_DISCONNECTED)
		return;
	g_message("modem %s: the module answers again; re-initialising", self->cfg.name);
	set_inner_state(self, DFOTA_MODEM_STATE_INITIALIZING);
	modem_begin_init(self);
}

static char *
resolve_port(DfotaModem *self, GPtrArray *ports, GError **error)
{
	DfotaPortMatch match = { self->cfg.usb_serial, self->cfg.usb_vid, self->cfg.usb_pid };
	const DfotaPortInfo *info;

	if (self->cfg.port)
		return g_strdup(self->cfg.port);
	info = dfota_ports_match(ports, &match, error);
	return info ? g_strdup(info->path) : NULL;
}

static void
modem_open_port(DfotaModem *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) ports = dfota_ports_enumerate();
	g_autofree char *path = resolve_port(self, ports, &error);
	g_autoptr(GVariant) device = NULL;

	if (path)
		self->serial = dfota_serial_open(path, self->cfg.baud, self->cfg.rtscts, &error);
	if (!self->serial) {
		g_assert(error != NULL); /* every failure above sets it (not seen by scan-build) */
		/* Say it once per distinct reason, not once per retry. */
		if (g_strcmp0(self->last_open_error, error->message) != 0) {
			g_warning("modem %s: %s; retrying", self->cfg.name, error->message);
			g_free(self->last_open_error);
			self->last_open_error = g_strdup(error->message);
		}
		schedule_reopen(self);
		return;
	}
	g_clear_pointer(&self->last_open_error, g_free);
	self->open_retry_ms = 0;
	set_string(self, &self->port_path, path, PROP_PORT);
	device = dfota_port_info_to_variant(dfota_ports_find_path(ports, path));
	if (!self->device || !g_variant_equal(device, self->device)) {
		g_clear_pointer(&self->device, g_variant_unref);
		self->device = g_variant_ref_sink(g_steal_pointer(&device));
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_DEVICE]);
	}
	g_message("modem %s: opened %s at %u baud%s", self->cfg.name, path, self->cfg.baud,
	          self->cfg.rtscts ? " with RTS/CTS" : "");
	self->channel = dfota_at_channel_new(self->serial);
	dfota_modem_add_urc_prefixes(self->channel);
	dfota_at_channel_set_max_queue(self->channel, self->cfg.max_queue);
	dfota_at_channel_set_quiet_ms(self->channel, self->cfg.quiet_ms);
	dfota_at_channel_set_unresponsive_quiet_ms(self->channel,
	                                           (self->cfg.data_phase_timeout_s + 2) * 1000);
	self->urc_handler =
	        g_signal_connect(self->channel, "urc", G_CALLBACK(on_channel_urc), self);
	self->lost_handler =
	        g_signal_connect(self->channel, "lost", G_CALLBACK(on_channel_lost), self);
	self->unresponsive_handler = g_signal_connect(self->channel, "unresponsive",
	                                              G_CALLBACK(on_channel_unresponsive), self);
	self->resynced_handler =
	        g_signal_connect(self->channel, "resynced", G_CALLBACK(on_channel_resynced), self);
	self->written_handler = g_signal_connect(self->channel, "command-written",
	                                         G_CALLBACK(on_channel_command_written), self);
	dfota_modem_add_boot_line_handlers(self);
	set_inner_state(self, DFOTA_MODEM_STATE_INITIALIZING);
	modem_begin_init(self);
}

void
dfota_modem_start(DfotaModem *self)
{
	self->stopped = FALSE;
	if (!self->serial && !self->open_retry_id)
		modem_open_port(self);
}

void
dfota_modem_stop(DfotaModem *self)
{
	self->stopped = TRUE;
	g_clear_handle_id(&self->open_retry_id, g_source_remove);
	close_port(self);
	set_inner_state(self, DFOTA_MODEM_STATE_DISCONNECTED);
}

/* ---- commands ------------------------------------------------------------------------------ */

static void
command_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	char **lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, &error);

	if (lines)
		g_task_return_pointer(task, lines, (GDestroyNotify)g_strfreev);
	else
		g_task_return_error(task, error);
}

void
dfota_modem_command(DfotaModem *self, const char *command, guint timeout_ms, DfotaAtFlags flags,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);

	if (!self->channel) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                        "The modem on %s is disconnected",
		                        self->port_path ? self->port_path : self->cfg.name);
		g_object_unref(task);
		return;
	}
	dfota_at_channel_send(self->channel, command,
	                      timeout_ms ? timeout_ms : self->cfg.command_timeout_ms, flags,
	                      cancellable, command_done, task);
}

char **
dfota_modem_command_finish(DfotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
dfota_modem_refresh(DfotaModem *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data)
{
	static const char *const commands[] = { "ATI", "AT+CESQ", "AT+COPS?", "AT+CGPADDR", NULL };

	if (!self->channel) {
		g_task_report_new_error(self, callback, user_data, dfota_modem_refresh, DFOTA_ERROR,
		                        DFOTA_ERROR_NOT_READY, "The modem is disconnected");
		return;
	}
	seq_run(self, commands, 0, cancellable, callback, user_data);
}

gboolean
dfota_modem_refresh_finish(DfotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}

DfotaModemNetwork *
dfota_modem_peek_network(DfotaModem *self)
{
	return &self->network;
}

void
dfota_modem_notify_network(DfotaModem *self)
{
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_NETWORK]);
}

void
dfota_modem_set_identity(DfotaModem *self, const DfotaAtIdentity *id)
{
	set_string(self, &self->manufacturer, id->manufacturer, PROP_MANUFACTURER);
	set_string(self, &self->model, id->model, PROP_MODEL);
	set_string(self, &self->revision, id->revision, PROP_REVISION);
	set_string(self, &self->sub_edition, id->sub_edition ? id->sub_edition : "", 0);
}

void
dfota_modem_set_imei(DfotaModem *self, const char *imei)
{
	set_string(self, &self->imei, imei, PROP_IMEI);
}

/* ---- accessors ----------------------------------------------------------------------------- */

DfotaModemState
dfota_modem_get_state(DfotaModem *self)
{
	return self->public_state;
}

const DfotaModemConfig *
dfota_modem_get_config(DfotaModem *self)
{
	return &self->cfg;
}

const char *
dfota_modem_get_port(DfotaModem *self)
{
	return self->port_path;
}

const char *
dfota_modem_get_manufacturer(DfotaModem *self)
{
	return self->manufacturer;
}

const char *
dfota_modem_get_model(DfotaModem *self)
{
	return self->model;
}

const char *
dfota_modem_get_revision(DfotaModem *self)
{
	return self->revision;
}

const char *
dfota_modem_get_sub_edition(DfotaModem *self)
{
	return self->sub_edition;
}

const char *
dfota_modem_get_imei(DfotaModem *self)
{
	return self->imei;
}

gboolean
dfota_modem_is_bc92(DfotaModem *self)
{
	return self->model && strstr(self->model, "BC92") != NULL;
}

GVariant *
dfota_modem_get_device(DfotaModem *self)
{
	return g_variant_ref(self->device);
}

DfotaAtChannel *
dfota_modem_get_channel(DfotaModem *self)
{
	return self->channel;
}

guint64
dfota_modem_get_at_commands_total(DfotaModem *self)
{
	return self->at_commands_total;
}

void
dfota_modem_set_job_active(DfotaModem *self, gboolean active)
{
	self->job_active = active;
	update_state(self);
}

/* ---- GObject ------------------------------------------------------------------------------- */

static void
dfota_modem_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	DfotaModem *self = DFOTA_MODEM(object);

	switch (prop_id) {
	case PROP_STATE:
		g_value_set_uint(value, self->public_state);
		break;
	case PROP_MANUFACTURER:
		g_value_set_string(value, self->manufacturer);
		break;
	case PROP_MODEL:
		g_value_set_string(value, self->model);
		break;
	case PROP_REVISION:
		g_value_set_string(value, self->revision);
		break;
	case PROP_IMEI:
		g_value_set_string(value, self->imei);
		break;
	case PROP_NETWORK:
		g_value_take_variant(value, dfota_modem_get_network(self));
		break;
	case PROP_DEVICE:
		g_value_set_variant(value, self->device);
		break;
	case PROP_PORT:
		g_value_set_string(value, self->port_path);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
dfota_modem_dispose(GObject *object)
{
	DfotaModem *self = DFOTA_MODEM(object);

	self->stopped = TRUE;
	g_clear_handle_id(&self->open_retry_id, g_source_remove);
	close_port(self);
	G_OBJECT_CLASS(dfota_modem_parent_class)->dispose(object);
}

static void
dfota_modem_finalize(GObject *object)
{
	DfotaModem *self = DFOTA_MODEM(object);

	dfota_modem_config_clear(&self->cfg);
	g_free(self->port_path);
	g_free(self->manufacturer);
	g_free(self->model);
	g_free(self->revision);
	g_free(self->sub_edition);
	g_free(self->imei);
	dfota_modem_network_clear(&self->network);
	g_free(self->last_open_error);
	g_clear_pointer(&self->device, g_variant_unref);
	G_OBJECT_CLASS(dfota_modem_parent_class)->finalize(object);
}

static void
dfota_modem_class_init(DfotaModemClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = dfota_modem_get_property;
	object_class->dispose = dfota_modem_dispose;
	object_class->finalize = dfota_modem_finalize;

	props[PROP_STATE] = g_param_spec_uint("state", NULL, NULL, 0, DFOTA_MODEM_STATE_REBOOTING,
	                                      0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_MANUFACTURER] = g_param_spec_string("manufacturer", NULL, NULL, "",
	                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_MODEL] = g_param_spec_string("model", NULL, NULL, "",
	                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_REVISION] = g_param_spec_string("revision", NULL, NULL, "",
	                                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_IMEI] = g_param_spec_string("imei", NULL, NULL, "",
	                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_NETWORK] = g_param_spec_variant("network", NULL, NULL, G_VARIANT_TYPE_VARDICT,
	                                           NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_DEVICE] = g_param_spec_variant("device", NULL, NULL, G_VARIANT_TYPE_VARDICT,
	                                          NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_PORT] = g_param_spec_string("port", NULL, NULL, "",
	                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, props);

	signals[SIGNAL_URC] = g_signal_new("urc", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_REBOOTED] =
	        g_signal_new("rebooted", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_INITIALIZED] =
	        g_signal_new("initialized", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_LOST] = g_signal_new("lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                    NULL, NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_AT_COMMAND] =
	        g_signal_new("at-command", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                     NULL, NULL, G_TYPE_NONE, 0);
}

static void
dfota_modem_init(DfotaModem *self)
{
	self->inner_state = DFOTA_MODEM_STATE_DISCONNECTED;
	self->public_state = DFOTA_MODEM_STATE_DISCONNECTED;
	self->manufacturer = g_strdup("");
	self->model = g_strdup("");
	self->revision = g_strdup("");
	self->sub_edition = g_strdup("");
	self->imei = g_strdup("");
	self->port_path = g_strdup("");
	self->device = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
}

DfotaModem *
dfota_modem_new(const DfotaModemConfig *cfg)
{
	DfotaModem *self = g_object_new(DFOTA_TYPE_MODEM, NULL);

	self->cfg = *cfg;
	self->cfg.name = g_strdup(cfg->name);
	self->cfg.port = g_strdup(cfg->port);
	self->cfg.usb_serial = g_strdup(cfg->usb_serial);
	if (!self->cfg.command_timeout_ms)
		self->cfg.command_timeout_ms = DFOTA_DEFAULT_COMMAND_TIMEOUT_MS;
	if (!self->cfg.max_queue)
		self->cfg.max_queue = DFOTA_AT_CHANNEL_DEFAULT_MAX_QUEUE;
	if (!self->cfg.quiet_ms)
		self->cfg.quiet_ms = DFOTA_AT_CHANNEL_DEFAULT_QUIET_MS;
	if (!self->cfg.data_phase_timeout_s)
		self->cfg.data_phase_timeout_s = DFOTA_DEFAULT_UPLOAD_TIMEOUT_S;
	if (!self->cfg.identity_timeout_s)
		self->cfg.identity_timeout_s = DFOTA_DEFAULT_IDENTITY_TIMEOUT_S;
	if (self->cfg.port)
		set_string(self, &self->port_path, self->cfg.port, 0);
	return self;
}
