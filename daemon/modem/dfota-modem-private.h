// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem-private.h: what dfota-modem.c and dfota-modem-network.c share, and nobody else.
 *
 * The modem object keeps one DfotaModemNetwork; the network side reads and updates it through
 * these functions, so the identity and state code never touches registration or PDP details.
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

/* The modem's network record (owned by the modem). */
DfotaModemNetwork *dfota_modem_peek_network(DfotaModem *self);
/* Announces a change of the record ("notify::network"). */
void dfota_modem_notify_network(DfotaModem *self);

/* Applies the information lines that answered @command (AT+CESQ, AT+COPS? or AT+CGPADDR) to
 * the modem's network record and announces it. */
void dfota_modem_apply_network_lines(DfotaModem *self, const char *command, char **lines);

G_END_DECLS
