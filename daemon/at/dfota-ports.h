// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-ports.h: which serial ports exist and what is behind them (libserialport).
 *
 * libserialport enumerates ports and identifies USB adapters well; it is not used to open
 * the tty (0.1.1 refuses ptys and symlinks): DfotaSerial does that with termios.
 * The matching logic is a pure function over a list of DfotaPortInfo, so it is tested with
 * made-up port lists.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	char *path;      /* "/dev/ttyUSB0" */
	char *transport; /* "native", "usb", "bluetooth" */
	guint16 usb_vid; /* 0 when not USB */
	guint16 usb_pid;
	char *usb_manufacturer; /* NULL when unknown */
	char *usb_product;
	char *usb_serial;
} DfotaPortInfo;

void dfota_port_info_free(DfotaPortInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DfotaPortInfo, dfota_port_info_free)

/* What to look for: any field left NULL/0 matches everything. */
typedef struct {
	const char *usb_serial;
	guint16 usb_vid;
	guint16 usb_pid;
} DfotaPortMatch;

/* All serial ports libserialport sees, as a GPtrArray of DfotaPortInfo (owned). */
GPtrArray *dfota_ports_enumerate(void);

/* The one port of @ports that matches @match. NULL with G_IO_ERROR_NOT_FOUND when none
 * matches and G_IO_ERROR_EXISTS when several do (ambiguous: name usb-serial). Pure. */
const DfotaPortInfo *dfota_ports_match(GPtrArray *ports, const DfotaPortMatch *match,
                                       GError **error);

/* The entry of @ports for @path (symlinks resolved with realpath first), or NULL. Pure
 * except for realpath. */
const DfotaPortInfo *dfota_ports_find_path(GPtrArray *ports, const char *path);

/* The Device property a{sv} for @info: empty dict for NULL (e.g. a pty). Floating. */
GVariant *dfota_port_info_to_variant(const DfotaPortInfo *info);

G_END_DECLS
