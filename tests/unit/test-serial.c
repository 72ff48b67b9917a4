// SPDX-License-Identifier: LGPL-2.1-or-later
/* test-serial.c: DfotaSerial on a real pseudo-terminal. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

#include "dfota-error.h"
#include "dfota-serial.h"
#include "pty-module.h"

typedef struct {
	PtyModule *pty;
	GByteArray *received;
	guint drained;
	guint lost;
	GError *lost_error;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	f->pty = pty_module_new();
	f->received = g_byte_array_new();
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	pty_module_free(f->pty);
	g_byte_array_unref(f->received);
	g_clear_error(&f->lost_error);
}

static void
on_data(DfotaSerial *serial, GBytes *bytes, Fixture *f)
{
	gsize len;
	const guint8 *p = g_bytes_get_data(bytes, &len);

	g_byte_array_append(f->received, p, (guint)len);
}

static void
on_drained(DfotaSerial *serial, Fixture *f)
{
	f->drained++;
}

static void
on_lost(DfotaSerial *serial, GError *error, Fixture *f)
{
	f->lost++;
	g_clear_error(&f->lost_error);
	f->lost_error = g_error_copy(error);
}

static DfotaSerial *
open_and_connect(Fixture *f, const char *path, guint baud, gboolean rtscts)
{
	g_autoptr(GError) error = NULL;
	DfotaSerial *serial = dfota_serial_open(path, baud, rtscts, &error);

	g_assert_no_error(error);
	g_assert_nonnull(serial);
	g_signal_connect(serial, "data", G_CALLBACK(on_data), f);
	g_signal_connect(serial, "drained", G_CALLBACK(on_drained), f);
	g_signal_connect(serial, "lost", G_CALLBACK(on_lost), f);
	return serial;
}

static void
wait_received(Fixture *f, gsize n)
{
	pty_test_wait_count(&f->received->len, (guint)n, 2000);
}

static void
test_write_read(Fixture *f, gconstpointer data)
{
	g_autoptr(DfotaSerial) serial = open_and_connect(f, f->pty->slave_path, 115200, FALSE);
	g_autoptr(GError) error = NULL;

	g_assert_cmpstr(dfota_serial_get_path(serial), ==, f->pty->slave_path);
	g_assert_cmpuint(dfota_serial_get_baud(serial), ==, 115200);
	g_assert_false(dfota_serial_get_rtscts(serial));

	g_assert_true(dfota_serial_write(serial, "AT\r", 3, &error));
	g_assert_no_error(error);
	/* The fd was writable: the bytes went to the kernel at once, nothing queued, so no
	 * "drained" (which announces the end of queued output) is due. */
	g_assert_cmpuint(dfota_serial_get_pending(serial), ==, 0);
	pty_module_expect(f->pty, "AT", 2000);
	g_assert_cmpuint(f->drained, ==, 0);

	/* binary-safe in both directions: raw mode, no CR/LF translation, NULs kept */
	pty_module_write(f->pty, "\r\nOK\r\n\0\xff", 8);
	wait_received(f, 8);
	g_assert_cmpmem(f->received->data, f->received->len, "\r\nOK\r\n\0\xff", 8);
	g_assert_cmpuint(f->lost, ==, 0);
}

static void
test_termios(Fixture *f, gconstpointer data)
{
	g_autoptr(DfotaSerial) serial = open_and_connect(f, f->pty->slave_path, 921600, TRUE);
	struct termios tio;

	/* On Linux the termios ioctls on a pty master act on its slave. */
	g_assert_cmpint(tcgetattr(f->pty->master, &tio), ==, 0);
	g_assert_cmpuint(cfgetospeed(&tio), ==, B921600);
	g_assert_cmpuint(cfgetispeed(&tio), ==, B921600);
	g_assert_cmpuint(tio.c_cflag & CSIZE, ==, CS8);
	g_assert_cmpuint(tio.c_cflag & (PARENB | CSTOPB), ==, 0);
	g_assert_cmpuint(tio.c_cflag & (CLOCAL | CREAD), ==, CLOCAL | CREAD);
	g_assert_cmpuint(tio.c_cflag & CRTSCTS, ==, CRTSCTS);
	g_assert_cmpuint(tio.c_lflag & (ICANON | ECHO | ISIG), ==, 0);
	g_assert_cmpuint(tio.c_iflag & (IXON | IXOFF | ICRNL), ==, 0);
	g_assert_cmpuint(tio.c_oflag & OPOST, ==, 0);
	g_assert_cmpuint(tio.c_cc[VMIN], ==, 1);
	g_assert_cmpuint(tio.c_cc[VTIME], ==, 0);
	g_assert_true(dfota_serial_get_rtscts(serial));
	dfota_serial_close(serial);

	{
		g_autoptr(DfotaSerial) slow = open_and_connect(f, f->pty->slave_path, 9600, FALSE);
		g_assert_cmpint(tcgetattr(f->pty->master, &tio), ==, 0);
		g_assert_cmpuint(cfgetospeed(&tio), ==, B9600);
		g_assert_cmpuint(tio.c_cflag & CRTSCTS, ==, 0);
	}
}

static void
test_symlink_and_exclusive(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = g_dir_make_tmp("dfota-serial-XXXXXX", NULL);
	g_autofree char *link = g_build_filename(dir, "modem", NULL);
	g_autoptr(DfotaSerial) serial = NULL;
	g_autoptr(GError) error = NULL;
	DfotaSerial *second;

	g_assert_cmpint(symlink(f->pty->slave_path, link), ==, 0);
	serial = open_and_connect(f, link, 115200, FALSE);
	g_assert_cmpstr(dfota_serial_get_path(serial), ==, link);

	/* by the same path, by the real path: both refused while we hold it */
	second = dfota_serial_open(link, 115200, FALSE, &error);
	g_assert_null(second);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "in use by another process"));
	g_assert_nonnull(strstr(error->message, link));
	g_clear_error(&error);
	second = dfota_serial_open(f->pty->slave_path, 115200, FALSE, &error);
	g_assert_null(second);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_BUSY);
	g_clear_error(&error);

	/* works through the link */
	g_assert_true(dfota_serial_write(serial, "ATI\r", 4, NULL));
	pty_module_expect(f->pty, "ATI", 2000);

	/* after close, the port is free again and no "lost" was emitted */
	dfota_serial_close(serial);
	dfota_serial_close(serial);
	g_assert_cmpuint(f->lost, ==, 0);
	g_assert_false(dfota_serial_write(serial, "AT\r", 3, &error));
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
	g_clear_error(&error);
	second = dfota_serial_open(link, 115200, FALSE, &error);
	g_assert_no_error(error);
	g_object_unref(second);
	unlink(link);
	rmdir(dir);
}

static int
exclusive_flag(int observer)
{
	int excl = -1;

	g_assert_cmpint(ioctl(observer, TIOCGEXCL, &excl), ==, 0);
	return excl;
}

/* TIOCEXCL is the tty's, not the fd's: a daemon that leaves it set makes the next unprivileged
 * open of a tty someone still holds (a pty's master, a getty) fail with EBUSY. An fd opened
 * before the daemon's sees the flag come and go. */
static void
test_exclusive_released(Fixture *f, gconstpointer data)
{
	int observer = open(f->pty->slave_path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	DfotaSerial *serial;

	g_assert_cmpint(observer, >=, 0);
	g_assert_cmpint(exclusive_flag(observer), ==, 0);

	/* dfota_serial_close() */
	serial = open_and_connect(f, f->pty->slave_path, 115200, FALSE);
	g_assert_cmpint(exclusive_flag(observer), ==, 1);
	dfota_serial_close(serial);
	g_assert_cmpint(exclusive_flag(observer), ==, 0);
	g_object_unref(serial);

	/* the last reference (daemon shutdown, reopen after a loss) */
	serial = open_and_connect(f, f->pty->slave_path, 115200, FALSE);
	g_assert_cmpint(exclusive_flag(observer), ==, 1);
	g_object_unref(serial);
	g_assert_cmpint(exclusive_flag(observer), ==, 0);

	close(observer);
}

static void
test_open_errors(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("dfota-serial-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(dir, "not-a-tty", NULL);

	g_assert_null(dfota_serial_open("/dev/does-not-exist-dfota", 115200, FALSE, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "/dev/does-not-exist-dfota"));
	g_clear_error(&error);

	g_assert_null(dfota_serial_open(f->pty->slave_path, 12345, FALSE, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "12345"));
	g_clear_error(&error);

	g_assert_true(g_file_set_contents(file, "", 0, NULL));
	g_assert_null(dfota_serial_open(file, 115200, FALSE, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	unlink(file);
	rmdir(dir);
}

static void
on_raw_count(PtyModule *pty, gpointer data)
{
}

static void
test_large_write(Fixture *f, gconstpointer data)
{
	g_autoptr(DfotaSerial) serial = open_and_connect(f, f->pty->slave_path, 115200, FALSE);
	gsize size = 256 * 1024; /* far more than a pty buffers */
	g_autofree guint8 *buf = g_malloc(size);

	for (gsize i = 0; i < size; i++)
		buf[i] = (guint8)(i * 7);
	f->pty->raw_expected = size;
	f->pty->on_raw = on_raw_count;
	g_assert_true(dfota_serial_write(serial, buf, size / 2, NULL));
	g_assert_true(dfota_serial_write(serial, buf + size / 2, size - size / 2, NULL));
	/* what the kernel did not take at once is queued, not written from inside the call */
	g_assert_cmpuint(dfota_serial_get_pending(serial), >, 0);
	g_assert_cmpuint(dfota_serial_get_pending(serial), <=, size);
	pty_test_wait_count(&f->drained, 1, 5000);
	pty_test_wait_count(&f->pty->raw->len, (guint)size, 5000);
	g_assert_cmpmem(f->pty->raw->data, f->pty->raw->len, buf, size);
	g_assert_cmpuint(dfota_serial_get_pending(serial), ==, 0);
	g_assert_cmpuint(f->drained, ==, 1);
}

static void
test_lost(Fixture *f, gconstpointer data)
{
	g_autoptr(DfotaSerial) serial = open_and_connect(f, f->pty->slave_path, 115200, FALSE);
	g_autoptr(GError) error = NULL;

	/* the module speaks, then the cable is pulled */
	pty_module_say(f->pty, "RDY\r\n");
	wait_received(f, 5);
	pty_module_hangup(f->pty);
	pty_test_wait_count(&f->lost, 1, 2000);
	g_assert_error(f->lost_error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
	g_assert_nonnull(strstr(f->lost_error->message, f->pty->slave_path));
	g_assert_false(dfota_serial_write(serial, "AT\r", 3, &error));
	g_assert_error(error, DFOTA_ERROR, DFOTA_ERROR_MODEM_LOST);
	/* once only, however long we keep running */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_assert_cmpuint(f->lost, ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/serial/write-read", test_write_read);
	ADD("/serial/termios", test_termios);
	ADD("/serial/symlink-and-exclusive", test_symlink_and_exclusive);
	ADD("/serial/exclusive-released", test_exclusive_released);
	ADD("/serial/open-errors", test_open_errors);
	ADD("/serial/large-write", test_large_write);
	ADD("/serial/lost", test_lost);
#undef ADD
	return g_test_run();
}
