// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-serial.c: the modem's tty with termios, an fd GSource and a write queue. */
#include "dfota-serial.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "dfota-error.h"

#define READ_CHUNK 4096

struct _DfotaSerial {
	GObject parent_instance;

	char *path;
	guint baud;
	gboolean rtscts;
	int fd;
	GMainContext *context;
	GSource *in_source;
	GSource *out_source;
	GByteArray *out; /* bytes not yet taken by the kernel, from out_off on */
	gsize out_off;
	guint64 written; /* bytes accepted by dfota_serial_write() */
};

enum { SIGNAL_DATA, SIGNAL_DRAINED, SIGNAL_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(DfotaSerial, dfota_serial, G_TYPE_OBJECT)

static const struct {
	guint baud;
	speed_t speed;
} speeds[] = {
	{ 1200, B1200 },       { 2400, B2400 },     { 4800, B4800 },
	{ 9600, B9600 },       { 19200, B19200 },   { 38400, B38400 },
	{ 57600, B57600 },     { 115200, B115200 }, { 230400, B230400 },
#ifdef B460800
	{ 460800, B460800 },
#endif
#ifdef B500000
	{ 500000, B500000 },
#endif
#ifdef B576000
	{ 576000, B576000 },
#endif
#ifdef B921600
	{ 921600, B921600 },
#endif
#ifdef B1000000
	{ 1000000, B1000000 },
#endif
#ifdef B1152000
	{ 1152000, B1152000 },
#endif
#ifdef B1500000
	{ 1500000, B1500000 },
#endif
#ifdef B2000000
	{ 2000000, B2000000 },
#endif
#ifdef B2500000
	{ 2500000, B2500000 },
#endif
#ifdef B3000000
	{ 3000000, B3000000 },
#endif
#ifdef B3500000
	{ 3500000, B3500000 },
#endif
#ifdef B4000000
	{ 4000000, B4000000 },
#endif
};

static gboolean
baud_to_speed(guint baud, speed_t *speed)
{
	for (gsize i = 0; i < G_N_ELEMENTS(speeds); i++) {
		if (speeds[i].baud == baud) {
			*speed = speeds[i].speed;
			return TRUE;
		}
	}
	return FALSE;
}

static void
stop_sources(DfotaSerial *self)
{
	if (self->in_source) {
		g_source_destroy(self->in_source);
		g_clear_pointer(&self->in_source, g_source_unref);
	}
	if (self->out_source) {
		g_source_destroy(self->out_source);
		g_clear_pointer(&self->out_source, g_source_unref);
	}
}

/* TIOCEXCL belongs to the tty, not to the fd: left set, it outlives the close and makes the next
 * unprivileged open (a restarted daemon under its own user, while a pty master or another process
 * keeps the tty) fail with EBUSY. Cleared before every close; a tty that is gone only fails. */
static void
release_tty(int fd)
{
	(void)ioctl(fd, TIOCNXCL);
	close(fd); /* also releases the flock */
}

void
dfota_serial_close(DfotaSerial *self)
{
	g_return_if_fail(DFOTA_IS_SERIAL(self));

	stop_sources(self);
	if (self->fd >= 0) {
		release_tty(self->fd);
		self->fd = -1;
	}
	g_byte_array_set_size(self->out, 0);
	self->out_off = 0;
}

/* The tty is gone: close first, so handlers of "lost" see a closed serial. */
static void
serial_lost(DfotaSerial *self, const char *why)
{
	g_autoptr(GError) error = NULL;

	if (self->fd < 0)
		return;
	error = g_error_new(DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST, "Lost the modem's tty %s (%s)",
	                    self->path, why);
	g_debug("%s", error->message);
	dfota_serial_close(self);
	g_signal_emit(self, signals[SIGNAL_LOST], 0, error);
}

static gboolean
on_readable(gint fd, GIOCondition condition, gpointer user_data)
{
	DfotaSerial *self = DFOTA_SERIAL(user_data);
	g_autoptr(DfotaSerial) keep = g_object_ref(self);
	guint8 buf[READ_CHUNK];

	/* Drain what the kernel holds before acting on HUP: the last bytes before a loss
	 * may be the module's final words. */
	while (self->fd >= 0) {
		ssize_t n = read(self->fd, buf, sizeof(buf));
		if (n > 0) {
			g_autoptr(GBytes) bytes = g_bytes_new(buf, (gsize)n);
			g_signal_emit(self, signals[SIGNAL_DATA], 0, bytes);
			/* A short read emptied the tty: asking again would only return EAGAIN (a
			 * syscall per answer); later bytes make the fd readable again. A hang-up
			 * still reads on to EAGAIN or end of file. */
			if ((gsize)n < sizeof(buf) && !(condition & (G_IO_HUP | G_IO_ERR)))
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (condition & (G_IO_HUP | G_IO_ERR))
				serial_lost(self, "hang-up");
			break;
		}
		serial_lost(self, n == 0 ? "end of file" : g_strerror(errno));
		break;
	}
	return self->fd >= 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
on_writable(gint fd, GIOCondition condition, gpointer user_data)
{
	DfotaSerial *self = DFOTA_SERIAL(user_data);
	g_autoptr(DfotaSerial) keep = g_object_ref(self);

	while (self->fd >= 0 && self->out_off < self->out->len) {
		ssize_t n = write(self->fd, self->out->data + self->out_off,
		                  self->out->len - self->out_off);
		if (n > 0) {
			self->out_off += (gsize)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return G_SOURCE_CONTINUE;
		serial_lost(self, n == 0 ? "write returned 0" : g_strerror(errno));
		return G_SOURCE_REMOVE;
	}
	if (self->fd < 0)
		return G_SOURCE_REMOVE;
	g_byte_array_set_size(self->out, 0);
	self->out_off = 0;
	g_clear_pointer(&self->out_source, g_source_unref);
	g_signal_emit(self, signals[SIGNAL_DRAINED], 0);
	return G_SOURCE_REMOVE;
}

gboolean
dfota_serial_write(DfotaSerial *self, const void *data, gsize len, GError **error)
{
	g_return_val_if_fail(DFOTA_IS_SERIAL(self), FALSE);

	if (self->fd < 0) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST, "The tty %s is closed",
		            self->path);
		return FALSE;
	}
	if (len == 0)
		return TRUE;
	self->written += len;
	/* With nothing queued, hand the bytes to the kernel at once: a command should not wait a
	 * main-loop round for a writable fd it almost always has. Whatever the kernel does not
	 * take (or an error) is left to the writable source, so "drained" and any loss are still
	 * reported from a fresh stack, never from inside the caller. */
	if (self->out_source == NULL && self->out_off == self->out->len) {
		ssize_t n = write(self->fd, data, len);
		if (n > 0) {
			data = (const guint8 *)data + n;
			len -= (gsize)n;
			if (len == 0)
				return TRUE;
		}
	}
	g_byte_array_append(self->out, data, (guint)len);
	if (self->out_source == NULL) {
		self->out_source = g_unix_fd_source_new(self->fd, G_IO_OUT);
		g_source_set_callback(self->out_source, G_SOURCE_FUNC(on_writable), self, NULL);
		g_source_set_static_name(self->out_source, "dfota-serial-out");
		g_source_set_can_recurse(self->out_source, TRUE); /* see dfota_serial_open() */
		g_source_attach(self->out_source, self->context);
	}
	return TRUE;
}

guint64
dfota_serial_get_written(DfotaSerial *self)
{
	g_return_val_if_fail(DFOTA_IS_SERIAL(self), 0);
	return self->written;
}

gsize
dfota_serial_get_pending(DfotaSerial *self)
{
	g_return_val_if_fail(DFOTA_IS_SERIAL(self), 0);
	return self->out->len - self->out_off;
}

const char *
dfota_serial_get_path(DfotaSerial *self)
{
	return self->path;
}

guint
dfota_serial_get_baud(DfotaSerial *self)
{
	return self->baud;
}

gboolean
dfota_serial_get_rtscts(DfotaSerial *self)
{
	return self->rtscts;
}

static gboolean
configure(int fd, const char *path, speed_t speed, gboolean rtscts, GError **error)
{
	struct termios tio;

	if (tcgetattr(fd, &tio) < 0) {
		int err = errno;
		g_set_error(error, G_IO_ERROR,
		            err == ENOTTY ? G_IO_ERROR_INVALID_ARGUMENT
		                          : g_io_error_from_errno(err),
		            "%s is not a usable terminal: %s", path, g_strerror(err));
		return FALSE;
	}
	cfmakeraw(&tio);
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
	tio.c_cflag |= CS8 | CLOCAL | CREAD;
	if (rtscts)
		tio.c_cflag |= CRTSCTS;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (cfsetispeed(&tio, speed) < 0 || cfsetospeed(&tio, speed) < 0 ||
	    tcsetattr(fd, TCSANOW, &tio) < 0) {
		int err = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
		            "Cannot configure %s: %s", path, g_strerror(err));
		return FALSE;
	}
	/* Input is deliberately not flushed: bytes already queued may be URCs. */
	return TRUE;
}

DfotaSerial *
dfota_serial_open(const char *path, guint baud, gboolean rtscts, GError **error)
{
	g_autoptr(DfotaSerial) self = NULL;
	speed_t speed;
	int fd;

	g_return_val_if_fail(path != NULL, NULL);

	if (!baud_to_speed(baud, &speed)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "Cannot open %s: %u is not a supported baud rate", path, baud);
		return NULL;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "Cannot open %s: %s",
		            path, g_strerror(err));
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
			            "%s is in use by another process", path);
		else
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
			            "Cannot lock %s: %s", path, g_strerror(err));
		return NULL;
	}
	if (ioctl(fd, TIOCEXCL) < 0) {
		int err = errno;
		close(fd);
		g_set_error(error, G_IO_ERROR,
		            err == ENOTTY ? G_IO_ERROR_INVALID_ARGUMENT
		                          : g_io_error_from_errno(err),
		            "Cannot take %s exclusively: %s", path, g_strerror(err));
		return NULL;
	}
	if (!configure(fd, path, speed, rtscts, error)) {
		release_tty(fd);
		return NULL;
	}

	self = g_object_new(DFOTA_TYPE_SERIAL, NULL);
	self->path = g_strdup(path);
	self->baud = baud;
	self->rtscts = rtscts;
	self->fd = fd;
	self->context = g_main_context_ref_thread_default();
	self->in_source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(self->in_source, G_SOURCE_FUNC(on_readable), self, NULL);
	g_source_set_static_name(self->in_source, "dfota-serial-in");
	/* GLib (2.74) blocks a non-recursive fd source around each dispatch by taking its fd out
	 * of the poll set and putting it back, and each change wakes the context through its
	 * eventfd: two writes, a read and a spare poll round per line from the module. The daemon
	 * runs no nested main loop, so the source is never dispatched recursively anyway. */
	g_source_set_can_recurse(self->in_source, TRUE);
	g_source_attach(self->in_source, self->context);
	return g_steal_pointer(&self);
}

static void
dfota_serial_dispose(GObject *object)
{
	DfotaSerial *self = DFOTA_SERIAL(object);

	dfota_serial_close(self);
	G_OBJECT_CLASS(dfota_serial_parent_class)->dispose(object);
}

static void
dfota_serial_finalize(GObject *object)
{
	DfotaSerial *self = DFOTA_SERIAL(object);

	g_free(self->path);
	g_byte_array_unref(self->out);
	g_clear_pointer(&self->context, g_main_context_unref);
	G_OBJECT_CLASS(dfota_serial_parent_class)->finalize(object);
}

static void
dfota_serial_init(DfotaSerial *self)
{
	self->fd = -1;
	self->out = g_byte_array_new();
}

static void
dfota_serial_class_init(DfotaSerialClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = dfota_serial_dispose;
	object_class->finalize = dfota_serial_finalize;

	signals[SIGNAL_DATA] = g_signal_new("data", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
	signals[SIGNAL_DRAINED] =
	        g_signal_new("drained", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                     NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_LOST] = g_signal_new("lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
	                                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}
