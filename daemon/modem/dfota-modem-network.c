// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem-network.c: the modem's network side. What AT+COPS?, AT+CGPADDR and AT+CESQ
 * report becomes the Network property, and the preflight of the jobs where the module
 * downloads (registered; on a BC92 on GSM the PDP context, seed 4.2; an IP address) runs as
 * a small chain of commands on the modem's channel.
 */
#include "dfota-modem-private.h"

#include "dfota-error.h"

#define PDP_TIMEOUT_MS 30000

void
dfota_modem_network_clear(DfotaModemNetwork *net)
{
	g_clear_pointer(&net->oper, g_free);
	g_clear_pointer(&net->ip_address, g_free);
}

GVariant *
dfota_modem_get_network(DfotaModem *modem)
{
	const DfotaModemNetwork *self = dfota_modem_peek_network(modem);
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&b, "{sv}", "registered", g_variant_new_boolean(self->registered));
	g_variant_builder_add(&b, "{sv}", "access-technology",
	                      g_variant_new_string(dfota_at_rat_to_string(self->rat)));
	g_variant_builder_add(&b, "{sv}", "operator",
	                      g_variant_new_string(self->oper ? self->oper : ""));
	g_variant_builder_add(&b, "{sv}", "ip-address",
	                      g_variant_new_string(self->ip_address ? self->ip_address : ""));
	if (self->have_cesq) {
		if (self->cesq.rsrq >= 0)
			g_variant_builder_add(&b, "{sv}", "rsrq",
			                      g_variant_new_int32(self->cesq.rsrq));
		if (self->cesq.rsrp >= 0)
			g_variant_builder_add(&b, "{sv}", "rsrp",
			                      g_variant_new_int32(self->cesq.rsrp));
		if (self->cesq.rxlev >= 0)
			g_variant_builder_add(&b, "{sv}", "rxlev",
			                      g_variant_new_int32(self->cesq.rxlev));
		if (self->cesq.ber >= 0)
			g_variant_builder_add(&b, "{sv}", "ber",
			                      g_variant_new_int32(self->cesq.ber));
	}
	return g_variant_ref_sink(g_variant_builder_end(&b));
}

void
dfota_modem_apply_network_lines(DfotaModem *modem, const char *command, char **lines)
{
	DfotaModemNetwork *self = dfota_modem_peek_network(modem);

	for (guint i = 0; lines && lines[i]; i++) {
		const char *l = lines[i];

		if (g_str_equal(command, "AT+CESQ")) {
			DfotaAtCesq c;
			if (dfota_at_parse_cesq(l, &c)) {
				self->cesq = c;
				self->have_cesq = TRUE;
			}
		} else if (g_str_equal(command, "AT+COPS?")) {
			DfotaAtCops c = { 0 };
			if (dfota_at_parse_cops(l, &c)) {
				self->registered = c.registered;
				self->rat = c.rat;
				g_free(self->oper);
				self->oper = g_strdup(c.oper ? c.oper : "");
			}
			dfota_at_cops_clear(&c);
		} else if (g_str_equal(command, "AT+CGPADDR")) {
			int cid = 0;
			g_autofree char *addr = NULL;
			if (dfota_at_parse_cgpaddr(l, &cid, &addr)) {
				g_free(self->ip_address);
				self->ip_address = g_strdup(addr ? addr : "");
				if (addr && *addr)
					break;
			}
		}
	}
	dfota_modem_notify_network(modem);
}

/* ---- preflight --------------------------------------------------------------------------- */

typedef enum {
	NET_COPS,
	NET_CGACT_QUERY,
	NET_CGDCONT,
	NET_CGACT,
	NET_CGPADDR,
	NET_DONE,
} NetStep;

typedef struct {
	NetStep step;
} NetData;

static void net_next(GTask *task);

static void
net_step_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	DfotaModem *self = g_task_get_source_object(task);
	NetData *nd = g_task_get_task_data(task);
	const DfotaModemNetwork *net = dfota_modem_peek_network(self);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = dfota_at_channel_send_finish(DFOTA_AT_CHANNEL(source), res, &error);

	if (!lines) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                        "The network check failed: %s", error->message);
		return;
	}
	switch (nd->step) {
	case NET_COPS:
		dfota_modem_apply_network_lines(self, "AT+COPS?", lines);
		if (!net->registered) {
			g_task_return_new_error(
			        task, DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
			        "The module is not registered on a network (AT+COPS?); "
			        "wait for registration and try again");
			return;
		}
		/* Seed 4.2: a BC92 on GSM needs its PDP context set up by hand. */
		nd->step = (dfota_modem_is_bc92(self) && net->rat == DFOTA_AT_RAT_GSM)
		                   ? NET_CGACT_QUERY
		                   : NET_CGPADDR;
		break;
	case NET_CGACT_QUERY: {
		gboolean active = FALSE;
		for (guint i = 0; lines[i]; i++) {
			int cid, state;
			if (dfota_at_parse_cgact(lines[i], &cid, &state) && cid == 1 && state == 1)
				active = TRUE;
		}
		nd->step = active ? NET_CGPADDR : NET_CGDCONT;
		break;
	}
	case NET_CGDCONT:
		nd->step = NET_CGACT;
		break;
	case NET_CGACT:
		nd->step = NET_CGPADDR;
		break;
	case NET_CGPADDR:
		dfota_modem_apply_network_lines(self, "AT+CGPADDR", lines);
		if (!net->ip_address || !*net->ip_address) {
			g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
			                        "The module has no IP address (AT+CGPADDR); the "
			                        "module cannot download yet");
			return;
		}
		nd->step = NET_DONE;
		break;
	case NET_DONE:
		break;
	}
	net_next(g_steal_pointer(&task));
}

static void
net_next(GTask *task)
{
	DfotaModem *self = g_task_get_source_object(task);
	NetData *nd = g_task_get_task_data(task);
	const char *command = NULL;
	guint timeout = dfota_modem_get_config(self)->command_timeout_ms;

	switch (nd->step) {
	case NET_COPS:
		command = "AT+COPS?";
		break;
	case NET_CGACT_QUERY:
		command = "AT+CGACT?";
		break;
	case NET_CGDCONT:
		command = "AT+CGDCONT=1,\"IP\"";
		break;
	case NET_CGACT:
		command = "AT+CGACT=1,1";
		timeout = MAX(timeout, PDP_TIMEOUT_MS);
		break;
	case NET_CGPADDR:
		command = "AT+CGPADDR";
		break;
	case NET_DONE:
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	if (!dfota_modem_get_channel(self)) {
		g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_NOT_READY,
		                        "The modem is disconnected");
		g_object_unref(task);
		return;
	}
	dfota_at_channel_send(dfota_modem_get_channel(self), command, timeout, DFOTA_AT_FLAG_NONE,
	                      g_task_get_cancellable(task), net_step_done, task);
}

void
dfota_modem_ensure_network(DfotaModem *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);

	g_task_set_task_data(task, g_new0(NetData, 1), g_free);
	net_next(task);
}

gboolean
dfota_modem_ensure_network_finish(DfotaModem *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}
