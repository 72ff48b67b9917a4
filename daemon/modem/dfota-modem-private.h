// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem-private.h: what the modem's three files share, and nobody else.
 *
 * dfota-modem.c: port lifecycle, initialisation, state, the GObject. dfota-modem-identity.c:
 * the identity after boot (ATI, AT+CGSN=1, asked again while the module is not ready).
 * dfota-modem-network.c: registration, PDP context, signal figures and the preflight. The
 * network side only reaches the modem through the functions below; the identity side, which
 * is part of initialisation, reads the modem's fields.
 */
#pragma once

#include "dfota-modem.h"

G_BEGIN_DECLS

/* What the module said of its network: AT+COPS?, AT+CGPADDR and AT+CESQ. */
typedef struct {
	gboolean registered;
	DfotaAtRat rat;
	char *oper;
	char *ip_address;
	DfotaAtCesq cesq;
	gboolean have_cesq;
} DfotaModemNetwork;

void dfota_modem_network_clear(DfotaModemNetwork *net);

struct _DfotaModem {
	GObject parent_instance;

	DfotaModemConfig cfg;
	char *port_path;
	DfotaSerial *serial;
	DfotaAtChannel *channel;
	gulong urc_handler;
	gulong lost_handler;
	gulong unresponsive_handler;
	gulong resynced_handler;
	gulong written_handler;
	guint64 at_commands_total; /* over every channel this modem has had */

	DfotaModemState inner_state; /* never BUSY: that is derived from job_active */
	DfotaModemState public_state;
	gboolean job_active;
	gboolean stopped;

	char *manufacturer;
	char *model;
	char *revision;
	char *sub_edition;
	char *imei;
	DfotaModemNetwork network;
	GVariant *device;

	guint open_retry_id;
	guint open_retry_ms;
	char *last_open_error;
	guint probe_retry_id;
	guint probe_retry_ms;
	GCancellable *init_cancellable;

	/* identity after boot */
	gint64 boot_us;              /* when the current initialisation began */
	guint identity_tries;        /* rounds asked since then */
	guint identity_query;        /* the identity query in flight (dfota-modem-identity.c) */
	guint identity_retry_id;     /* the next round */
	gboolean identity_current;   /* ATI answered completely since then */
	gboolean imei_current;       /* AT+CGSN=1 answered with an IMEI since then */
	guint boot_line_handlers[3]; /* URC handlers of the boot lines on the channel */
};

/* ---- dfota-modem.c, for the identity side ---- */

/* Sets Manufacturer, Model, Revision (announcing changes) and the sub-edition from @id. */
void dfota_modem_set_identity(DfotaModem *self, const DfotaAtIdentity *id);
/* Sets Imei (announcing a change). */
void dfota_modem_set_imei(DfotaModem *self, const char *imei);
/* The identity rounds are over (complete, or the bound reached): initialisation goes on. */
void dfota_modem_identity_done(DfotaModem *self);

/* ---- dfota-modem-identity.c ---- */

/* Applies a complete ATI answer (and sets identity_current); a partial one changes nothing.
 * FALSE when incomplete. */
gboolean dfota_modem_apply_identity_lines(DfotaModem *self, char **lines);
/* Applies the IMEI of an AT+CGSN=1 answer (and sets imei_current). FALSE when there is none. */
gboolean dfota_modem_apply_imei_lines(DfotaModem *self, char **lines);
/* One round of identity queries; further rounds follow until both answers are complete or
 * identity-timeout after boot_us, then dfota_modem_identity_done(). */
void dfota_modem_identity_round(DfotaModem *self);
/* Registers the lines modules print around a boot ("APP RDY", which asks again at once,
 * "POWERED DOWN", "Last upgrade was not finished,continue upgrade") as URCs on the channel,
 * so that they are never taken for part of an answer (an ATI answer with "APP RDY" inside
 * would otherwise name the wrong manufacturer); and removes them again. */
void dfota_modem_add_boot_line_handlers(DfotaModem *self);
void dfota_modem_remove_boot_line_handlers(DfotaModem *self);

/* The modem's network record (owned by the modem). */
DfotaModemNetwork *dfota_modem_peek_network(DfotaModem *self);
/* Announces a change of the record ("notify::network"). */
void dfota_modem_notify_network(DfotaModem *self);

/* Applies the information lines that answered @command (AT+CESQ, AT+COPS? or AT+CGPADDR) to
 * the modem's network record and announces it. */
void dfota_modem_apply_network_lines(DfotaModem *self, const char *command, char **lines);

G_END_DECLS
