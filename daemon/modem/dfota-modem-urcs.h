// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem-urcs.h: the BC65/BC92's unsolicited result codes, named to the AT channel. */
#pragma once

#include "dfota-at-channel.h"

G_BEGIN_DECLS

/* Tells @channel which line prefixes the module sends unsolicited (network registration,
 * SIM, time zone, PSM, LwM2M, the +QIND: indications FOTA follows, …), so that such a line
 * arriving while a command is in flight goes to the URC handlers, not into the command's
 * answer. Called once for every channel the modem opens. */
void dfota_modem_add_urc_prefixes(DfotaAtChannel *channel);

G_END_DECLS
