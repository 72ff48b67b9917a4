// SPDX-License-Identifier: LGPL-2.1-or-later
/* dfota-fdio.c: reading and writing caller-passed fds without blocking the main loop. */
#include "dfota-fdio.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include "dfota-error.h"

#define READ_CHUNK 65536

static gboolean
check_fd(int fd, int unwanted_mode, const char *what, guint64 *size, GError **error)
{
	struct stat st;
	int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	if (fd < 0 || flags < 0 || fstat(fd, &st) != 0) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		            "The passed file descriptor is not valid");
		return FALSE;
	}
	/* An O_PATH fd reports O_RDONLY as its access mode, yet can neither be read nor
	 * written. */
	if (flags & O_PATH) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		            "The passed file descriptor was opened with O_PATH and cannot be used "
		            "for %s; open the file for %s",
		            what, what);
		return FALSE;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		g_set_error(
		        error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		        "The passed file descriptor is a %s, not a regular file, pipe or socket",
		        S_ISDIR(st.st_mode)   ? "directory"
		        : S_ISCHR(st.st_mode) ? "character device"
		        : S_ISBLK(st.st_mode) ? "block device"
		                              : "special file");
		return FALSE;
	}
	if ((flags & O_ACCMODE) == unwanted_mode) {
		g_set_error(error, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		            "The passed file descriptor is not open for %s", what);
		return FALSE;
	}
	if (size)
		*size = S_ISREG(st.st_mode) ? (guint64)st.st_size : 0;
	return TRUE;
}

gboolean
dfota_fdio_check_readable(int fd, guint64 *size, GError **error)
{
	return check_fd(fd, O_WRONLY, "reading", size, error);
}

gboolean
dfota_fdio_check_writable(int fd, GError **error)
{
	return check_fd(fd, O_RDONLY, "writing", NULL, error);
}

/* A failure on the caller's fd is the caller's: InvalidArgument, never taken for a lost modem.
 * Cancellation stays what it is. */
static GError *
caller_fd_error(GError *error, const char *doing)
{
	GError *mapped;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return error;
	mapped = g_error_new(DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
	                     "%s the passed file descriptor failed: %s", doing, error->message);
	g_error_free(error);
	return mapped;
}

/* The stall bound: an operation on the caller's fd that makes no progress for stall_s seconds
 * is cancelled through an inner cancellable, which the caller's own one also fires. */
typedef struct {
	GCancellable *inner;
	GCancellable *outer;
	gulong outer_handler;
	GSource *timer;
	guint stall_s;
	gboolean stalled;
} Stall;

static void
on_outer_cancelled(GCancellable *outer, gpointer data)
{
	g_cancellable_cancel(G_CANCELLABLE(data));
}

static void
stall_init(Stall *st, GCancellable *outer, guint stall_s)
{
	st->inner = g_cancellable_new();
	st->stall_s = stall_s;
	if (outer) {
		st->outer = g_object_ref(outer);
		st->outer_handler = g_cancellable_connect(outer, G_CALLBACK(on_outer_cancelled),
		                                          g_object_ref(st->inner), g_object_unref);
	}
}

static void
stall_disarm(Stall *st)
{
	if (st->timer) {
		g_source_destroy(st->timer);
		g_clear_pointer(&st->timer, g_source_unref);
	}
}

static gboolean
on_stall(gpointer data)
{
	Stall *st = data;

	g_clear_pointer(&st->timer, g_source_unref);
	st->stalled = TRUE;
	g_cancellable_cancel(st->inner);
	return G_SOURCE_REMOVE;
}

/* Before each operation on the fd: the bound counts from the last progress. */
static void
stall_arm(Stall *st)
{
	stall_disarm(st);
	if (st->stall_s == 0)
		return;
	st->timer = g_timeout_source_new_seconds(st->stall_s);
	g_source_set_callback(st->timer, on_stall, st, NULL);
	g_source_set_static_name(st->timer, "dfota-fdio-stall");
	g_source_attach(st->timer, g_main_context_get_thread_default());
}

static void
stall_clear(Stall *st)
{
	stall_disarm(st);
	if (st->outer) {
		g_cancellable_disconnect(st->outer, st->outer_handler);
		g_clear_object(&st->outer);
	}
	g_clear_object(&st->inner);
}

/* The error of an operation that failed: a stall is the caller's fault like any other failure
 * of its fd; a cancellation by the caller's own cancellable stays one. */
static GError *
stall_error(Stall *st, GError *error, const char *doing, const char *what)
{
	if (st->stalled && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_error_free(error);
		return g_error_new(DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
		                   "The passed file descriptor %s for %u s (fetch-timeout): "
		                   "%s it was given up",
		                   what, st->stall_s, doing);
	}
	return caller_fd_error(error, doing);
}

/* A pipe or socket the caller passed may be in blocking mode: GIO's pollable streams then
 * could block the main loop in write() or read(). Regular files never block. */
static void
make_nonblocking(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
		g_unix_set_fd_nonblocking(fd, TRUE, NULL);
}

typedef struct {
	GInputStream *stream;
	GByteArray *data;
	GChecksum *sha256; /* of the data so far: one chunk at a time, never all at the end */
	guint64 max_size;
	guint64 total;
	DfotaFdioProgressFunc progress;
	gpointer progress_data;
	Stall stall;
} ReadAll;

static void
read_all_free(ReadAll *r)
{
	stall_clear(&r->stall);
	g_object_unref(r->stream);
	g_byte_array_unref(r->data);
	g_checksum_free(r->sha256);
	g_free(r);
}

static void read_all_next(GTask *task);

static void
read_all_chunk_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	ReadAll *r = g_task_get_task_data(task);
	GError *error = NULL;
	g_autoptr(GBytes) chunk =
	        g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);

	stall_disarm(&r->stall);
	if (!chunk) {
		g_task_return_error(task, stall_error(&r->stall, error, "Reading", "gave no data"));
		return;
	}
	if (g_bytes_get_size(chunk) == 0) {
		if (r->data->len == 0) {
			g_task_return_new_error(task, DFOTA_ERROR, DFOTA_ERROR_INVALID_ARGUMENT,
			                        "The passed file descriptor gave no data");
			return;
		}
		g_task_return_pointer(task, g_byte_array_free_to_bytes(g_steal_pointer(&r->data)),
		                      (GDestroyNotify)g_bytes_unref);
		r->data = g_byte_array_new();
		return;
	}
	if (r->data->len + g_bytes_get_size(chunk) > r->max_size) {
		g_task_return_new_error(
		        task, DFOTA_MODULE_ERROR, DFOTA_MODULE_ERROR_PACKAGE_TOO_LARGE,
		        "The data is larger than the limit of %" G_GUINT64_FORMAT " bytes",
		        r->max_size);
		return;
	}
	g_byte_array_append(r->data, g_bytes_get_data(chunk, NULL), g_bytes_get_size(chunk));
	g_checksum_update(r->sha256, g_bytes_get_data(chunk, NULL),
	                  (gssize)g_bytes_get_size(chunk));
	if (r->progress && r->total)
		r->progress(MIN(r->data->len, r->total), r->total, r->progress_data);
	read_all_next(g_steal_pointer(&task));
}

static void
read_all_next(GTask *task)
{
	ReadAll *r = g_task_get_task_data(task);

	stall_arm(&r->stall);
	g_input_stream_read_bytes_async(r->stream, READ_CHUNK, G_PRIORITY_DEFAULT, r->stall.inner,
	                                read_all_chunk_done, task);
}

void
dfota_fdio_read_all(int fd, guint64 max_size, guint64 total, guint stall_s,
                    DfotaFdioProgressFunc progress, gpointer progress_data,
                    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	ReadAll *r = g_new0(ReadAll, 1);

	g_task_set_source_tag(task, dfota_fdio_read_all);
	make_nonblocking(fd);
	r->stream = g_unix_input_stream_new(fd, TRUE);
	stall_init(&r->stall, cancellable, stall_s);
	/* A regular file's size is known: one allocation, not a doubling series that briefly
	 * holds one and a half copies. */
	r->data = total > 0 && total <= max_size ? g_byte_array_sized_new((guint)total)
	                                         : g_byte_array_new();
	r->sha256 = g_checksum_new(G_CHECKSUM_SHA256);
	r->max_size = max_size;
	r->total = total;
	r->progress = progress;
	r->progress_data = progress_data;
	g_task_set_task_data(task, r, (GDestroyNotify)read_all_free);
	read_all_next(task);
}

GBytes *
dfota_fdio_read_all_finish(GAsyncResult *result, char **sha256, GError **error)
{
	GBytes *bytes = g_task_propagate_pointer(G_TASK(result), error);

	if (sha256) {
		ReadAll *r = g_task_get_task_data(G_TASK(result));

		*sha256 = bytes ? g_strdup(g_checksum_get_string(r->sha256)) : NULL;
	}
	return bytes;
}

typedef struct {
	GOutputStream *stream;
	GBytes *data;
	gsize done;
	Stall stall;
} WriteAll;

static void
write_all_free(WriteAll *w)
{
	stall_clear(&w->stall);
	g_object_unref(w->stream);
	g_bytes_unref(w->data);
	g_free(w);
}

static void write_all_next(GTask *task);

static void
write_all_chunk_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	WriteAll *w = g_task_get_task_data(task);
	GError *error = NULL;
	gssize n = g_output_stream_write_bytes_finish(G_OUTPUT_STREAM(source), res, &error);

	stall_disarm(&w->stall);
	if (n < 0) {
		g_task_return_error(task,
		                    stall_error(&w->stall, error, "Writing to", "took no data"));
		return;
	}
	w->done += (gsize)n;
	if (w->done < g_bytes_get_size(w->data)) {
		write_all_next(g_steal_pointer(&task));
		return;
	}
	if (!g_output_stream_close(w->stream, NULL, &error))
		g_task_return_error(task, caller_fd_error(error, "Writing to"));
	else
		g_task_return_boolean(task, TRUE);
}

/* One chunk at a time, so that the stall bound restarts with every bit of progress. */
static void
write_all_next(GTask *task)
{
	WriteAll *w = g_task_get_task_data(task);
	gsize len = g_bytes_get_size(w->data);
	g_autoptr(GBytes) chunk =
	        g_bytes_new_from_bytes(w->data, w->done, MIN(len - w->done, (gsize)READ_CHUNK));

	stall_arm(&w->stall);
	g_output_stream_write_bytes_async(w->stream, chunk, G_PRIORITY_DEFAULT, w->stall.inner,
	                                  write_all_chunk_done, task);
}

void
dfota_fdio_write_all(int fd, GBytes *data, guint stall_s, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	WriteAll *w = g_new0(WriteAll, 1);

	g_task_set_source_tag(task, dfota_fdio_write_all);
	make_nonblocking(fd);
	w->stream = g_unix_output_stream_new(fd, TRUE);
	w->data = g_bytes_ref(data);
	stall_init(&w->stall, cancellable, stall_s);
	g_task_set_task_data(task, w, (GDestroyNotify)write_all_free);
	if (g_bytes_get_size(data) == 0) {
		GError *error = NULL;
		if (!g_output_stream_close(w->stream, NULL, &error))
			g_task_return_error(task, caller_fd_error(error, "Writing to"));
		else
			g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	write_all_next(task);
}

gboolean
dfota_fdio_write_all_finish(GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}
