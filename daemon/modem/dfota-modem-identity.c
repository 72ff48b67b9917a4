// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem-identity.c: the module's identity, as initialisation reads it after a boot.
 *
 * ATI gives Manufacturer, Model and Revision, AT+CGSN=1 the IMEI. Just after RDY (and while
 * the daemon starts next to a booting module) modules refuse these (+CME ERROR: 14, ERROR),
 * leave them unanswered, or answer in part (ATI without its Revision line, or with only the
 * manufacturer). Only complete answers are applied; the missing ones are asked again once a
 * second, and at once on APP RDY, until identity-timeout after the boot.
 */
#include "dfota-modem-private.h"

#include "dfota-error.h"

/* A module that refuses or half answers the identity queries just after boot is asked again
 * this often, until identity-timeout after the boot. */
#define IDENTITY_RETRY_MS 1000

/* Sets Manufacturer, Model and Revision from a complete ATI answer only: a partial one
 * (no Revision line, only the manufacturer) changes nothing. */
gboolean
dfota_modem_apply_identity_lines(DfotaModem *self, char **lines)
{
	DfotaAtIdentity id = { 0 };

	if (!dfota_at_parse_ati((const char *const *)lines, &id)) {
		g_autofree char *joined = lines ? g_strjoinv(" | ", lines) : g_strdup("");
		g_message("modem %s: incomplete ATI answer \"%s\"", self->cfg.name, joined);
		return FALSE;
	}
	dfota_modem_set_identity(self, &id);
	self->identity_current = TRUE;
	dfota_at_identity_clear(&id);
	return TRUE;
}

gboolean
dfota_modem_apply_imei_lines(DfotaModem *self, char **lines)
{
	for (guint i = 0; lines && lines[i]; i++) {
		g_autofree char *imei = dfota_at_parse_imei(lines[i]);
		if (imei) {
			dfota_modem_set_imei(self, imei);
			self->imei_current = TRUE;
			return TRUE;
		}
	}
	g_message("modem %s: no IMEI in the AT+CGSN=1 answer", self->cfg.name);
	return FALSE;
}

static gboolean
identity_retry_cb(gpointer user_data)
{
	DfotaModem *self = user_data;

	self->identity_retry_id = 0;
	dfota_modem_identity_round(self);
	return G_SOURCE_REMOVE;
}

/* After each round: on with the initialisation once both answers were complete, or once the
 * bound is reached (the properties then keep what they had); otherwise another round. */
static void
identity_after_round(DfotaModem *self)
{
	gint64 deadline = self->boot_us + (gint64)self->cfg.identity_timeout_s * G_USEC_PER_SEC;

	if (self->identity_current && self->imei_current) {
		dfota_modem_identity_done(self);
		return;
	}
	if (g_get_monotonic_time() + IDENTITY_RETRY_MS * 1000 > deadline) {
		g_warning("modem %s: no complete %s%s%s within %u s of boot (%u tries); "
		          "Manufacturer, Model, Revision and Imei keep what they were (\"%s\", "
		          "\"%s\", \"%s\", \"%s\"), Refresh() asks again; commands are served",
		          self->cfg.name, self->identity_current ? "" : "ATI answer",
		          !self->identity_current && !self->imei_current ? " and " : "",
		          self->imei_current ? "" : "AT+CGSN=1 answer",
		          self->cfg.identity_timeout_s, self->identity_tries, self->manufacturer,
		          self->model, self->revision, self->imei);
		dfota_modem_identity_done(self);
		return;
	}
	self->identity_retry_id = g_timeout_add(IDENTITY_RETRY_MS, identity_retry_cb, self);
}

static gboolean
init_gone(const GError *error)
{
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
	       g_error_matches(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
}

/* The two identity queries: each applies only a complete answer. */
static const struct {
	const char *command;
	gboolean (*apply)(DfotaModem *self, char **lines);
} identity_queries[] = {
	{ "ATI", dfota_modem_apply_identity_lines },
	{ "AT+CGSN=1", dfota_modem_apply_imei_lines },
};

static void identity_ask(DfotaModem *self, guint query);

static void
identity_query_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(DfotaModem) self = user_data;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, &error);
	guint query = self->identity_query;

	if (init_gone(error))
		return;
	if (!lines)
		g_message("modem %s: %s failed: %s", self->cfg.name,
		          identity_queries[query].command, error->message);
	else
		identity_queries[query].apply(self, lines);
	identity_ask(self, query + 1);
}

/* Asks query @query and those after it whose answer is still missing, then ends the round. */
static void
identity_ask(DfotaModem *self, guint query)
{
	for (; query < G_N_ELEMENTS(identity_queries) && self->channel; query++) {
		gboolean have = query == 0 ? self->identity_current : self->imei_current;

		if (have)
			continue;
		self->identity_query = query;
		dfota_at_channel_send(self->channel, identity_queries[query].command,
		                      self->cfg.command_timeout_ms, DFOTA_AT_FLAG_NONE,
		                      self->init_cancellable, identity_query_done,
		                      g_object_ref(self));
		return;
	}
	identity_after_round(self);
}

/* One round: ATI and AT+CGSN=1, each only while its answer is still missing. */
void
dfota_modem_identity_round(DfotaModem *self)
{
	if (!self->channel)
		return;
	self->identity_tries++;
	identity_ask(self, 0);
}

/* "APP RDY" follows "RDY" once the module's application side is up: identity queries that
 * failed until then are asked again at once. */
static void
on_app_ready(DfotaAtChannel *channel, const char *line, gpointer user_data)
{
	DfotaModem *self = user_data;

	g_message("modem %s: %s", self->cfg.name, line);
	if (self->identity_retry_id) {
		g_clear_handle_id(&self->identity_retry_id, g_source_remove);
		dfota_modem_identity_round(self);
	}
}

/* Lines around a reboot that only need to stay out of answers (the job reads them from the
 * modem's "urc" signal). */
static void
on_boot_line(DfotaAtChannel *channel, const char *line, gpointer user_data)
{
	DfotaModem *self = user_data;

	g_message("modem %s: %s", self->cfg.name, line);
}

static const struct {
	const char *prefix;
	DfotaAtUrcFunc func;
} boot_lines[] = {
	{ "APP RDY", on_app_ready },
	{ "POWERED DOWN", on_boot_line },
	{ "Last upgrade", on_boot_line },
};

G_STATIC_ASSERT(G_N_ELEMENTS(boot_lines) ==
                G_SIZEOF_MEMBER(DfotaModem, boot_line_handlers) / sizeof(guint));

void
dfota_modem_add_boot_line_handlers(DfotaModem *self)
{
	for (guint i = 0; i < G_N_ELEMENTS(boot_lines); i++)
		self->boot_line_handlers[i] = dfota_at_channel_add_urc_handler(
		        self->channel, boot_lines[i].prefix, boot_lines[i].func, self, NULL);
}

void
dfota_modem_remove_boot_line_handlers(DfotaModem *self)
{
	for (guint i = 0; i < G_N_ELEMENTS(boot_lines); i++) {
		if (self->boot_line_handlers[i])
			dfota_at_channel_remove_urc_handler(self->channel,
			                                    self->boot_line_handlers[i]);
		self->boot_line_handlers[i] = 0;
	}
}

gboolean
dfota_modem_identity_is_current(DfotaModem *self)
{
	return self->identity_current;
}
