// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-modem-urcs.c: the BC65/BC92's unsolicited result codes. */
#include "dfota-modem-urcs.h"

/* The channel itself knows the sleep and boot lines; these are the module's others. A line
 * with one of them still answers a command that asks for it (AT+CEREG? gets its +CEREG:). */
static const char *const module_urc_prefixes[] = {
	"+QIND:", "+CPIN:", "+CEREG:", "+CGREG:", "+CSCON:",     "+QNBIOTEVENT:",
	"+IP:",   "+CGEV:", "+CTZEU:", "+CTZV:",  "+QLWEVTIND:", "+NPSMR:",
};

void
dfota_modem_add_urc_prefixes(DfotaAtChannel *channel)
{
	for (gsize i = 0; i < G_N_ELEMENTS(module_urc_prefixes); i++)
		dfota_at_channel_add_urc_prefix(channel, module_urc_prefixes[i]);
}
