/* dfota-fdio.c: reading and writing caller-passed fds without blocking the main loop. */
#include "dfota-fdio.h"

#include <fcntl.h>
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

typedef struct {
	GInputStream *stream;
	GByteArray *data;
	guint64 max_size;
	guint64 total;
	DfotaFdioProgressFunc progress;
	gpointer progress_data;
} ReadAll;

static void
read_all_free(ReadAll *r)
{
	g_object_unref(r->stream);
	g_byte_array_unref(r->data);
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

	if (!chunk) {
		g_task_return_error(task, caller_fd_error(error, "Reading"));
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
	if (r->progress && r->total)
		r->progress(MIN(r->data->len, r->total), r->total, r->progress_data);
	read_all_next(g_steal_pointer(&task));
}

static void
read_all_next(GTask *task)
{
	ReadAll *r = g_task_get_task_data(task);

	g_input_stream_read_bytes_async(r->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
	                                g_task_get_cancellable(task), read_all_chunk_done, task);
}

void
dfota_fdio_read_all(int fd, guint64 max_size, guint64 total, DfotaFdioProgressFunc progress,
                    gpointer progress_data, GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	ReadAll *r = g_new0(ReadAll, 1);

	g_task_set_source_tag(task, dfota_fdio_read_all);
	r->stream = g_unix_input_stream_new(fd, TRUE);
	/* A regular file's size is known: one allocation, not a doubling series that briefly
	 * holds one and a half copies. */
	r->data = total > 0 && total <= max_size ? g_byte_array_sized_new((guint)total)
	                                         : g_byte_array_new();
	r->max_size = max_size;
	r->total = total;
	r->progress = progress;
	r->progress_data = progress_data;
	g_task_set_task_data(task, r, (GDestroyNotify)read_all_free);
	read_all_next(task);
}

GBytes *
dfota_fdio_read_all_finish(GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
write_all_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error) ||
	    !g_output_stream_close(G_OUTPUT_STREAM(source), NULL, &error))
		g_task_return_error(task, caller_fd_error(error, "Writing to"));
	else
		g_task_return_boolean(task, TRUE);
}

void
dfota_fdio_write_all(int fd, GBytes *data, GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	GOutputStream *out = g_unix_output_stream_new(fd, TRUE);
	gsize len;
	const void *buf = g_bytes_get_data(data, &len);

	g_task_set_task_data(task, out, g_object_unref);
	/* The bytes stay alive through the closure below. */
	g_object_set_data_full(G_OBJECT(task), "data", g_bytes_ref(data),
	                       (GDestroyNotify)g_bytes_unref);
	g_output_stream_write_all_async(out, buf, len, G_PRIORITY_DEFAULT, cancellable,
	                                write_all_done, task);
}

gboolean
dfota_fdio_write_all_finish(GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}
