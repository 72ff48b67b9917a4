// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-serial.h: the modem's tty, opened exclusively and driven with termios.
 *
 * One code path for a real UART and a pseudo-terminal: open(O_RDWR|O_NOCTTY|O_NONBLOCK),
 * flock(LOCK_EX|LOCK_NB), ioctl(TIOCEXCL), cfmakeraw, speed, 8N1, CLOCAL|CREAD, CRTSCTS only
 * with flow control. Input is watched by a GLib fd source on the thread-default main
 * context; output goes through a bounded buffer flushed when the fd is writable, so a write
 * never blocks the main loop. No threads, no polling.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DFOTA_TYPE_SERIAL (dfota_serial_get_type())
G_DECLARE_FINAL_TYPE(DfotaSerial, dfota_serial, DFOTA, SERIAL, GObject)

/* Opens and configures @path. @baud must be a rate termios knows (9600 … 921600, 1000000 …);
 * fails with G_IO_ERROR (NOT_FOUND, PERMISSION_DENIED, BUSY when another process holds the
 * lock or TIOCEXCL, INVALID_ARGUMENT for a bad rate) and a message naming the port. */
DfotaSerial *dfota_serial_open(const char *path, guint baud, gboolean rtscts, GError **error);

/* Writes @len bytes: what the kernel takes at once goes now, the rest is queued and leaves as
 * fast as the fd takes it. Never blocks. Fails only when the serial is closed/lost. */
gboolean dfota_serial_write(DfotaSerial *self, const void *data, gsize len, GError **error);

/* Bytes queued and not yet handed to the kernel. */
gsize dfota_serial_get_pending(DfotaSerial *self);
/* Bytes accepted by dfota_serial_write() since the port was opened (taken by the kernel or
 * queued). */
guint64 dfota_serial_get_written(DfotaSerial *self);

const char *dfota_serial_get_path(DfotaSerial *self);
guint dfota_serial_get_baud(DfotaSerial *self);
gboolean dfota_serial_get_rtscts(DfotaSerial *self);

/* Closes the fd (idempotent); no signal is emitted for a close asked for by the owner. */
void dfota_serial_close(DfotaSerial *self);

/*
 * Signals:
 *   "data"    (GBytes *bytes)          bytes read from the tty, in arrival order
 *   "drained" (void)                   output that had to be queued (the kernel did not
 *                                      take it at once) has all been written
 *   "lost"    (GError *error)          EOF/HUP/EIO/ENXIO: the tty is gone; emitted once,
 *                                      the fd is closed already when it fires
 */

G_END_DECLS
